import Logging
import PostgresNIO

/// What a key command works with: one database connection and the configured sealer.
struct PostgresConnectionContext {
    let connection: PostgresConnection
    let sealer: FieldSealer
    let logger: Logger
}

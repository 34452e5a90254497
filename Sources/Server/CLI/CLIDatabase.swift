import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// What the account and client commands work with: a running connection pool on the configured
/// (or embedded) database, the resource store and the identity store.
struct CLIDatabase {
    let store: PostgresResourceStore
    let identities: IdentityStore
    let logger: Logger

    static func run(_ options: GlobalOptions, _ body: @Sendable (CLIDatabase) async throws -> Void) async throws {
        let settings = try await options.settings()
        let logger = GlobalOptions.toolLogger(label: "medrec.cli", settings: settings)
        let (endpoint, cluster) = try await DatabaseService.resolve(settings: settings, logger: logger, migrate: true)
        do {
            let sealer = try await ServeCommand.makeSealer(settings: settings, endpoint: endpoint, logger: logger)
            let client = PostgresClient(configuration: endpoint.clientConfiguration(), backgroundLogger: logger)
            let database = CLIDatabase(
                store: PostgresResourceStore(client: client, logger: logger, sealer: sealer),
                identities: IdentityStore(client: client, logger: logger, keyring: sealer.keyring), logger: logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                defer { group.cancelAll() }
                try await body(database)
            }
        } catch {
            try? await cluster?.stop()
            throw error
        }
        try await cluster?.stop()
    }
}

/// Why the database could not be found, started, reached or migrated.
///
/// The message is one line an operator can act on. It never quotes row data: server messages
/// attached to it come from DDL and connection handling, not from stored resources.
public struct DatabaseError: Error, Sendable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Base: String, Sendable, Hashable {
            case binariesNotFound, clusterStartFailed, commandFailed, unreachable
            case invalidURL, migrationFailed, migrationChanged, unsupportedUser
        }
        fileprivate let base: Base
        /// No `initdb`/`pg_ctl` to run an embedded cluster with.
        public static let binariesNotFound = Code(base: .binariesNotFound)
        /// `initdb` or `pg_ctl start` failed, or the cluster directory is unusable.
        public static let clusterStartFailed = Code(base: .clusterStartFailed)
        /// Another PostgreSQL tool exited with an error.
        public static let commandFailed = Code(base: .commandFailed)
        /// No connection could be made to the database in time.
        public static let unreachable = Code(base: .unreachable)
        /// `MEDREC_DATABASE_URL` (or a test URL) is not a `postgres://` URL.
        public static let invalidURL = Code(base: .invalidURL)
        /// A migration's SQL failed; nothing of it was kept.
        public static let migrationFailed = Code(base: .migrationFailed)
        /// An applied migration's text no longer matches what the binary carries.
        public static let migrationChanged = Code(base: .migrationChanged)
        /// Running as root without a `postgres` OS user to run the cluster as.
        public static let unsupportedUser = Code(base: .unsupportedUser)
        public var description: String { base.rawValue }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        // One line, whatever a tool printed.
        self.message = message.split(whereSeparator: \.isNewline).joined(separator: " | ")
    }

    public var description: String { message }
}

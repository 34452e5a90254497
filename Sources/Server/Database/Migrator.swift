import Logging
import PostgresNIO

/// Brings a database's schema up to date with the migrations built into medrec.
///
/// Each migration is applied exactly once, in version order, in its own transaction, and recorded
/// in `schema_migrations` with a SHA-256 of its text. The whole run holds a session advisory lock,
/// so servers starting together wait for each other instead of racing. Editing an applied
/// migration is refused: write a new one.
///
/// Because every migration runs in a transaction, statements that cannot (`CREATE INDEX
/// CONCURRENTLY`, `VACUUM`) do not belong in migration files.
public struct Migrator: Sendable {
    public let migrations: [Migration]

    /// Key of the advisory lock (per database): "medrecM1" in ASCII.
    static let lockKey: Int64 = 0x6D65_6472_6563_4D31

    public init(migrations: [Migration] = EmbeddedMigrations.all) {
        self.migrations = migrations.sorted { $0.version < $1.version }
    }

    /// Applies the pending migrations through a dedicated connection and returns those this
    /// call applied (empty when the schema was current).
    @discardableResult
    public func migrate(_ endpoint: DatabaseEndpoint, logger: Logger) async throws -> [Migration] {
        try await endpoint.withConnection(logger: logger) { connection in
            try await migrate(on: connection, logger: logger)
        }
    }

    /// Applies the pending migrations on `connection`, which must not be in a transaction.
    @discardableResult
    public func migrate(on connection: PostgresConnection, logger: Logger) async throws -> [Migration] {
        try await connection.rows("SELECT pg_advisory_lock(\(Self.lockKey))", logger: logger)
        do {
            let applied = try await applyPending(on: connection, logger: logger)
            try await connection.rows("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
            return applied
        } catch {
            // Closing the session releases the lock too; unlock anyway for callers that keep it.
            _ = try? await connection.rows("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
            throw error
        }
    }

    private func applyPending(on connection: PostgresConnection, logger: Logger) async throws -> [Migration] {
        try await connection.rows(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY,
                name text NOT NULL,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """, logger: logger)

        var recorded: [Int: (name: String, checksum: String)] = [:]
        let rows = try await connection.rows("SELECT version, name, checksum FROM schema_migrations", logger: logger)
        for try await (version, name, checksum) in rows.decode((Int, String, String).self) {
            recorded[version] = (name, checksum)
        }

        let known = Set(migrations.map(\.version))
        for version in recorded.keys.sorted() where !known.contains(version) {
            logger.warning(
                "the database has a migration this medrec does not know; it was probably migrated by a newer version",
                metadata: ["version": "\(version)"])
        }

        var applied: [Migration] = []
        for migration in migrations {
            let checksum = try await Self.checksum(of: migration, on: connection, logger: logger)
            if let existing = recorded[migration.version] {
                guard existing.checksum == checksum else {
                    throw DatabaseError(
                        .migrationChanged,
                        "migration \(migration.identifier) was changed after it was applied to this database "
                            + "(checksum differs): restore its original text and put the change in a new migration")
                }
                continue
            }
            try await apply(migration, checksum: checksum, on: connection, logger: logger)
            applied.append(migration)
        }
        return applied
    }

    private func apply(_ migration: Migration, checksum: String, on connection: PostgresConnection, logger: Logger)
        async throws
    {
        let statements = SQLStatementSplitter.statements(in: migration.sql)
        var failedLine = 0
        do {
            try await connection.inTransaction(logger: logger) { connection in
                for statement in statements {
                    failedLine = statement.line
                    try await connection.rows(PostgresQuery(unsafeSQL: statement.text), logger: logger)
                }
                failedLine = 0
                try await connection.rows(
                    """
                    INSERT INTO schema_migrations (version, name, checksum)
                    VALUES (\(migration.version), \(migration.name), \(checksum))
                    """, logger: logger)
            }
        } catch {
            let place = failedLine > 0 ? " at line \(failedLine)" : ""
            throw DatabaseError(
                .migrationFailed,
                "migration \(migration.identifier) failed\(place): \(DatabaseError.reason(for: error)); "
                    + "none of it was applied")
        }
        logger.info("applied migration", metadata: ["migration": "\(migration.identifier)"])
    }

    /// SHA-256 of the migration text, computed by the server (no crypto dependency needed here).
    private static func checksum(of migration: Migration, on connection: PostgresConnection, logger: Logger)
        async throws -> String
    {
        let rows = try await connection.rows(
            "SELECT encode(sha256(convert_to(\(migration.sql), 'UTF8')), 'hex')", logger: logger)
        for try await checksum in rows.decode(String.self) { return checksum }
        throw DatabaseError(.migrationFailed, "could not compute the checksum of migration \(migration.identifier)")
    }
}

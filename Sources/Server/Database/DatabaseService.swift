import Foundation
import Logging

/// Chooses the database a medrec process uses: the configured database URL (`MEDREC_DATABASE_URL`,
/// `medrec.databaseUrl`, `--database-url`) when set, otherwise the embedded cluster in the data directory.
public enum DatabaseService {
    /// The environment variable naming an external database (`postgres://user:pass@host:port/db`).
    public static let urlEnvironmentKey = "MEDREC_DATABASE_URL"

    /// Resolves, checks and (by default) migrates the database.
    ///
    /// - Returns: the endpoint, and the embedded cluster when one was started (nil for an external
    ///   database). Run the cluster as the first service of the `ServiceGroup` so it stops last;
    ///   if start-up fails before that, call its `stop()`.
    /// - Throws: `DatabaseError` with a one-line message: binaries missing, database unreachable
    ///   (within a few seconds), a migration failing. The embedded cluster is stopped again
    ///   when a later step fails.
    public static func resolve(
        settings: ServerSettings, logger: Logger, migrate: Bool = true
    ) async throws -> (DatabaseEndpoint, EmbeddedPostgres?) {
        var options = EmbeddedPostgres.Options()
        options.binariesDirectory = settings.postgresBinDirectory
        return try await resolve(
            databaseURL: settings.databaseURL, dataDirectory: settings.dataDirectory, options: options, logger: logger,
            migrate: migrate)
    }

    /// `resolve(settings:…)` with the database URL from `environment` alone.
    public static func resolve(
        dataDirectory: String,
        logger: Logger,
        migrate: Bool = true,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> (DatabaseEndpoint, EmbeddedPostgres?) {
        try await resolve(
            databaseURL: environment[urlEnvironmentKey], dataDirectory: dataDirectory, options: EmbeddedPostgres.Options(),
            logger: logger, migrate: migrate)
    }

    private static func resolve(
        databaseURL: String?, dataDirectory: String, options: EmbeddedPostgres.Options, logger: Logger, migrate: Bool
    ) async throws -> (DatabaseEndpoint, EmbeddedPostgres?) {
        if let url = databaseURL, !url.isEmpty {
            let endpoint = try DatabaseEndpoint(url: url)
            try await endpoint.checkReachable(logger: logger)
            logger.info("using the configured database", metadata: ["database": "\(endpoint.url)"])
            if migrate { try await Migrator().migrate(endpoint, logger: logger) }
            return (endpoint, nil)
        }
        let cluster = EmbeddedPostgres(dataDirectory: dataDirectory, options: options, logger: logger)
        let endpoint = try await cluster.start()
        do {
            try await endpoint.checkReachable(logger: logger)
            if migrate { try await Migrator().migrate(endpoint, logger: logger) }
        } catch {
            try? await cluster.stop()
            throw error
        }
        logger.info("using the embedded database", metadata: ["database": "\(endpoint.url)"])
        return (endpoint, cluster)
    }
}

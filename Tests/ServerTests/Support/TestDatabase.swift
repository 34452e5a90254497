import Foundation
import Logging
import PostgresNIO
import Synchronization
@testable import Server

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Real PostgreSQL for tests: `MEDREC_TEST_DATABASE_URL` when set (its user needs CREATEDB),
/// otherwise one throwaway embedded cluster per test process, started on first use in a temporary
/// directory and stopped (and deleted) when the process exits.
enum TestDatabase {
    static let urlEnvironmentKey = "MEDREC_TEST_DATABASE_URL"

    static var logger: Logger {
        var logger = Logger(label: "medrec.tests.database")
        logger.logLevel = .warning
        return logger
    }

    /// A new, empty database with the migrations applied: tests do not see each other's rows.
    static func fresh(migrated: Bool = true) async throws -> DatabaseEndpoint {
        let server = try await Server.shared.endpoint()
        let name = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)
        try await server.withConnection(logger: logger) { connection in
            _ = try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
        }
        let endpoint = server.database(String(name))
        if migrated { try await Migrator().migrate(endpoint, logger: logger) }
        return endpoint
    }

    /// The test server's maintenance database (`postgres`), for tests that manage databases.
    static func serverEndpoint() async throws -> DatabaseEndpoint {
        try await Server.shared.endpoint()
    }

    /// Starts the shared cluster once, however many tests ask at the same time.
    private actor Server {
        static let shared = Server()
        private var started: Task<DatabaseEndpoint, any Error>?

        func endpoint() async throws -> DatabaseEndpoint {
            if let started { return try await started.value }
            let task = Task { try await Self.start() }
            started = task
            return try await task.value
        }

        private static func start() async throws -> DatabaseEndpoint {
            if let url = ProcessInfo.processInfo.environment[TestDatabase.urlEnvironmentKey], !url.isEmpty {
                return try DatabaseEndpoint(url: url).database("postgres")
            }
            let directory = try TemporaryDirectory.make(prefix: "medrec-test-cluster")
            clusterDirectory.withLock { $0 = directory }
            atexit {
                guard let directory = TestDatabase.clusterDirectory.withLock({ $0 }) else { return }
                EmbeddedPostgres.stopImmediatelyBlocking(dataDirectory: directory)
                try? FileManager.default.removeItem(atPath: directory)
            }
            var options = EmbeddedPostgres.Options()
            options.durable = false
            options.databaseName = "postgres"
            // Every suite runs in parallel against this one cluster, each test with its own pools;
            // a small buffer cache keeps the throwaway cluster light. Measured on a full run: about
            // 160 test apps alive at once, each holding its bulk worker's, audit writer's and
            // requests' connections, peaked at 378 (CI once hit 400: "too many clients").
            options.settings["max_connections"] = "1000"
            options.settings["shared_buffers"] = "'128MB'"
            let cluster = EmbeddedPostgres(dataDirectory: directory, options: options, logger: TestDatabase.logger)
            var endpoint = try await cluster.start()
            // The whole suite runs at once on a 2-core machine: a connect can wait behind a burst
            // of test set-ups for longer than a server's 3 s (seen once: a spurious failure).
            endpoint.connectTimeout = .seconds(20)
            return endpoint
        }
    }

    /// Read by the `atexit` handler, which cannot capture context.
    fileprivate static let clusterDirectory = Mutex<String?>(nil)
}

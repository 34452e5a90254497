import ArgumentParser
import Foundation
import Logging

/// `medrec migrate`: applies pending schema migrations without starting the server, e.g. as
/// a deployment step before new servers roll out.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending schema migrations to the database (MEDREC_DATABASE_URL, else the embedded one)."
    )

    @Option(name: .customLong("data-dir"), help: "Data directory holding the embedded database.")
    var dataDirectory = "./.medrec"

    func run() async throws {
        var logger = Logger(label: "medrec.migrate") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .warning
        let (endpoint, cluster) = try await DatabaseService.resolve(
            dataDirectory: dataDirectory, logger: logger, migrate: false)
        do {
            let applied = try await Migrator().migrate(endpoint, logger: logger)
            if applied.isEmpty {
                print("schema is up to date (\(EmbeddedMigrations.all.count) migrations)")
            } else {
                for migration in applied { print("applied \(migration.identifier)") }
            }
        } catch {
            try? await cluster?.stop()
            throw error
        }
        try await cluster?.stop()
    }
}

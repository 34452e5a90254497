import ArgumentParser
import Foundation
import Logging

/// `medrec migrate`: applies pending schema migrations without starting the server, e.g. as
/// a deployment step before new servers roll out.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending schema migrations to the database (the configured database URL, else the embedded one)."
    )

    @OptionGroup var options: GlobalOptions

    func run() async throws {
        let settings = try await options.settings()
        let logger = GlobalOptions.toolLogger(label: "medrec.migrate", settings: settings)
        let (endpoint, cluster) = try await DatabaseService.resolve(settings: settings, logger: logger, migrate: false)
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

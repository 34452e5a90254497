import ArgumentParser
import Foundation
import Logging

/// `medrec keys`: field-encryption key operations. See docs/security.md for the runbook.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Field-encryption keys: status, add a new active key, re-seal rows under it.",
        subcommands: [Status.self, Add.self, Rotate.self]
    )

    /// Runs `body` with a connection to the database in use and the configured sealer.
    static func withDatabase(
        _ options: GlobalOptions, _ body: (PostgresConnectionContext) async throws -> Void
    ) async throws {
        let settings = try await options.settings()
        let logger = GlobalOptions.toolLogger(label: "medrec.keys", settings: settings)
        let (endpoint, cluster) = try await DatabaseService.resolve(settings: settings, logger: logger)
        do {
            let sealer = try await ServeCommand.makeSealer(settings: settings, endpoint: endpoint, logger: logger)
            try await endpoint.withConnection(logger: logger) { connection in
                try await body(PostgresConnectionContext(connection: connection, sealer: sealer, logger: logger))
            }
        } catch {
            try? await cluster?.stop()
            throw error
        }
        try await cluster?.stop()
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show how many rows each key seals.")
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            try await KeysCommand.withDatabase(options) { context in
                let rotator = KeyRotator(sealer: context.sealer, logger: context.logger)
                print("active key: \(context.sealer.keyring.activeKeyID); keys in the ring: \(context.sealer.keyring.keyIDs.joined(separator: ", "))")
                for (table, keyID, rows) in try await rotator.status(on: context.connection) {
                    let note = context.sealer.keyring.keyIDs.contains(keyID) ? "" : "  (NOT IN THE RING: these rows cannot be read)"
                    print("\(table)\t\(keyID)\t\(rows)\(note)")
                }
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a new random key to the key file and make it active (restart servers afterwards).")
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            let settings = try await options.settings()
            if settings.encryption.keys != nil {
                throw ValidationError(
                    "keys come from MEDREC_ENCRYPTION_KEYS (medrec.encryption.keys): append a new id:base64 key there (openssl rand -base64 32), restart, then run `medrec keys rotate`")
            }
            let path = settings.encryption.keyFile
                ?? URL(fileURLWithPath: settings.dataDirectory).appendingPathComponent("encryption-keys.json").path
            let id = try Keyring.addKey(toKeyFile: URL(fileURLWithPath: path))
            print("added key \(id) to \(path) as the active key; restart servers, then run `medrec keys rotate`")
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-seal every row under the active key, in batches, without blocking reads or writes; resumable.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Rows per transaction.") var batchSize = 200

        func run() async throws {
            try await KeysCommand.withDatabase(options) { context in
                var rotator = KeyRotator(sealer: context.sealer, logger: context.logger)
                rotator.batchSize = max(1, batchSize)
                let count = try await rotator.reseal(on: context.connection) { done in
                    FileHandle.standardError.write(Data("re-sealed \(done) rows\n".utf8))
                }
                print("re-sealed \(count) rows under key \(context.sealer.keyring.activeKeyID); none left under other keys")
            }
        }
    }
}

import ArgumentParser
import Foundation
import Hummingbird
import Logging
import PostgresNIO

/// `medrec serve`: the FHIR and platform APIs. With no configuration it runs its own
/// PostgreSQL cluster in the data directory.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the server (embedded PostgreSQL unless MEDREC_DATABASE_URL is set)."
    )

    @Option(help: "Address to listen on (default 127.0.0.1, or MEDREC_HOST).")
    var host: String?

    @Option(help: "Port to listen on (default 8080, or MEDREC_PORT).")
    var port: Int?

    @Option(name: .customLong("data-dir"), help: "Data directory for the embedded database (default ./.medrec, or MEDREC_DATA_DIR).")
    var dataDirectory: String?

    func run() async throws {
        var settings = try await ServerSettings.load()
        if let host { settings.host = host }
        if let port { settings.port = port }
        if let dataDirectory { settings.dataDirectory = dataDirectory }
        var logger = Logger(label: "medrec")
        logger.logLevel = Logger.Level(rawValue: settings.logLevel) ?? .info

        var environment = ProcessInfo.processInfo.environment
        if let databaseURL = settings.databaseURL { environment[DatabaseService.urlEnvironmentKey] = databaseURL }
        let endpoint: DatabaseEndpoint
        let cluster: EmbeddedPostgres?
        do {
            (endpoint, cluster) = try await DatabaseService.resolve(
                dataDirectory: settings.dataDirectory, logger: logger, environment: environment)
        } catch let error as DatabaseError {
            FileHandle.standardError.write(Data("medrec: \(error)\n".utf8))
            throw ExitCode(2)
        }
        // After the database: the data directory exists by now with the permissions it needs.
        let sealer: FieldSealer
        do {
            sealer = try Self.makeSealer(dataDirectory: settings.dataDirectory, logger: logger)
        } catch {
            try? await cluster?.stop()
            FileHandle.standardError.write(Data("medrec: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let client = PostgresClient(
            configuration: endpoint.clientConfiguration(statementTimeoutMilliseconds: settings.limits.statementTimeoutMilliseconds),
            backgroundLogger: logger)
        let host = settings.host
        let security: SecurityServices
        do {
            security = try await SecurityServices.make(settings: settings, client: client, keyring: sealer.keyring, logger: logger)
        } catch {
            try? await cluster?.stop()
            FileHandle.standardError.write(Data("medrec: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let app = MedrecApplication.build(
            client: client, settings: settings, logger: logger, sealer: sealer, security: security,
            servicesStoppedAfterClient: cluster.map { [$0] } ?? [],
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                // Written unbuffered: scripts and supervisors wait for this line.
                FileHandle.standardOutput.write(Data("listening on http://\(host):\(port)\n".utf8))
            })
        try await app.runService()
    }

    /// The encryption policy and keyring from configuration; warns at every start while a
    /// development key file is in use.
    static func makeSealer(dataDirectory: String, logger: Logger) throws -> FieldSealer {
        let environment = ProcessInfo.processInfo.environment
        let policy = try EncryptionPolicy.configured(environment: environment)
        let configured = try Keyring.configured(environment: environment, dataDirectory: URL(fileURLWithPath: dataDirectory))
        if case .developmentKeyFile(let path) = configured.source {
            logger.warning(
                "field encryption uses a DEVELOPMENT key file; set MEDREC_ENCRYPTION_KEYS or MEDREC_ENCRYPTION_KEY_FILE for real data",
                metadata: ["keyFile": "\(path)"])
        }
        return FieldSealer(policy: policy, keyring: configured.keyring)
    }
}

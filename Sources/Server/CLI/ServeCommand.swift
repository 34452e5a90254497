import ArgumentParser
import Foundation
import Hummingbird
import Logging
import PostgresNIO
import ServiceLifecycle
import UnixSignals

/// `medrec serve`: the FHIR and platform APIs. With no configuration it runs its own
/// PostgreSQL cluster in the data directory.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the server (embedded PostgreSQL unless a database URL is configured)."
    )

    @Option(help: "Address to listen on (default 127.0.0.1, or MEDREC_HOST).")
    var host: String?

    @Option(help: "Port to listen on (default 8080, or MEDREC_PORT).")
    var port: Int?

    @Option(name: .customLong("metrics-port"), help: "Port of the Prometheus /metrics listener (default: none, or MEDREC_METRICS_PORT).")
    var metricsPort: Int?

    @Option(name: .customLong("metrics-host"), help: "Address of the metrics listener (default 127.0.0.1, or MEDREC_METRICS_HOST).")
    var metricsHost: String?

    @OptionGroup var options: GlobalOptions

    func validate() throws {
        if let metricsPort, !(0...65535).contains(metricsPort) {
            throw ValidationError("--metrics-port must be between 0 and 65535")
        }
    }

    func run() async throws {
        var settings = try await options.settings()
        if let host { settings.host = host }
        if let port { settings.port = port }
        if let metricsPort { settings.metricsPort = metricsPort }
        if let metricsHost { settings.metricsHost = metricsHost }
        if let metricsPort = settings.metricsPort, metricsPort != 0, metricsPort == settings.port {
            // The metrics are for operators only: never served on the public listener.
            FileHandle.standardError.write(Data("medrec: the metrics port (\(metricsPort)) must differ from the public port\n".utf8))
            throw ExitCode(2)
        }
        // Before the first logger: every logger made from here on (the libraries' too) writes
        // in the chosen format, with the request id of the task that logs.
        LogOutput.bootstrap(format: LogOutput.format(configured: settings.logFormat))
        var logger = Logger(label: "medrec")
        logger.logLevel = settings.logLevel.flatMap(Logger.Level.init(rawValue:)) ?? .info

        let endpoint: DatabaseEndpoint
        let cluster: EmbeddedPostgres?
        do {
            (endpoint, cluster) = try await DatabaseService.resolve(settings: settings, logger: logger)
        } catch let error as DatabaseError {
            FileHandle.standardError.write(Data("medrec: \(error)\n".utf8))
            throw ExitCode(2)
        }
        // After the database: the data directory exists by now with the permissions it needs.
        let sealer: FieldSealer
        do {
            sealer = try await Self.makeSealer(settings: settings, endpoint: endpoint, logger: logger)
        } catch {
            try? await cluster?.stop()
            FileHandle.standardError.write(Data("medrec: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let client = PostgresClient(
            configuration: endpoint.clientConfiguration(
                statementTimeoutMilliseconds: settings.limits.statementTimeoutMilliseconds, pool: settings.pool),
            backgroundLogger: logger)
        PoolLeaseLimit.set(milliseconds: settings.pool.waitMilliseconds ?? settings.limits.statementTimeoutMilliseconds)
        // The standby for staleness-tolerant reads: the same pool settings, read-only by nature.
        var readClient: PostgresClient?
        if let readURL = settings.databaseReadURL {
            do {
                readClient = PostgresClient(
                    configuration: try DatabaseEndpoint(url: readURL).clientConfiguration(
                        statementTimeoutMilliseconds: settings.limits.statementTimeoutMilliseconds, pool: settings.pool),
                    backgroundLogger: logger)
            } catch {
                try? await cluster?.stop()
                FileHandle.standardError.write(Data("medrec: medrec.database.readUrl (MEDREC_DATABASE_READ_URL): \(error)\n".utf8))
                throw ExitCode(2)
            }
        }
        let host = settings.host
        let security: SecurityServices
        do {
            security = try await SecurityServices.make(settings: settings, client: client, keyring: sealer.keyring, logger: logger)
        } catch {
            try? await cluster?.stop()
            FileHandle.standardError.write(Data("medrec: \(error)\n".utf8))
            throw ExitCode(2)
        }
        // Tracing before the router is built: the request middleware is added only when it is on.
        var observability: [any Service] = []
        if settings.tracing {
            do {
                observability = [try ServerSpans.bootstrap()]
            } catch {
                try? await cluster?.stop()
                FileHandle.standardError.write(Data("medrec: tracing (MEDREC_TRACING): \(error)\n".utf8))
                throw ExitCode(2)
            }
        }
        var operations = ServerOperations()
        if settings.metricsPort != nil {
            let metrics = ServerMetrics(
                audit: security.audit, logins: security.logins,
                databaseFigures: { [client, logger] in await ServerMetrics.databaseFigures(client: client, logger: logger) })
            // Libraries that report through swift-metrics land in the same registry.
            metrics.bootstrapMetricsSystem()
            operations.metrics = metrics
        }
        let services = try MedrecApplication.services(
            client: client, readClient: readClient, settings: settings, logger: logger, sealer: sealer, security: security, operations: operations,
            // The exporter stops last, after the cluster, so the spans of the drain are sent.
            servicesStoppedAfterClient: observability + (cluster.map { [$0] } ?? []),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                // Written unbuffered: scripts and supervisors wait for this line.
                FileHandle.standardOutput.write(Data("listening on http://\(host):\(port)\n".utf8))
            })
        // SIGTERM (systemd, Kubernetes, docker stop) and SIGINT (a terminal's ^C) stop gracefully;
        // the order and the grace are `MedrecApplication.services`'.
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// The encryption policy and keyring from configuration; warns at every start while a
    /// development key file is in use.
    static func makeSealer(settings: ServerSettings, endpoint: DatabaseEndpoint, logger: Logger) async throws -> FieldSealer {
        let policy = try EncryptionPolicy.configured(settings: settings.encryption)
        let configured = try await Keyring.forServer(
            settings: settings.encryption, mode: settings.mode, dataDirectory: URL(fileURLWithPath: settings.dataDirectory),
            databaseHoldsSealedData: { try await KeyRotator.databaseHoldsSealedData(endpoint, logger: logger) })
        if case .developmentKeyFile(let path) = configured.source {
            logger.warning(
                "field encryption uses a DEVELOPMENT key file; set MEDREC_ENCRYPTION_KEYS or MEDREC_ENCRYPTION_KEY_FILE for real data",
                metadata: ["keyFile": "\(path)"])
        }
        return FieldSealer(policy: policy, keyring: configured.keyring)
    }
}

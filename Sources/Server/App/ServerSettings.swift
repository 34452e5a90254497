import Configuration
import Foundation

/// Every setting has one name: the config key below. In the environment it is the key in
/// upper snake case (`medrec.databaseUrl` → `MEDREC_DATABASE_URL`); in a JSON config file
/// (`MEDREC_CONFIG_FILE`) it is the nested object path (`{"medrec": {"databaseUrl": …}}`).
/// Command-line flags, where they exist, win over both (`GlobalOptions`, `serve`'s own). Every
/// command reads these same settings, so a tool run beside a server finds the server's database.
public struct ServerSettings: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var dataDirectory = "./.medrec"
    /// A configured database; `nil` runs the embedded PostgreSQL cluster.
    public var databaseURL: String?
    /// A streaming standby of that database for staleness-tolerant reads (`ReadReplica`); nil: none.
    public var databaseReadURL: String?
    /// The public base URL of the FHIR API (used in Location headers and Bundle links);
    /// `nil` derives it from the request's Host header.
    public var baseURL: String?
    /// Directory of `initdb`/`pg_ctl` for the embedded cluster; nil finds them (`PostgresBinaries`).
    public var postgresBinDirectory: String?
    public var limits = ServerLimits()
    public var pool = DatabasePoolSettings()
    /// `trace` … `critical`; nil: the command's own default (`info` for `serve`, `warning` for the
    /// tools, whose standard output is their answer).
    public var logLevel: String?
    public var auth = AuthSettings()
    /// The IANA time zone of doctors' working hours (`workSchedule` times carry no zone), used
    /// when a patient books an appointment.
    public var scheduleTimeZone = "UTC"
    public var encryption = EncryptionSettings()
    public var bulk = BulkSettings()
    /// `development` (the default) or `production`: production refuses what is for local use
    /// only (`medrec demo`). An unknown value counts as production.
    public var mode: Mode = .development
    /// Port of the separate Prometheus listener (`GET /metrics`); nil: no metrics listener. Never
    /// the public port: the metrics name routes and counts that are for operators only.
    public var metricsPort: Int?
    /// Address of the metrics listener; loopback unless Prometheus scrapes from another host.
    public var metricsHost = "127.0.0.1"
    /// `json` (one object per line), `text`, or nil: text when standard error is a terminal,
    /// JSON otherwise (a journal, a container log, a file).
    public var logFormat: LogFormat?
    /// After SIGTERM, how long requests in flight may take before they are cancelled; readiness
    /// answers 503 from the signal on. Must stay below the supervisor's kill timeout (systemd's
    /// `TimeoutStopSec` 40 s, Kubernetes' `terminationGracePeriodSeconds` 40 s, less its preStop).
    public var shutdownGraceSeconds = 25
    /// Export traces over OTLP (swift-otel; endpoint, protocol and batching from the standard
    /// `OTEL_*` variables, e.g. `OTEL_EXPORTER_OTLP_ENDPOINT`). Off by default.
    public var tracing = false
    /// A client connection with nothing read for this long is closed (0: never). Without it idle,
    /// half-open and trickling connections were held for good, each with a descriptor and ~13 kB
    /// (`scripts/fault-test.py --only storm`). Above common load balancers' idle timeouts (60 s),
    /// so that the balancer, not the server, ends an idle keep-alive connection.
    public var idleTimeoutSeconds = 75

    /// How `serve` writes its log lines (`LogOutput` builds the handler).
    public enum LogFormat: String, Sendable {
        case json, text
    }

    public enum Mode: String, Sendable {
        case development, production
    }

    /// Tokens, passwords and audit.
    public struct AuthSettings: Sendable {
        /// `iss` of the access tokens this server issues and accepts.
        public var issuer = "medrec"
        /// `aud` likewise: the resource server's identifier.
        public var audience = "medrec"
        public var accessTokenSeconds = 900
        /// The signing keys as JSON (`{"activeKid", "keys": [...]}`); nil: `<dataDir>/jwt-signing-keys.json`,
        /// generated on first start.
        public var signingKeys: String?
        /// bcrypt cost; values below 12 are raised to 12.
        public var bcryptCost = 12
        /// Audit successful reads and searches (always on in production; off only to measure its cost).
        public var auditReads = true
        /// URL prefixes a system client's JWKS URL may start with (`medrec client add --jwks-url`);
        /// empty: no JWKS URLs, only registered key sets.
        public var jwksURLAllowlist = URLAllowlist(prefixes: [])

        public init() {}
    }

    public init() {}

    /// The server's PostgreSQL connection pool. Its minimum is one connection, whatever the size
    /// (`minimumConnections`, `DatabaseEndpoint.clientConfiguration`), for two faults of
    /// postgres-nio 1.33.2 (`StoreConnectionFaultTests`):
    /// - above one, it traps (`precondition`, SIGILL in every build) when PostgreSQL dies and
    ///   comes back under load: while connects fail it keeps only the connection it retries, and
    ///   back to running with fewer than the minimum, the next lease that needs a new connection
    ///   trips the assertion (`scripts/crash-test.py` part B);
    /// - at zero, a request waiting for a connection when the last one closes is stranded until
    ///   another request comes (vapor/postgres-nio#657); with a minimum the pool replaces it.
    /// Other connections open on demand and close after `idleTimeout` unused; a busy server keeps
    /// them. The keep-alive ping is off by default: every return of a connection would schedule
    /// and cancel a timer.
    public struct DatabasePoolSettings: Sendable {
        /// Most connections one process holds.
        public var size = 12
        /// How long an unused connection stays open. Short on purpose: postgres-nio 1.33.2 arms
        /// this timer (a `Task.sleep` in the pool's task group) every time a connection above the
        /// minimum goes back to the pool with no request waiting, and a cancelled sleep keeps its
        /// task and dispatch timer (about 760 bytes) until its deadline. At 300 s, 8 clients
        /// reading 1,644 times a second grew medrec's RSS by 1.25 MB a second, 64 → 361 MB in
        /// 4 minutes (heaptrack: 107,891 sleeps pending at exit). The memory held is the rate of
        /// idle returns times this timeout, so it stays small; the price is a reconnect after a
        /// pause of more than this. (A CI stall first blamed on this value came from blocking
        /// waits in the tests: docs/reliability.md, "Memory under a light load".)
        public static let idleTimeout: Duration = .seconds(10)
        /// Seconds between keep-alive pings of an idle connection; 0: none.
        public var keepAliveSeconds = 0
        /// Most milliseconds a request waits for a free connection before it gets 503
        /// (`PoolLeaseLimit`); nil: the statement timeout.
        public var waitMilliseconds: Int?

        public init() {}
    }

    /// The environment variable naming the JSON config file.
    public static let configFileEnvironmentKey = "MEDREC_CONFIG_FILE"

    /// Environment first, then the JSON config file (`configFile`, else the one named by
    /// `MEDREC_CONFIG_FILE`), then defaults.
    public static func load(
        environment: [String: String] = ProcessInfo.processInfo.environment, configFile: String? = nil
    ) async throws -> ServerSettings {
        var providers: [any ConfigProvider] = [EnvironmentVariablesProvider(environmentVariables: environment)]
        if let file = configFile ?? environment[configFileEnvironmentKey], !file.isEmpty {
            providers.append(try await FileProvider<JSONSnapshot>(filePath: .init(file)))
        }
        return try ServerSettings(config: ConfigReader(providers: providers))
    }

    /// A setting whose value cannot be used; the message names the setting, never a secret.
    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    public init(config: ConfigReader) throws(Invalid) {
        let defaults = ServerSettings()
        host = config.string(forKey: "medrec.host", default: defaults.host)
        port = config.int(forKey: "medrec.port", default: defaults.port)
        dataDirectory = config.string(forKey: "medrec.dataDir", default: defaults.dataDirectory)
        databaseURL = config.string(forKey: "medrec.databaseUrl", isSecret: true).flatMap { $0.isEmpty ? nil : $0 }
        databaseReadURL = config.string(forKey: "medrec.database.readUrl", isSecret: true).flatMap { $0.isEmpty ? nil : $0 }
        baseURL = config.string(forKey: "medrec.baseUrl").flatMap { $0.isEmpty ? nil : $0 }
        postgresBinDirectory = config.string(forKey: "medrec.pgBin").flatMap { $0.isEmpty ? nil : $0 }
        logLevel = config.string(forKey: "medrec.logLevel").flatMap { $0.isEmpty ? nil : $0 }
        limits.maxBodyBytes = config.int(forKey: "medrec.maxBodyBytes", default: defaults.limits.maxBodyBytes)
        limits.maxBundleEntries = config.int(forKey: "medrec.maxBundleEntries", default: defaults.limits.maxBundleEntries)
        limits.statementTimeoutMilliseconds = config.int(
            forKey: "medrec.statementTimeoutMs", default: defaults.limits.statementTimeoutMilliseconds)
        limits.maxPageSize = config.int(forKey: "medrec.maxPageSize", default: defaults.limits.maxPageSize)
        pool.size = max(1, config.int(forKey: "medrec.database.poolSize", default: defaults.pool.size))
        pool.keepAliveSeconds = max(0, config.int(forKey: "medrec.database.keepAliveSeconds", default: defaults.pool.keepAliveSeconds))
        pool.waitMilliseconds = config.int(forKey: "medrec.database.poolWaitMs").map { max(1, $0) }
        auth.issuer = config.string(forKey: "medrec.auth.issuer", default: defaults.auth.issuer)
        auth.audience = config.string(forKey: "medrec.auth.audience", default: defaults.auth.audience)
        auth.accessTokenSeconds = config.int(forKey: "medrec.auth.accessTokenSeconds", default: defaults.auth.accessTokenSeconds)
        auth.signingKeys = config.string(forKey: "medrec.auth.signingKeys", isSecret: true).flatMap { $0.isEmpty ? nil : $0 }
        auth.bcryptCost = config.int(forKey: "medrec.auth.bcryptCost", default: defaults.auth.bcryptCost)
        auth.auditReads = config.bool(forKey: "medrec.auth.auditReads", default: defaults.auth.auditReads)
        auth.jwksURLAllowlist = URLAllowlist(setting: config.string(forKey: "medrec.auth.jwksUrlAllowlist"))
        scheduleTimeZone = config.string(forKey: "medrec.scheduleTimeZone", default: defaults.scheduleTimeZone)
        encryption = EncryptionSettings(config: config)
        bulk = BulkSettings(config: config)
        // One setting for both allowlists: the non-public networks their hosts may resolve to.
        var networks: [IPNetwork] = []
        for text in (config.string(forKey: "medrec.outbound.privateNetworks") ?? "").split(separator: ",") {
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty else { continue }
            guard let network = IPNetwork(trimmed) else {
                throw Invalid(description: "medrec.outbound.privateNetworks (MEDREC_OUTBOUND_PRIVATE_NETWORKS): \"\(trimmed)\" is not an address or a CIDR range")
            }
            networks.append(network)
        }
        auth.jwksURLAllowlist.privateNetworks = networks
        bulk.importURLAllowlist.privateNetworks = networks
        mode = config.string(forKey: "medrec.mode").flatMap { $0.isEmpty ? nil : $0 }.map { Mode(rawValue: $0.lowercased()) ?? .production } ?? defaults.mode
        metricsPort = config.int(forKey: "medrec.metricsPort")
        metricsHost = config.string(forKey: "medrec.metricsHost").flatMap { $0.isEmpty ? nil : $0 } ?? defaults.metricsHost
        // An unknown format counts as JSON: a log shipper expecting JSON lines breaks on text, a
        // person reading JSON does not.
        logFormat = config.string(forKey: "medrec.logFormat").flatMap { $0.isEmpty ? nil : $0 }
            .map { LogFormat(rawValue: $0.lowercased()) ?? .json }
        shutdownGraceSeconds = max(0, config.int(forKey: "medrec.shutdownGraceSeconds", default: defaults.shutdownGraceSeconds))
        tracing = config.bool(forKey: "medrec.tracing", default: defaults.tracing)
        idleTimeoutSeconds = max(0, config.int(forKey: "medrec.idleTimeoutSeconds", default: defaults.idleTimeoutSeconds))
    }
}

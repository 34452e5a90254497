import Foundation
import Hummingbird
import Logging
import PostgresNIO
import Prometheus
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The replica's Prometheus metrics (docs/operations.md, "Metrics and alerts", names them; the
/// rules in deploy/prometheus/alerts.yml read them). One instance per server, handed to the
/// router and the metrics listener rather than found through a global, so that tests, which run
/// many applications in one process, each read their own.
///
/// Labels carry route templates, methods and status codes only: never a raw path, an id, a user
/// or anything from a body, so no PHI and no unbounded label sets. Counters owned by services that
/// know nothing of Prometheus (failed audit commits, logins) are read from them at scrape time.
public final class ServerMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    private let inFlight: Prometheus.Gauge
    private let auditCommitFailures: Prometheus.Counter
    private let logins: [LoginOutcomes.Outcome: Prometheus.Counter]
    private let tokensIssued: Prometheus.Counter
    private let refreshReplays: Prometheus.Counter
    private let auditQueueDepth: Prometheus.Gauge
    private let residentMemory: Prometheus.Gauge
    private let openFileDescriptors: Prometheus.Gauge
    /// Database-wide figures read at scrape time (bulk jobs by status, connections by state);
    /// nil in tests that have no database to ask.
    private let databaseFigures: (@Sendable () async -> DatabaseFigures?)?
    private let audit: AuditLog?
    private let loginOutcomes: LoginOutcomes?
    /// What the service counters had reached at the last scrape (counters only go up: each scrape
    /// adds what happened since).
    private let collected = Mutex(Collected())

    private struct Collected: Sendable {
        var auditFailures = 0
        var logins: [LoginOutcomes.Outcome: Int] = [:]
        var tokensIssued = 0
        var refreshReplays = 0
    }

    /// What the database says at a scrape: bulk jobs by status, and the connections to this
    /// database by state (every replica's: the pool's own counts are not exposed by postgres-nio).
    public struct DatabaseFigures: Sendable {
        public var bulkJobs: [String: Int]
        public var connections: [String: Int]

        public init(bulkJobs: [String: Int], connections: [String: Int]) {
            self.bulkJobs = bulkJobs
            self.connections = connections
        }
    }

    /// Bulk job states and connection states always exported (0 when none), so that a series
    /// does not vanish when its count drops to zero.
    static let bulkJobStates = ["queued", "running", "completed", "failed", "cancelled"]
    static let connectionStates = ["active", "idle", "idle in transaction", "other"]

    /// Group commits: events per statement, and the statement's time.
    static let auditBatchBuckets: [Double] = [1, 2, 5, 10, 20, 50, 100, 200, 500]
    static let auditCommitBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
    ]

    /// Request durations: 5 ms (a cached read) to 10 s (past the p99 alert's 1 s and the slow bulk
    /// kick-offs); slower requests land in `+Inf`.
    static let durationBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]

    /// - Parameters:
    ///   - audit, logins: the services whose counts are exported (a server's `SecurityServices`).
    ///   - revision: the build's source revision for `medrec_build_info`.
    public init(
        registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), audit: AuditLog? = nil, logins: LoginOutcomes? = nil,
        revision: String = MedrecVersion.revision, databaseFigures: (@Sendable () async -> DatabaseFigures?)? = nil
    ) {
        self.registry = registry
        self.audit = audit
        self.loginOutcomes = logins
        self.databaseFigures = databaseFigures
        tokensIssued = registry.makeCounter(descriptor: ServerMetrics.descriptor(
            "medrec_auth_tokens_issued_total", "Access tokens issued (password sign-ins, refreshes, client credentials)."))
        refreshReplays = registry.makeCounter(descriptor: ServerMetrics.descriptor(
            "medrec_auth_refresh_replays_total", "Spent refresh tokens presented again (each revokes its session)."))
        auditQueueDepth = registry.makeGauge(descriptor: ServerMetrics.descriptor(
            "medrec_audit_queue_depth", "AuditEvents waiting for the next group commit."))
        if let audit {
            let batchSize = registry.makeValueHistogram(
                descriptor: ServerMetrics.descriptor("medrec_audit_batch_size", "AuditEvents written per group commit."),
                buckets: ServerMetrics.auditBatchBuckets)
            let commitTime = registry.makeDurationHistogram(
                descriptor: ServerMetrics.descriptor("medrec_audit_commit_duration_seconds", "Time of each audit group commit."),
                buckets: ServerMetrics.auditCommitBuckets)
            audit.observeCommits { events, duration in
                batchSize.record(Double(events))
                commitTime.record(duration)
            }
        }
        inFlight = registry.makeGauge(descriptor: ServerMetrics.descriptor(
            "medrec_http_requests_in_flight", "Requests being handled now (until the response head is ready)."))
        auditCommitFailures = registry.makeCounter(descriptor: ServerMetrics.descriptor(
            "medrec_audit_commit_failures_total", "AuditEvents that could not be written (reads, searches, logins, denials)."))
        var loginCounters: [LoginOutcomes.Outcome: Prometheus.Counter] = [:]
        for outcome in LoginOutcomes.Outcome.allCases {
            loginCounters[outcome] = registry.makeCounter(
                descriptor: ServerMetrics.descriptor("medrec_auth_logins_total", "Password sign-ins (API and web) by outcome."),
                labels: [("outcome", outcome.rawValue)])
        }
        self.logins = loginCounters
        registry.makeGauge(
            descriptor: ServerMetrics.descriptor("medrec_build_info", "The version and source revision this replica runs (always 1)."),
            labels: [("version", MedrecVersion.current), ("revision", revision)]
        ).set(to: 1)
        residentMemory = registry.makeGauge(descriptor: ServerMetrics.descriptor(
            "process_resident_memory_bytes", "Resident memory size in bytes."))
        openFileDescriptors = registry.makeGauge(descriptor: ServerMetrics.descriptor(
            "process_open_fds", "Number of open file descriptors."))
        registry.makeGauge(descriptor: ServerMetrics.descriptor(
            "process_start_time_seconds", "Start time of the process since the Unix epoch in seconds.")
        ).set(to: ProcessStatistics.startTime)
    }

    /// One answered request. `endpoint` is the matched route's template (`context.endpointPath`).
    func observe(method: HTTPRequest.Method, endpoint: String?, status: Int, duration: Duration) {
        let method = RouteLabels.method(method)
        let route = RouteLabels.route(endpoint)
        registry.makeCounter(
            descriptor: Self.descriptor("medrec_http_requests_total", "Requests answered, by method, route template and status."),
            labels: [("method", method), ("route", route), ("status", String(status))]
        ).increment()
        registry.makeDurationHistogram(
            descriptor: Self.descriptor(
                "medrec_http_request_duration_seconds", "Time to answer (the response head), by method and route template."),
            labels: [("method", method), ("route", route)], buckets: Self.durationBuckets
        ).record(duration)
    }

    func requestStarted() { inFlight.increment(by: 1) }
    func requestEnded() { inFlight.decrement(by: 1) }

    /// The text exposition format (version 0.0.4) of every metric, refreshed now.
    public func exposition() -> String {
        refresh()
        return registry.emitToString()
    }

    /// The same, with the database's figures asked first (the metrics listener's answer).
    public func scrape() async -> String {
        if let databaseFigures, let figures = await databaseFigures() {
            for state in Self.bulkJobStates {
                registry.makeGauge(
                    descriptor: Self.descriptor("medrec_bulk_jobs", "Bulk $export and $import jobs by status (all replicas'), at the scrape."),
                    labels: [("status", state)]
                ).set(to: Double(figures.bulkJobs[state] ?? 0))
            }
            for state in Self.connectionStates {
                registry.makeGauge(
                    descriptor: Self.descriptor(
                        "medrec_db_connections", "Connections to the database (every replica's and tool's) by state, at the scrape."),
                    labels: [("state", state)]
                ).set(to: Double(figures.connections[state] ?? 0))
            }
        }
        return exposition()
    }

    /// Values read at scrape time: the process's, and the services' counts since the last scrape.
    private func refresh() {
        if let bytes = ProcessStatistics.residentMemoryBytes() { residentMemory.set(to: Double(bytes)) }
        if let count = ProcessStatistics.openFileDescriptors() { openFileDescriptors.set(to: Double(count)) }
        if let audit { auditQueueDepth.set(to: Double(audit.queuedEventCount)) }
        collected.withLock { seen in
            if let audit {
                let failures = audit.failedEventCount
                if failures > seen.auditFailures { auditCommitFailures.increment(by: Int64(failures - seen.auditFailures)) }
                seen.auditFailures = failures
            }
            if let loginOutcomes {
                for outcome in LoginOutcomes.Outcome.allCases {
                    let count = loginOutcomes.count(outcome)
                    let before = seen.logins[outcome] ?? 0
                    if count > before { logins[outcome]?.increment(by: Int64(count - before)) }
                    seen.logins[outcome] = count
                }
                let issued = loginOutcomes.tokensIssued, replays = loginOutcomes.refreshReplays
                if issued > seen.tokensIssued { tokensIssued.increment(by: Int64(issued - seen.tokensIssued)) }
                if replays > seen.refreshReplays { refreshReplays.increment(by: Int64(replays - seen.refreshReplays)) }
                seen.tokensIssued = issued
                seen.refreshReplays = replays
            }
        }
    }

    /// Bulk jobs by status and connections by state, from the database (nil when it does not
    /// answer: the scrape then shows the last values, and `MedrecDatabaseDown` says why).
    public static func databaseFigures(client: PostgresClient, logger: Logger) async -> DatabaseFigures? {
        do {
            var jobs: [String: Int] = [:]
            for try await (status, count) in try await client.rows(
                "SELECT status, count(*) FROM bulk_job GROUP BY status", logger: logger
            ).decode((String, Int64).self) {
                jobs[status] = Int(count)
            }
            var connections: [String: Int] = [:]
            for try await (state, count) in try await client.rows(
                """
                SELECT coalesce(state, 'other'), count(*) FROM pg_stat_activity
                WHERE datname = current_database() AND backend_type = 'client backend' GROUP BY 1
                """, logger: logger
            ).decode((String, Int64).self) {
                let key = connectionStates.contains(state) ? state : "other"
                connections[key, default: 0] += Int(count)
            }
            return DatabaseFigures(bulkJobs: jobs, connections: connections)
        } catch {
            return nil
        }
    }

    /// A metric's name (given whole: no namespace or unit is added) and its help text. Every
    /// registration of one name must pass the same help text: the registry stops the process
    /// on a mismatch.
    private static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }
}

/// Label values for requests, bounded: a client choosing the method or the path cannot make new
/// time series (each costs memory in every scrape and in Prometheus).
enum RouteLabels {
    /// The route template (`/fhir/{type}/{id}`), or `unmatched` when no route matched (Hummingbird
    /// records "NotFound" then, or nothing).
    static func route(_ endpoint: String?) -> String {
        guard let endpoint, !endpoint.isEmpty, endpoint != "NotFound" else { return "unmatched" }
        return endpoint
    }

    private static let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

    /// The method for the methods the server knows; `other` for anything else a client sends.
    static func method(_ method: HTTPRequest.Method) -> String {
        methods.contains(method.rawValue) ? method.rawValue : "other"
    }
}

/// Counts requests and times them for `ServerMetrics`. Placed right inside `RequestIDMiddleware`,
/// so it sees every request, unmatched ones included, with the status the client gets.
///
/// The duration and the in-flight gauge end when the handler returns the response head, not when
/// the body has been written: a bulk download streams for minutes to a slow client, and counting
/// that would make the p99 alert about clients' bandwidth rather than the server.
struct HTTPMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        metrics.requestStarted()
        defer { metrics.requestEnded() }
        do {
            let response = try await next(request, context)
            metrics.observe(
                method: request.method, endpoint: context.endpointPath, status: response.status.code, duration: ContinuousClock.now - start)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            metrics.observe(method: request.method, endpoint: context.endpointPath, status: status, duration: ContinuousClock.now - start)
            throw error
        }
    }
}

/// The second listener: `GET /metrics` and nothing else, on `medrec.metricsHost:metricsPort`,
/// never on the public port (HAProxy also refuses `/metrics`). No authentication: it is bound to
/// loopback or a private network, like node_exporter.
enum MetricsListener {
    static let contentType = "text/plain; version=0.0.4"

    static func router(metrics: ServerMetrics) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.get("metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: contentType],
                body: .init(byteBuffer: ByteBuffer(string: await metrics.scrape())))
        }
        return router
    }

    static func application(metrics: ServerMetrics, host: String, port: Int, logger: Logger) -> some ApplicationProtocol {
        Application(
            router: router(metrics: metrics),
            configuration: .init(address: .hostname(host, port: port), serverName: "medrec-metrics"),
            onServerRunning: { channel in
                logger.notice("metrics listener running", metadata: ["address": "\(host):\(channel.localAddress?.port ?? port)"])
            },
            logger: logger)
    }
}

/// The process's own gauges, read from Linux's /proc at scrape time (nil elsewhere: the server
/// is deployed on Linux; on macOS only the start time is known).
enum ProcessStatistics {
    /// When the process started, in seconds since the epoch: from /proc (the kernel's record,
    /// which includes the time before `main`), else when this value was first read.
    static let startTime: Double = {
        #if os(Linux)
        if let started = ProcessStatistics.linuxStartTime() { return started }
        #endif
        return Date().timeIntervalSince1970
    }()

    static func residentMemoryBytes() -> Int? {
        #if os(Linux)
        // statm: size resident shared text lib data dt, in pages.
        guard let statm = contents(of: "/proc/self/statm") else { return nil }
        let fields = statm.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
        #else
        return nil
        #endif
    }

    static func openFileDescriptors() -> Int? {
        #if os(Linux)
        // Listing the directory opens one more descriptor for the listing itself; not counted.
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return nil }
        return max(0, entries.count - 1)
        #else
        return nil
        #endif
    }

    #if os(Linux)
    /// Boot time (`btime` in /proc/stat) plus the process's start in clock ticks after boot
    /// (field 22 of /proc/self/stat, counted after the parenthesised command name, which may
    /// contain spaces).
    private static func linuxStartTime() -> Double? {
        guard let stat = contents(of: "/proc/self/stat"), let commandEnd = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: commandEnd)...].split(separator: " ")
        // fields[0] is field 3 (state), so field 22 is fields[19].
        guard fields.count > 19, let ticks = Double(fields[19]) else { return nil }
        guard let system = contents(of: "/proc/stat"),
              let line = system.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
              let boot = Double(line.dropFirst("btime ".count).trimmingCharacters(in: .whitespaces))
        else { return nil }
        let hertz = Double(sysconf(Int32(_SC_CLK_TCK)))
        guard hertz > 0 else { return nil }
        return boot + ticks / hertz
    }

    /// A /proc file's text. Read with read(2) until end of file: /proc files report a size of 0,
    /// which readers that trust the size take for empty.
    private static func contents(of path: String) -> String? {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 { return nil }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
    #endif
}

import Metrics
import Synchronization

/// What the database layer reports for `/metrics`: each statement's duration by kind, the wait
/// for a pool connection, and the connections leased now. Reported through swift-metrics to the
/// factory the server installs with its registry (`ServerMetrics.bootstrapMetricsSystem`);
/// nothing is recorded before that, nor in the command-line tools.
///
/// The statement label is a prepared statement's name (`medrec_read_current`) or the first
/// keyword of other SQL (`select`, `begin`, `commit`): a small fixed set, never a value, an id or
/// a table row.
final class DatabaseMetrics: InstalledMetrics {
    static let slot = MetricsSlot<DatabaseMetrics>()

    static let statementDurationLabel = "medrec_db_query_duration_seconds"
    static let statementFailuresLabel = "medrec_db_query_failures_total"
    static let poolWaitLabel = "medrec_db_pool_wait_seconds"
    static let leasedLabel = "medrec_db_pool_connections_leased"

    private let factory: any MetricsFactory
    private let durations = Mutex<[String: Metrics.Timer]>([:])
    private let failures = Mutex<[String: Metrics.Counter]>([:])
    private let poolWait: Metrics.Timer
    private let leased: Metrics.Gauge
    private let leasedCount = Atomic<Int>(0)

    init(factory: any MetricsFactory) {
        self.factory = factory
        poolWait = Metrics.Timer(label: Self.poolWaitLabel, factory: factory)
        leased = Metrics.Gauge(label: Self.leasedLabel, factory: factory)
        leased.record(0)
    }

    /// One statement: how long it took, and whether it failed.
    func statement(_ kind: String, took duration: Duration, failed: Bool) {
        let timer = durations.withLock { timers in
            if let timer = timers[kind] { return timer }
            let timer = Metrics.Timer(label: Self.statementDurationLabel, dimensions: [("statement", kind)], factory: factory)
            timers[kind] = timer
            return timer
        }
        timer.recordNanoseconds(duration.nanoseconds)
        guard failed else { return }
        failures.withLock { counters in
            if let counter = counters[kind] { return counter }
            let counter = Metrics.Counter(label: Self.statementFailuresLabel, dimensions: [("statement", kind)], factory: factory)
            counters[kind] = counter
            return counter
        }.increment()
    }

    /// A connection was leased after waiting `waited` for it; `released` when it goes back.
    func leased(after waited: Duration) {
        poolWait.recordNanoseconds(waited.nanoseconds)
        leased.record(leasedCount.add(1, ordering: .relaxed).newValue)
    }

    func released() {
        leased.record(leasedCount.subtract(1, ordering: .relaxed).newValue)
    }

    /// The label of plain SQL: its first keyword, lowercased (`select`, `insert`, `begin`, …), or
    /// `other` for anything that does not start with a short word.
    static func kind(ofSQL sql: String) -> String {
        let keyword = sql.drop(while: \.isWhitespace).prefix(while: \.isLetter).prefix(12)
        return knownOrOther(String(keyword))
    }

    /// Keywords kept as labels; anything else is `other`, so that no text of a statement can make
    /// a label of its own.
    private static let keywords: Set<String> = [
        "select", "insert", "update", "delete", "with", "begin", "commit", "rollback", "lock", "set", "create", "alter",
        "drop", "copy", "analyze", "vacuum", "truncate", "savepoint", "release", "notify", "listen", "do",
    ]

    private static func knownOrOther(_ keyword: String) -> String {
        let lowered = keyword.lowercased()
        return keywords.contains(lowered) ? lowered : "other"
    }
}

extension Duration {
    /// Whole nanoseconds (durations here are far below the 292 years an Int64 holds).
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

/// Metrics that layers below the HTTP faces report without being handed a registry: the server
/// installs them once with its factory (`ServerMetrics.bootstrapMetricsSystem`), and until then,
/// and in the command-line tools, `current` is nil and nothing is recorded. Process-wide, because
/// the statements and bulk batches that report them run in a dozen services that know nothing of
/// `/metrics`.
protocol InstalledMetrics: AnyObject, Sendable {
    init(factory: any MetricsFactory)
    static var slot: MetricsSlot<Self> { get }
}

extension InstalledMetrics {
    /// The metrics of the running server, if it has a registry.
    static var current: Self? { slot.value.withLock { $0 } }

    /// From now on, this process reports to `factory` (nil: to nothing).
    static func install(factory: (any MetricsFactory)?) {
        let metrics = factory.map { Self(factory: $0) }
        slot.value.withLock { $0 = metrics }
    }
}

/// Where one kind of `InstalledMetrics` is kept.
final class MetricsSlot<Metrics: InstalledMetrics>: Sendable {
    fileprivate let value = Mutex<Metrics?>(nil)
}

/// Resources that bulk jobs have written, for `/metrics`: `medrec_bulk_resources_total{operation}`
/// (`import`: created or updated; `export`: written to the job's files), counted when each batch
/// commits, so `rate()` is the jobs' resources per second. Installed with the same factory as
/// `DatabaseMetrics`.
final class BulkMetrics: InstalledMetrics {
    static let slot = MetricsSlot<BulkMetrics>()

    static let resourcesLabel = "medrec_bulk_resources_total"

    enum Operation: String, CaseIterable, Sendable {
        case `import`, export
    }

    private let counters: [Operation: Metrics.Counter]

    init(factory: any MetricsFactory) {
        var counters: [Operation: Metrics.Counter] = [:]
        for operation in Operation.allCases {
            counters[operation] = Metrics.Counter(
                label: Self.resourcesLabel, dimensions: [("operation", operation.rawValue)], factory: factory)
        }
        self.counters = counters
    }

    func committed(_ count: Int, _ operation: Operation) {
        guard count > 0 else { return }
        counters[operation]?.increment(by: count)
    }
}

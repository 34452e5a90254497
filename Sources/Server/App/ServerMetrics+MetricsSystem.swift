import Metrics
import Prometheus
import Synchronization

// In a file of its own: swift-metrics and swift-prometheus both declare `Counter` and `Gauge`,
// and this is the one place that needs both modules.

extension ServerMetrics {
    private static let metricsSystemBootstrapped = Atomic<Bool>(false)

    /// Database statements and lease waits: 0.25 ms (a cached read) to the 30 s statement timeout.
    static let statementBuckets: [Duration] = [
        .microseconds(250), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(100), .milliseconds(500), .seconds(2), .seconds(10), .seconds(30),
    ]

    /// Points swift-metrics' global factory at this registry (and the database layer's statement
    /// and pool figures, `DatabaseMetrics`), so that a library reporting through swift-metrics
    /// shows up on /metrics too. Once per process (swift-metrics stops the process on a second
    /// bootstrap; tests build many servers in one process): a later call, from another instance,
    /// changes nothing.
    func bootstrapMetricsSystem() {
        guard Self.metricsSystemBootstrapped.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return }
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets[DatabaseMetrics.statementDurationLabel] = Self.statementBuckets
        factory.durationHistogramBuckets[DatabaseMetrics.poolWaitLabel] = Self.statementBuckets
        MetricsSystem.bootstrap(factory)
        DatabaseMetrics.install(factory: factory)
        BulkMetrics.install(factory: factory)
    }
}

import Metrics
import Prometheus
import Synchronization

// In a file of its own: swift-metrics and swift-prometheus both declare `Counter` and `Gauge`,
// and this is the one place that needs both modules.

extension ServerMetrics {
    private static let metricsSystemBootstrapped = Atomic<Bool>(false)

    /// Points swift-metrics' global factory at this registry, so that a library reporting through
    /// swift-metrics shows up on /metrics too. Once per process (swift-metrics stops the process
    /// on a second bootstrap; tests build many servers in one process): a later call, from
    /// another instance, changes nothing.
    func bootstrapMetricsSystem() {
        guard Self.metricsSystemBootstrapped.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return }
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
    }
}

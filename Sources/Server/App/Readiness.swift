import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Whether this replica wants traffic, as `/health/ready` tells the balancer. Shared by the
/// health route, which answers probes, and the shutdown services, which flip it on SIGTERM.
/// The other readiness checks (database, audit) are asked per probe in `HealthController`.
public final class Readiness: Sendable {
    private struct State: Sendable {
        var drainingSince: ContinuousClock.Instant?
        /// The last two probes, to tell a balancer (which polls) from a person's single curl.
        var lastProbe: ContinuousClock.Instant?
        var previousProbe: ContinuousClock.Instant?
        /// Probes answered "draining" since the drain began.
        var drainingAnswers = 0
    }

    private let state = Mutex(State())

    public init() {}

    public var isDraining: Bool { state.withLock { $0.drainingSince != nil } }

    /// From now on readiness answers 503 `{"status":"draining"}`. Returns when draining began
    /// (the first call's instant: later calls change nothing).
    @discardableResult
    public func beginDraining() -> ContinuousClock.Instant {
        let now = ContinuousClock.now
        return state.withLock { state in
            if let since = state.drainingSince { return since }
            state.drainingSince = now
            return now
        }
    }

    /// Records a readiness probe; true while draining (the probe is then answered 503).
    func probe() -> Bool {
        let now = ContinuousClock.now
        return state.withLock { state in
            state.previousProbe = state.lastProbe
            state.lastProbe = now
            guard state.drainingSince != nil else { return false }
            state.drainingAnswers += 1
            return true
        }
    }

    /// True when two probes came within `window` before `instant`: something polls readiness
    /// and will take the replica out when it fails.
    func isPolled(before instant: ContinuousClock.Instant, within window: Duration) -> Bool {
        state.withLock { state in
            guard let previous = state.previousProbe else { return false }
            return instant - previous <= window
        }
    }

    var drainingAnswers: Int { state.withLock { $0.drainingAnswers } }
}

/// The first service to stop on SIGTERM (it is the last in the group): readiness turns 503 at
/// once, and the HTTP listener stays open until the balancer has seen it, so that requests the
/// balancer sends meanwhile are still served rather than refused or cut. Then the group goes on
/// to stop the HTTP server (`GraceBoundedService`).
///
/// How long the listener stays open: until two probes were answered "draining" (HAProxy's
/// `fall 2`, the Kubernetes probe's `failureThreshold: 2`) and a short margin for the balancer to
/// act on the second, at most `maximumLead` and never beyond the grace. When nothing polled
/// readiness before the signal (a developer's server, a test), there is no balancer to wait for
/// and the stop goes on at once.
struct ShutdownDrain: Service, CustomStringConvertible {
    let readiness: Readiness
    let grace: Duration
    let logger: Logger

    static let maximumLead: Duration = .seconds(5)
    static let pollWindow: Duration = .seconds(10)
    static let answersBeforeDown = 2
    static let margin: Duration = .milliseconds(250)

    var description: String { "ShutdownDrain" }

    func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            return  // cancelled: the group is being torn down, nothing to drain
        }
        let start = readiness.beginDraining()
        let polled = readiness.isPolled(before: start, within: Self.pollWindow)
        logger.notice(
            "shutting down: /health/ready answers 503 (draining)",
            metadata: ["grace_s": "\(grace.components.seconds)", "balancer": "\(polled ? "polling" : "none seen")"])
        guard polled else { return }
        let lead = min(Self.maximumLead, grace)
        var seen: ContinuousClock.Instant?
        while !Task.isCancelled {
            let now = ContinuousClock.now
            if now - start >= lead { break }
            if seen == nil, readiness.drainingAnswers >= Self.answersBeforeDown { seen = now }
            if let seen, now - seen >= Self.margin { break }
            try? await Task.sleep(for: .milliseconds(50))
        }
        let elapsed = ContinuousClock.now - start
        let milliseconds = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        logger.notice("draining: closing the listener", metadata: ["after_ms": "\(milliseconds)", "probes": "\(readiness.drainingAnswers)"])
    }
}

/// Runs the HTTP application and bounds its graceful stop: when the group asks it to stop, the
/// server closes its listener and lets requests in flight finish, and whatever still runs when
/// `grace` (counted from the start of the drain, i.e. the signal) is over is cancelled. Only the
/// HTTP server is cancelled: the database client and the embedded cluster are separate services
/// that stop after it in their own time, so PostgreSQL is always stopped cleanly.
struct GraceBoundedService: Service, CustomStringConvertible {
    let service: any Service
    let readiness: Readiness
    let grace: Duration
    let logger: Logger

    var description: String { "\(service)" }

    func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            // The child inherits the graceful-shutdown signal of this service's task.
            group.addTask { try await service.run() }
            group.addTask {
                try await gracefulShutdown()
                let start = readiness.beginDraining()
                let remaining = grace - (ContinuousClock.now - start)
                if remaining > .zero { try await Task.sleep(for: remaining) }
                logger.warning(
                    "shutdown grace elapsed: cancelling the requests still in flight",
                    metadata: ["grace_s": "\(grace.components.seconds)"])
            }
            // The first to end: the server (drained, or failed) or the timer. A cancelled
            // server's CancellationError is not collected and so not rethrown: running out of
            // grace is the stop the operator asked for, not a failure (exit 0).
            _ = try await group.next()
            group.cancelAll()
        }
    }
}

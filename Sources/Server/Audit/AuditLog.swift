import FHIRModels
import Foundation
import Logging
import PostgresNIO
import Synchronization
import Tracing

/// The audit trail of reads, searches, logins and denials, written with group commit: callers
/// wait until their AuditEvent is durable, and while one insert runs every record that arrives
/// queues for the next, so a busy server writes many events per statement instead of one
/// transaction per request. Writes do not come here: their AuditEvents commit inside the
/// write's own transaction (`WriteContext.audit`, `ResourceTransaction.appendAudit`).
public final class AuditLog: Sendable {
    let client: PostgresClient
    let logger: Logger
    /// False only for benchmarking the cost of auditing: successful reads and searches are
    /// then not recorded. Denials, logins and writes always are.
    let auditReads: Bool
    private let queue: Queue
    private let health = Mutex(Health())
    /// Told the size and duration of every group commit that succeeded (`ServerMetrics`).
    private let commitObserver = Mutex<(@Sendable (_ events: Int, _ duration: Duration) -> Void)?>(nil)

    /// Calls `observer` after each successful group commit with its number of events and how
    /// long the insert took (batch size and commit latency metrics).
    public func observeCommits(_ observer: @escaping @Sendable (_ events: Int, _ duration: Duration) -> Void) {
        commitObserver.withLock { $0 = observer }
    }

    /// Events queued for the next group commit now.
    public var queuedEventCount: Int { queue.depth }

    /// How the group commit has fared, for `/health/ready` and `medrec_audit_commit_failures_total`.
    private struct Health: Sendable {
        var failedEvents = 0
        var lastFailure: ContinuousClock.Instant?
        var lastSuccess: ContinuousClock.Instant?
    }

    /// AuditEvents of reads, searches, logins and denials that could not be stored since the
    /// process started. (A write's AuditEvent commits in the write's own transaction: if it
    /// fails, the write fails with it and nothing went unrecorded.)
    public var failedEventCount: Int { health.withLock { $0.failedEvents } }

    /// True while the audit log is failing: the last commit failed, within `window`, and none
    /// has succeeded since. A single failure followed by a success (a statement that timed out
    /// once) does not count, so that a blip does not take every replica out of rotation at once.
    public func isFailing(within window: Duration = .seconds(60)) -> Bool {
        let now = ContinuousClock.now
        return health.withLock { health in
            guard let failure = health.lastFailure, now - failure <= window else { return false }
            guard let success = health.lastSuccess else { return true }
            return success < failure
        }
    }

    public init(client: PostgresClient, logger: Logger, auditReads: Bool = true) {
        self.client = client
        self.logger = logger
        self.auditReads = auditReads
        self.queue = Queue()
    }

    /// Returns once the records are stored; throws (and the caller must then not answer with
    /// data) when they could not be.
    public func record(_ records: [AuditRecord]) async throws {
        var records = records
        if !auditReads {
            records.removeAll { $0.action == .read && $0.outcome == .success }
        }
        guard !records.isEmpty else { return }
        let rows = AuditRows(records)
        let wait = {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                if self.queue.enqueue(rows, continuation) {
                    // The drain serves every request that queues meanwhile: it must not carry the
                    // request id or the trace of the one that happened to start it (a task
                    // inherits task-locals).
                    Task {
                        await MedrecRequestID.$current.withValue(nil) {
                            await InstrumentationContext.$current.withValue(nil) { await self.drain() }
                        }
                    }
                }
            }
        }
        // The request's span for its share of a group commit: from queueing to stored.
        if ServerSpans.enabled {
            try await withSpan("audit commit") { span in
                span.attributes["medrec.audit.events"] = rows.count
                try await wait()
            }
        } else {
            try await wait()
        }
    }

    public func record(_ record: AuditRecord) async throws {
        try await self.record([record])
    }

    /// Flushes batches until the queue is empty; only one drain runs at a time.
    private func drain() async {
        while let batch = queue.takeBatch() {
            do {
                let start = ContinuousClock.now
                try await client.leased { connection in
                    try await Self.insert(batch.rows, on: connection, logger: self.logger)
                }
                let took = ContinuousClock.now - start
                health.withLock { $0.lastSuccess = .now }
                commitObserver.withLock { $0 }?(batch.rows.count, took)
                for waiter in batch.waiters { waiter.resume() }
            } catch {
                health.withLock { health in
                    health.failedEvents += batch.rows.count
                    health.lastFailure = .now
                }
                // Once per batch; the request log line of each request that waited has its request id.
                logger.error("audit: could not store AuditEvents", metadata: ["count": "\(batch.rows.count)"])
                let failure = StoreError(.unavailable, "the audit log could not be written")
                for waiter in batch.waiters { waiter.resume(throwing: failure) }
            }
        }
    }

    /// One statement for many events.
    static func insert(_ rows: AuditRows, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.rows(AuditRows.InsertStatement(rows: rows), logger: logger)
    }

    /// Pending rows and the callers waiting for them, behind a lock (no actor hop per request).
    private final class Queue: @unchecked Sendable {
        private let lock = NSLock()
        private var rows = AuditRows()
        private var waiters: [CheckedContinuation<Void, any Error>] = []
        private var draining = false

        var depth: Int { lock.withLock { rows.count } }

        /// Queues; true when the caller must start a drain.
        func enqueue(_ new: AuditRows, _ waiter: CheckedContinuation<Void, any Error>) -> Bool {
            lock.withLock {
                rows.append(contentsOf: new)
                waiters.append(waiter)
                if draining { return false }
                draining = true
                return true
            }
        }

        /// Everything queued (a waiter's rows are never split), or nil and the drain ends.
        func takeBatch() -> (rows: AuditRows, waiters: [CheckedContinuation<Void, any Error>])? {
            lock.withLock {
                guard !waiters.isEmpty else {
                    draining = false
                    return nil
                }
                let batch = (rows, waiters)
                rows = AuditRows()
                waiters = []
                return batch
            }
        }
    }
}

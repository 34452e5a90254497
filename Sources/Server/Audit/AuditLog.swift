import FHIRModels
import Foundation
import Logging
import PostgresNIO

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
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            if queue.enqueue(rows, continuation) {
                Task { await self.drain() }
            }
        }
    }

    public func record(_ record: AuditRecord) async throws {
        try await self.record([record])
    }

    /// Flushes batches until the queue is empty; only one drain runs at a time.
    private func drain() async {
        while let batch = queue.takeBatch() {
            do {
                try await client.withConnection { connection in
                    try await Self.insert(batch.rows, on: connection, logger: self.logger)
                }
                for waiter in batch.waiters { waiter.resume() }
            } catch {
                logger.error("audit: could not store AuditEvents", metadata: ["count": "\(batch.rows.count)"])
                let failure = StoreError(.unavailable, "the audit log could not be written")
                for waiter in batch.waiters { waiter.resume(throwing: failure) }
            }
        }
    }

    /// One statement for many events.
    static func insert(_ rows: AuditRows, on connection: PostgresConnection, logger: Logger) async throws {
        for try await _ in try await connection.execute(AuditRows.InsertStatement(rows: rows), logger: logger) {}
    }

    /// Pending rows and the callers waiting for them, behind a lock (no actor hop per request).
    private final class Queue: @unchecked Sendable {
        private let lock = NSLock()
        private var rows = AuditRows()
        private var waiters: [CheckedContinuation<Void, any Error>] = []
        private var draining = false

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

import Foundation
import Instrumentation
import Logging
import PostgresNIO
import Synchronization

/// Queries on the pool that always give their connection back.
///
/// `PostgresClient.query` and `PostgresClient.execute` (postgres-nio 1.33.2) lease a connection
/// and release it when the returned row sequence finishes. When the statement fails before the
/// caller starts reading (a full disk's `could not extend file`, a lock timeout), the row stream is
/// already in its failure state when it is handed over, and that path of
/// `PSQLRowStream.asyncSequence(onFinish:)` never calls `onFinish`: the connection stays leased for
/// good. A dozen such failures took the whole pool, and the server stopped answering (found by
/// `scripts/fault-test.py --only disk`; also the hung requests of `scripts/crash-test.py` part B).
///
/// These run the statement inside `withConnection`, which releases the lease on every outcome,
/// and read the rows there. The rows come back in memory: every caller read them all anyway.
extension PostgresClient {
    func rows(_ query: PostgresQuery, logger: Logger) async throws -> FetchedRows<PostgresRow> {
        try await leased { connection in try await connection.rows(query, logger: logger) }
    }

    func rows<Statement: PostgresPreparedStatement>(
        _ statement: Statement, logger: Logger
    ) async throws -> FetchedRows<Statement.Row> where Statement.Row: Sendable {
        try await leased { connection in try await connection.rows(statement, logger: logger) }
    }

    /// `body` in one transaction on a pooled connection: `PostgresConnection.inTransaction`.
    func inTransaction<Result>(
        logger: Logger, isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> sending Result
    ) async throws -> sending Result {
        try await leased(isolation: isolation) { connection in
            try await connection.inTransaction(logger: logger, isolation: isolation, body)
        }
    }

    /// `withConnection` with its wait bounded by `PoolLeaseLimit` (`PoolLease`), and the wait and
    /// the lease counted for `/metrics` (`DatabaseMetrics`: postgres-nio exposes neither). Every
    /// lease of the server's pool goes through here.
    func leased<Result>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> sending Result
    ) async throws -> sending Result {
        let metrics = DatabaseMetrics.current
        let budget = PoolLeaseLimit.budget
        let asked = ContinuousClock.now
        var leased = false
        do {
            return try await PoolLease.with(self, within: PoolLeaseLimit.forNextLease, isolation: isolation) { connection in
                leased = true
                let waited = ContinuousClock.now - asked
                budget?.spend(waited)
                metrics?.leased(after: waited)
                defer { metrics?.released() }
                return try await body(connection)
            }
        } catch {
            if !leased { budget?.spend(ContinuousClock.now - asked) }
            throw error
        }
    }
}

extension PostgresConnection {
    /// The same shape on a connection the caller already holds (a transaction), so that code
    /// running on either reads alike.
    ///
    /// A statement is never left waiting on a closed connection: postgres-nio (1.33.2) hands the
    /// statement to the channel with `write(…, promise: nil)` and waits for an answer that,
    /// once the channel is closed and its handlers are gone, nothing ever gives. A request whose
    /// transaction went on after PostgreSQL died hung that way for good, holding its pool lease,
    /// and the server could then not stop (`scripts/crash-test.py` part B). Checking `isClosed`
    /// first is not enough: the write reaches the event loop a moment later, and a statement
    /// sent at the instant PostgreSQL died still hung (2 crash runs of 3). So every statement
    /// runs under `ConnectionCloseWatch`, which answers 503 when the connection closes first.
    @discardableResult
    func rows(_ query: PostgresQuery, logger: Logger) async throws -> FetchedRows<PostgresRow> {
        try await Self.measured(DatabaseMetrics.kind(ofSQL: query.sql)) {
            try await ConnectionCloseWatch.shared.run(on: self) {
                var rows: [PostgresRow] = []
                for try await row in try await self.query(query, logger: logger) { rows.append(row) }
                return FetchedRows(rows)
            }
        }
    }

    /// `statement` timed for `/metrics` under `kind`, which is worked out only when metrics are
    /// installed (the installed metrics are read once).
    private static func measured<Value>(
        _ kind: @autoclosure () -> String, _ statement: () async throws -> Value
    ) async throws -> Value {
        let metrics = DatabaseMetrics.current
        // Only inside a traced request: a background worker's polls would each make a trace.
        let traced = ServerSpans.enabled && InstrumentationContext.current != nil
        guard metrics != nil || traced else { return try await statement() }
        let kind = kind()
        let start = ContinuousClock.now
        do {
            let value = traced ? try await ServerSpans.database(kind, statement) : try await statement()
            metrics?.statement(kind, took: ContinuousClock.now - start, failed: false)
            return value
        } catch {
            metrics?.statement(kind, took: ContinuousClock.now - start, failed: true)
            throw error
        }
    }

    /// A prepared statement, read to the end.
    ///
    /// postgres-nio (1.33.2) remembers a failed preparation per connection and answers every
    /// later execution of that statement on that connection with the same error, without asking
    /// PostgreSQL again. A preparation that waited for a lock until the statement timeout thus
    /// broke the statement on that connection until it closed: after a table lock was released,
    /// 62–70 % of reads and creates still got 503 (`scripts/fault-test.py --only slow`). On an
    /// error that can come from the preparation itself (a timeout, a lock, a shortage, the
    /// server going away), the connection is closed, so that the pool replaces it with a fresh
    /// one; an error of the execution proper (a unique violation) keeps it.
    @discardableResult
    func rows<Statement: PostgresPreparedStatement>(
        _ statement: Statement, logger: Logger
    ) async throws -> FetchedRows<Statement.Row> where Statement.Row: Sendable {
        do {
            return try await Self.measured(Statement.name) {
                try await ConnectionCloseWatch.shared.run(on: self) {
                    var rows: [Statement.Row] = []
                    for try await row in try await self.execute(statement, logger: logger) { rows.append(row) }
                    return FetchedRows(rows)
                }
            }
        } catch let error as PSQLError where Self.mayHaveFailedPreparation(error) {
            logger.warning(
                "database: closing a connection whose prepared statement failed; the pool opens a new one",
                metadata: ["statement": "\(Statement.name)", "sqlState": "\(error.serverInfo?[.sqlState] ?? "-")"])
            try? await self.close()
            throw error
        }
    }

    /// SQLSTATE classes a statement's preparation can fail with on a sound schema: 57 (a
    /// cancelled or timed-out statement, an administrator's shutdown), 55 (a lock not
    /// available), 53 (out of memory, disk or connections), 08 (the connection), 40P01 (a deadlock).
    static func mayHaveFailedPreparation(_ error: PSQLError) -> Bool {
        guard error.code == .server, let state = error.serverInfo?[.sqlState] else { return false }
        return state.hasPrefix("57") || state.hasPrefix("55") || state.hasPrefix("53") || state.hasPrefix("08")
            || state == "40P01"
    }

    /// `BEGIN`, `body`, `COMMIT`; on a failure, `ROLLBACK` and the failure itself.
    ///
    /// Not postgres-nio's `withTransaction`: after a failure it always writes `ROLLBACK`, also to a
    /// connection that has just closed, where it waits forever (see `rows`), and it wraps the
    /// failure in a `PostgresTransactionError`. Here the rollback is skipped when the connection
    /// is gone (PostgreSQL rolls back a transaction whose connection ended), and the caller gets
    /// the error that happened inside.
    func inTransaction<Result>(
        logger: Logger, isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> sending Result
    ) async throws -> sending Result {
        try await rows("BEGIN", logger: logger)
        let value: Result
        do {
            value = try await body(self)
        } catch {
            await rollBack(logger: logger)
            throw error
        }
        // A failed COMMIT has already ended the transaction (rolled back) on the server.
        try await rows("COMMIT", logger: logger)
        return value
    }

    /// `ROLLBACK`, unless the connection has closed (then the server has rolled back already).
    /// A failure of the rollback itself closes the connection, so that the pool never hands out
    /// one still inside a transaction.
    private func rollBack(logger: Logger) async {
        guard !isClosed else { return }
        do {
            try await rows("ROLLBACK", logger: logger)
        } catch {
            try? await close()
        }
    }
}

/// Runs statements so that their caller is answered when the connection closes, even if
/// postgres-nio never answers the statement itself (see `PostgresConnection.rows`).
///
/// The statement runs in a task of its own and the caller waits on a continuation that either
/// the statement's end or the connection's closing resumes, whichever comes first; a statement
/// abandoned that way stays suspended (postgres-nio holds nothing else for it). One
/// `closeFuture` callback per connection, registered at its first statement, fails every
/// statement then pending on it: a callback per statement would pile up on a long-lived
/// connection, as a future's callbacks are only released when it completes.
final class ConnectionCloseWatch: Sendable {
    static let shared = ConnectionCloseWatch()

    private struct State: ~Copyable {
        var nextID: UInt64 = 0
        /// Connections whose closing is watched, with their pending statements' failure hooks.
        var watched: [ObjectIdentifier: [UInt64: @Sendable () -> Void]] = [:]
    }
    private let state = Mutex(State())

    static var closed: StoreError { StoreError(.unavailable, "the database is unavailable") }

    func run<Value: Sendable>(
        on connection: PostgresConnection, _ statement: @escaping @Sendable () async throws -> Value
    ) async throws -> Value {
        if connection.isClosed { throw Self.closed }
        let key = ObjectIdentifier(connection)
        let outcome = OnceFlag()
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Value, any Error>) in
            let fail: @Sendable () -> Void = { if outcome.claim() { continuation.resume(throwing: Self.closed) } }
            let (id, isNew) = state.withLock { state -> (UInt64, Bool) in
                state.nextID &+= 1
                let isNew = state.watched[key] == nil
                state.watched[key, default: [:]][state.nextID] = fail
                return (state.nextID, isNew)
            }
            if isNew { connection.closeFuture.whenComplete { _ in self.connectionClosed(key) } }
            // Closed between the first check and the registration: its callback may have run
            // already (`isActive` turns false before `closeFuture` completes).
            if connection.isClosed {
                self.finished(key, id)
                fail()
                return
            }
            Task {
                do {
                    let value = try await statement()
                    self.finished(key, id)
                    if outcome.claim() { continuation.resume(returning: value) }
                } catch {
                    self.finished(key, id)
                    if outcome.claim() { continuation.resume(throwing: error) }
                }
            }
        }
    }

    private func finished(_ key: ObjectIdentifier, _ id: UInt64) {
        state.withLock { _ = $0.watched[key]?.removeValue(forKey: id) }
    }

    private func connectionClosed(_ key: ObjectIdentifier) {
        let pending = state.withLock { $0.watched.removeValue(forKey: key) } ?? [:]
        for fail in pending.values { fail() }
    }
}

/// True for the first caller of `claim` only.
private final class OnceFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var claimed = false

    func claim() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if claimed { return false }
        claimed = true
        return true
    }
}

/// Rows already read, as an async sequence, so that callers keep `for try await … in rows` and
/// postgres-nio's `decode(_:)` (defined on any async sequence of `PostgresRow`).
struct FetchedRows<Element: Sendable>: AsyncSequence, Sendable {
    let elements: [Element]

    init(_ elements: [Element]) {
        self.elements = elements
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: IndexingIterator<[Element]>
        mutating func next() async throws -> Element? { base.next() }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: elements.makeIterator()) }
}

import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

/// The bound on how long a request waits for a connection of the pool.
///
/// postgres-nio (1.33.2) queues a lease request until a connection is free, with no deadline of
/// its own. While a lock held every connection of the pool, requests queued behind them waited
/// for as long as the lock was held: 20 of 5,980 got their 503 after 9–12 s instead of within the
/// statement timeout plus a margin, and one read sent as PostgreSQL stopped had no answer within
/// 15 s (`scripts/fault-test.py --only slow`, finding 2 of docs/reliability.md). With this bound a
/// request waits at most this long for a connection and then gets 503 with `Retry-After`, and its
/// place in the pool's queue is given up.
///
/// The bound is per request, not per lease: a request takes several leases in turn (its token's
/// check, the read, the audit row), and with a bound on each one, reads still got their 503 after
/// 8–11 s. `RequestIDMiddleware` gives each request a `Budget` of waiting, which its leases
/// spend; work outside a request (bulk jobs, the command line) has the bound per lease.
///
/// The bound is process-wide, like the pool's metrics: `medrec serve` sets it from
/// `MEDREC_DATABASE_POOL_WAIT_MS` (default: the statement timeout, so a request spends at most
/// about twice the statement timeout on the database); 30 s otherwise.
enum PoolLeaseLimit {
    private static let milliseconds = Atomic<Int>(30_000)

    static var current: Duration { .milliseconds(milliseconds.load(ordering: .relaxed)) }

    static func set(milliseconds value: Int) {
        milliseconds.store(max(1, value), ordering: .relaxed)
    }

    static var exceeded: StoreError { StoreError(.unavailable, "no database connection became free in time") }

    /// The waiting left to the request being served (nil outside a request).
    @TaskLocal static var budget: Budget?

    /// How long a lease may wait now: what is left of the request's budget, else the bound.
    /// Never below 50 ms, so that a request whose budget is spent still gets a connection that
    /// is free at once.
    static var forNextLease: Duration {
        let bound = budget.map { max($0.remaining, .milliseconds(50)) } ?? current
        return cap.map { min($0, bound) } ?? bound
    }

    /// A tighter bound for the leases of one scope: the read replica's, where the primary can
    /// serve instead of a long wait.
    @TaskLocal static var cap: Duration?

    /// One request's waiting for connections, spent by its leases in turn.
    final class Budget: Sendable {
        private let left: Mutex<Duration>

        init(_ total: Duration = PoolLeaseLimit.current) {
            left = Mutex(total)
        }

        var remaining: Duration { left.withLock { $0 } }

        func spend(_ waited: Duration) {
            left.withLock { $0 -= waited }
        }
    }
}

/// One lease of a pool connection whose wait is bounded (`PoolLeaseLimit`).
///
/// `PostgresClient` offers only `withConnection`, whose lease has no deadline, and its
/// `leaseConnection` is private. So a task of its own takes the lease with `withConnection` and
/// hands the connection over to the caller, then holds the lease until the caller gives the
/// connection back. A timer on an event loop ends the wait: the caller gets
/// `PoolLeaseLimit.exceeded`, and the holding task is cancelled, which withdraws its request from
/// the pool's queue (postgres-nio's lease is cancellable). A connection that arrives after the
/// deadline is given back at once. Cancelling the caller's task does the same as the deadline.
final class PoolLease: Sendable {
    private enum Phase {
        case pending
        case callerWaiting(CheckedContinuation<PostgresConnection, any Error>)
        case ready(PostgresConnection)
        case lent
        case failed(any Error)
        case done
    }

    private struct State {
        var phase = Phase.pending
        var returned = false
        var holderWaiting: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    /// Leases a connection from `client` within `limit`, runs `body` on it, and gives it back.
    static func with<Result>(
        _ client: PostgresClient, within limit: Duration, isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> sending Result
    ) async throws -> sending Result {
        let lease = PoolLease()
        let holder = Task {
            do {
                try await client.withConnection { connection in
                    guard lease.deliver(connection) else { return }
                    await lease.untilReturned()
                }
            } catch {
                lease.fail(error)
            }
        }
        let end: @Sendable (any Error) -> Void = { error in if lease.fail(error) { holder.cancel() } }
        let key = Waiting.Key(pool: ObjectIdentifier(client), lease: ObjectIdentifier(lease))
        let poolIsDown = Waiting.shared.add(key, end)
        // While the database is flagged down, a lease waits at most `whileDown`: a connection
        // the pool still has is taken at once, and otherwise the 503 comes as quickly as the
        // store's own (a request's token check comes before the store's availability check).
        let wait = poolIsDown ? min(limit, whileDown) : limit
        let timer = MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: TimeAmount(wait)) {
            end(PoolLeaseLimit.exceeded)
        }
        let connection: PostgresConnection
        do {
            connection = try await withTaskCancellationHandler {
                try await lease.connection()
            } onCancel: {
                end(CancellationError())
            }
        } catch {
            timer.cancel()
            Waiting.shared.remove(key)
            throw error
        }
        timer.cancel()
        Waiting.shared.remove(key)
        defer { lease.giveBack() }
        return try await body(connection)
    }

    /// Ends every wait for a connection of `client`'s pool with `error` (503): called by
    /// `DatabaseAvailability` when the database stops answering, so that requests already queued
    /// get their 503 as soon as new ones do, not only at the end of their budget. With
    /// PostgreSQL gone after a full WAL disk, a read queued as it stopped waited the whole
    /// statement timeout (30 s by default; `scripts/fault-test.py --only disk`).
    static func endWaits(on client: PostgresClient, with error: any Error) {
        for end in Waiting.shared.markDown(pool: ObjectIdentifier(client), true) { end(error) }
    }

    /// The database answers again: leases wait their full bound again.
    static func databaseAnswers(on client: PostgresClient) {
        _ = Waiting.shared.markDown(pool: ObjectIdentifier(client), false)
    }

    /// The longest wait of a lease while its pool's database is flagged down.
    static let whileDown: Duration = .seconds(1)

    /// The leases waiting for a connection, by pool.
    private final class Waiting: Sendable {
        static let shared = Waiting()

        struct Key: Hashable {
            let pool: ObjectIdentifier
            let lease: ObjectIdentifier
        }

        private struct State {
            var ends: [ObjectIdentifier: [ObjectIdentifier: @Sendable (any Error) -> Void]] = [:]
            /// Pools whose database `DatabaseAvailability` has flagged down.
            var down: Set<ObjectIdentifier> = []
        }

        private let state = Mutex(State())

        /// Registers a wait; true if its pool is flagged down.
        func add(_ key: Key, _ end: @escaping @Sendable (any Error) -> Void) -> Bool {
            state.withLock { state in
                state.ends[key.pool, default: [:]][key.lease] = end
                return state.down.contains(key.pool)
            }
        }

        func remove(_ key: Key) {
            state.withLock { state in
                state.ends[key.pool]?.removeValue(forKey: key.lease)
                if state.ends[key.pool]?.isEmpty == true { state.ends.removeValue(forKey: key.pool) }
            }
        }

        /// Flags `pool` down or up; flagged down, its waits are removed and returned.
        func markDown(pool: ObjectIdentifier, _ isDown: Bool) -> [@Sendable (any Error) -> Void] {
            state.withLock { state in
                guard isDown else {
                    state.down.remove(pool)
                    return []
                }
                state.down.insert(pool)
                return Array((state.ends.removeValue(forKey: pool) ?? [:]).values)
            }
        }
    }

    /// The connection, once the holder has it (or the failure that came first).
    private func connection() async throws -> PostgresConnection {
        try await withCheckedThrowingContinuation { continuation in
            let now: Result<PostgresConnection, any Error>? = state.withLock { state in
                switch state.phase {
                case .pending:
                    state.phase = .callerWaiting(continuation)
                    return nil
                case .ready(let connection):
                    state.phase = .lent
                    return .success(connection)
                case .failed(let error):
                    state.phase = .done
                    return .failure(error)
                case .callerWaiting, .lent, .done:
                    preconditionFailure("a pool lease is awaited once")
                }
            }
            if let now { continuation.resume(with: now) }
        }
    }

    /// The holder has the connection; false if the caller no longer waits for it (the holder
    /// then gives it back at once).
    private func deliver(_ connection: PostgresConnection) -> Bool {
        let waiting: CheckedContinuation<PostgresConnection, any Error>?? = state.withLock { state in
            switch state.phase {
            case .pending:
                state.phase = .ready(connection)
                return .some(nil)
            case .callerWaiting(let continuation):
                state.phase = .lent
                return .some(continuation)
            case .failed, .done, .ready, .lent:
                return nil
            }
        }
        guard let waiting else { return false }
        waiting?.resume(returning: connection)
        return true
    }

    /// Ends the wait with `error`, unless the connection was handed over already. True if it did.
    @discardableResult
    private func fail(_ error: any Error) -> Bool {
        let outcome: (ended: Bool, waiting: CheckedContinuation<PostgresConnection, any Error>?) = state.withLock { state in
            switch state.phase {
            case .pending:
                state.phase = .failed(error)
                return (true, nil)
            case .callerWaiting(let continuation):
                state.phase = .done
                return (true, continuation)
            case .ready, .lent, .failed, .done:
                return (false, nil)
            }
        }
        outcome.waiting?.resume(throwing: error)
        return outcome.ended
    }

    /// The holder waits here until the caller is done with the connection.
    private func untilReturned() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { state -> Bool in
                if state.returned { return true }
                state.holderWaiting = continuation
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    private func giveBack() {
        let holder = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.returned = true
            defer { state.holderWaiting = nil }
            return state.holderWaiting
        }
        holder?.resume()
    }
}

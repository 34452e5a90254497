import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Watches whether the database answers, so that during an outage requests get 503 at once
/// instead of queueing in the pool (postgres-nio keeps retrying a refused connection for about
/// a minute before failing queued queries). The server recovers by itself: the probe keeps
/// running and clears the flag as soon as the database answers again.
public final class DatabaseAvailability: Service, Sendable {
    private let client: PostgresClient
    private let logger: Logger
    private let interval: Duration
    private let probeTimeout: Duration
    private let down = Atomic<Bool>(false)

    public init(client: PostgresClient, logger: Logger, interval: Duration = .seconds(1), probeTimeout: Duration = .seconds(2)) {
        self.client = client
        self.logger = logger
        self.interval = interval
        self.probeTimeout = probeTimeout
    }

    /// True while the last probe failed.
    public var isDown: Bool { down.load(ordering: .relaxed) }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let answered = await self.probe()
                let wasDown = self.down.exchange(!answered, ordering: .relaxed)
                if wasDown != !answered {
                    if answered {
                        PoolLease.databaseAnswers(on: self.client)
                        self.logger.notice("database is reachable again")
                    } else {
                        self.logger.error("database is unreachable; answering 503 until it returns")
                        // Requests already waiting for a connection get their 503 now too.
                        PoolLease.endWaits(on: self.client, with: StoreError(.unavailable, "the database is unavailable"))
                    }
                }
                try? await Task.sleep(for: self.interval)
            }
        }
        // The flag is kept by pool identity: a later pool at the same address must not inherit it.
        PoolLease.databaseAnswers(on: client)
    }

    /// One `SELECT 1`, answered within `probeTimeout` or counted as failed. The query runs in a
    /// task of its own that the probe does not wait for: a query queued in the pool during an
    /// outage may ignore cancellation until the pool gives up (about a minute), and awaiting it
    /// would keep the flag unset all that time. While an earlier probe's query is still
    /// pending, no second one is queued behind it.
    private func probe() async -> Bool {
        if let pending = pendingProbe.withLock({ $0 }), pending.value == nil { return false }
        let answer = ProbeAnswer()
        pendingProbe.withLock { $0 = answer }
        Task { [client, logger] in
            answer.resolve((try? await client.rows("SELECT 1", logger: logger)) != nil)
        }
        let deadline = ContinuousClock.now + probeTimeout
        while ContinuousClock.now < deadline {
            if let answered = answer.value { return answered }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return answer.value ?? false
    }

    /// The last probe's answer; nil while its query is still pending.
    private let pendingProbe = Mutex<ProbeAnswer?>(nil)
}

/// The answer of a probe's query, once it has one.
final class ProbeAnswer: Sendable {
    private let state = Mutex<Bool?>(nil)

    func resolve(_ answered: Bool) {
        state.withLock { $0 = answered }
    }

    var value: Bool? { state.withLock { $0 } }
}

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
                        self.logger.notice("database is reachable again")
                    } else {
                        self.logger.error("database is unreachable; answering 503 until it returns")
                    }
                }
                try? await Task.sleep(for: self.interval)
            }
        }
    }

    private func probe() async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                do {
                    try await self.client.query("SELECT 1", logger: self.logger)
                    return true
                } catch {
                    return false
                }
            }
            group.addTask {
                try? await Task.sleep(for: self.probeTimeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }
}

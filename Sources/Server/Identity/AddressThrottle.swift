import Foundation

/// Failed logins per client address, in this process: past `limit` failures in `window` the
/// address waits until the window ends. (Per-account locks live in PostgreSQL and hold across
/// processes; this one bounds a single source guessing across many accounts.)
final class AddressThrottle: @unchecked Sendable {
    private let lock = NSLock()
    private var failures: [String: (count: Int, start: Date)] = [:]
    let limit: Int
    let window: TimeInterval

    init(limit: Int = 30, window: TimeInterval = 300) {
        self.limit = limit
        self.window = window
    }

    /// When the address may try again, if it is blocked now.
    func blockedUntil(_ address: String?, now: Date = Date()) -> Date? {
        guard let address else { return nil }
        return lock.withLock {
            guard let entry = failures[address], now.timeIntervalSince(entry.start) < window, entry.count >= limit else { return nil }
            return entry.start.addingTimeInterval(window)
        }
    }

    func recordFailure(_ address: String?, now: Date = Date()) {
        guard let address else { return }
        lock.withLock {
            if failures.count > 100_000 {
                failures = failures.filter { now.timeIntervalSince($0.value.start) < window }
            }
            if let entry = failures[address], now.timeIntervalSince(entry.start) < window {
                failures[address] = (entry.count + 1, entry.start)
            } else {
                failures[address] = (1, now)
            }
        }
    }
}

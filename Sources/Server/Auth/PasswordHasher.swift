import Dispatch
import HummingbirdBcrypt
import Synchronization

/// bcrypt hashing and verification, run off the NIO event loops and off Swift's cooperative pool.
///
/// A bcrypt at cost 12 takes a quarter of a second of CPU. Each runs on one of `maxConcurrent` dedicated threads at
/// lowered scheduling priority (`LowPriorityWorkers`) while the caller's task is suspended; up to `maxWaiting` further callers queue in order, and
/// beyond that `PasswordHasherBusy` is thrown immediately, so a login flood cannot starve other requests.
/// bcrypt reads at most 72 bytes of the password.
public final class PasswordHasher: Sendable {
    public let cost: Int
    public let maxConcurrent: Int
    public let maxWaiting: Int
    /// The hash an unknown account is checked against: same algorithm and cost as real ones.
    let dummyHash: String
    /// `maxConcurrent` dedicated threads at lowered priority: hashing never runs on the event
    /// loops or the cooperative pool, and yields the CPU to them under load.
    private let workers: LowPriorityWorkers
    private let state = Mutex(State())

    private struct State: ~Copyable {
        var running = 0
        var waiting: [CheckedContinuation<Void, any Error>] = []
    }

    /// `niceness` is the hashing threads' `nice` (10 by default: below request handling). The
    /// test apps pass 0: their many hashers share two cores with a whole parallel suite, and at
    /// nice 10 a cost-4 hash waited over 20 s there behind work at nice 0.
    public init(cost: Int = 12, maxConcurrent: Int = 1, maxWaiting: Int = 64, niceness: Int32 = 10) {
        precondition((4...31).contains(cost), "bcrypt cost must be between 4 and 31")
        precondition(maxConcurrent >= 1, "maxConcurrent must be at least 1")
        precondition(maxWaiting >= 0, "maxWaiting must not be negative")
        self.cost = cost
        self.maxConcurrent = maxConcurrent
        self.maxWaiting = maxWaiting
        self.dummyHash = Self.dummyHash(cost: cost)
        self.workers = LowPriorityWorkers(count: maxConcurrent, niceness: niceness, name: "bcrypt")
    }

    /// A bcrypt hash (`$2b$`, this hasher's cost, random salt) of `password`.
    public func hash(_ password: String) async throws -> String {
        let cost = UInt8(cost)
        return try await run { Bcrypt.hash(password, cost: cost) }
    }

    /// Whether `password` matches `hash`. For a `nil` hash (no such account) it spends the same time on a dummy
    /// hash of the same cost and returns false, so response time does not reveal which accounts exist.
    public func verify(_ password: String, against hash: String?) async throws -> Bool {
        guard let hash else {
            let dummy = dummyHash
            _ = try await run { Bcrypt.verify(password, hash: dummy) }
            return false
        }
        return try await run { Bcrypt.verify(password, hash: hash) }
    }

    /// Stops the hashing threads once their current work is done.
    public func shutdown() async throws {
        workers.stop()
    }

    /// Runs `work` on a Dispatch thread once a slot is free. Internal so tests can hold a slot deterministically.
    func run<Result: Sendable>(_ work: @escaping @Sendable () -> Result) async throws -> Result {
        try await acquire()
        defer { release() }
        return await withCheckedContinuation { continuation in
            workers.submit { continuation.resume(returning: work()) }
        }
    }

    /// How many jobs hold a slot and how many wait for one.
    var queueDepth: (running: Int, waiting: Int) {
        state.withLock { ($0.running, $0.waiting.count) }
    }

    /// Takes a slot, waiting in line if all are busy; throws when the line is already full.
    private func acquire() async throws {
        enum Admission { case run, wait, refuse }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let admission: Admission = state.withLock { state in
                if state.running < maxConcurrent {
                    state.running += 1
                    return .run
                }
                guard state.waiting.count < maxWaiting else { return .refuse }
                state.waiting.append(continuation)
                return .wait
            }
            switch admission {
            case .run: continuation.resume()
            case .refuse: continuation.resume(throwing: PasswordHasherBusy())
            case .wait: break
            }
        }
    }

    /// Hands the slot to the next waiter, or frees it.
    private func release() {
        let next: CheckedContinuation<Void, any Error>? = state.withLock { state in
            if state.waiting.isEmpty {
                state.running -= 1
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.resume()
    }

    /// A valid bcrypt hash of a random-looking secret nobody knows, at `cost`. The cost is part of the hash text, so
    /// changing its digits yields a hash that takes exactly as long to check as a real one of that cost.
    private static func dummyHash(cost: Int) -> String {
        let digits = cost < 10 ? "0\(cost)" : "\(cost)"
        return "$2b$\(digits)$" + dummySaltAndDigest
    }

    private static let dummySaltAndDigest = "fV6oeuNpRAfJESl7IKDPBe8xcSDd8.KEuX/oZUyZDcUkFDomn00Ty"
}

import Dispatch
import Foundation
import HummingbirdBcrypt
#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Server

@Suite struct PasswordTests {
    struct PolicyRow: Sendable, CustomStringConvertible {
        let label: String
        let password: String
        let email: String?
        let acceptable: Bool
        var description: String { label }
    }

    @Test(arguments: [
        PolicyRow(label: "twelve characters", password: "violet-harbor", email: nil, acceptable: true),
        PolicyRow(label: "eleven characters", password: "abcdefghijk", email: nil, acceptable: false),
        PolicyRow(label: "empty", password: "", email: nil, acceptable: false),
        PolicyRow(label: "128 characters", password: String(repeating: "xy", count: 64), email: nil, acceptable: true),
        PolicyRow(label: "129 characters", password: String(repeating: "z", count: 129), email: nil, acceptable: false),
        // 12 Characters but 24 bytes and more unicode scalars: Characters are what counts.
        PolicyRow(label: "twelve emoji", password: String(repeating: "👩‍⚕️", count: 12), email: nil, acceptable: true),
        PolicyRow(label: "no composition rules", password: "correct horse battery", email: nil, acceptable: true),
        PolicyRow(label: "common", password: "password1234", email: nil, acceptable: false),
        PolicyRow(label: "common, other case", password: "QwertyUiopAS", email: nil, acceptable: false),
        PolicyRow(label: "common digits", password: "123456789012", email: nil, acceptable: false),
        PolicyRow(label: "equals email", password: "Ada.Lovelace@example.org", email: "ada.lovelace@example.org", acceptable: false),
        PolicyRow(label: "differs from email", password: "Ada.Lovelace@example.org", email: "ada@example.org", acceptable: true),
        PolicyRow(label: "NUL inside", password: "abcdefgh\u{0}ijklmn", email: nil, acceptable: false),
    ])
    func policy(_ row: PolicyRow) {
        let problems = PasswordPolicy.problems(with: row.password, email: row.email)
        #expect(problems.isEmpty == row.acceptable, "\(problems)")
        for problem in problems where !row.password.isEmpty {
            #expect(!problem.contains(row.password))
        }
    }

    @Test func tooShortAndCommonAreBothReported() {
        #expect(PasswordPolicy.problems(with: "abc", email: "abc").count == 2)
    }

    @Test func blocklistEntriesAreLongAndLowercase() {
        #expect(PasswordPolicy.blocklist.count >= 100)
        for entry in PasswordPolicy.blocklist {
            #expect(entry == entry.lowercased())
            #expect(entry.count >= PasswordPolicy.minimumLength)
        }
    }

    @Test func productionCostHashVerifies() async throws {
        let hasher = PasswordHasher()
        let hash = try await hasher.hash("violet-harbor-42")
        #expect(hash.hasPrefix("$2b$12$"))
        #expect(!hash.contains("violet"))
        #expect(try await hasher.verify("violet-harbor-42", against: hash))
        try await hasher.shutdown()
    }

    @Test func verifiesRightWrongAndMissingHashes() async throws {
        let hasher = PasswordHasher(cost: 4)
        let hash = try await hasher.hash("violet-harbor-42")
        #expect(hash.hasPrefix("$2b$04$"))
        #expect(try await hasher.verify("violet-harbor-42", against: hash))
        #expect(try await !hasher.verify("violet-harbor-43", against: hash))
        #expect(try await !hasher.verify("violet-harbor-42", against: nil))
        #expect(try await !hasher.verify("violet-harbor-42", against: "not a bcrypt hash"))
        // Salted: the same password hashes differently each time.
        #expect(try await hasher.hash("violet-harbor-42") != hash)
        try await hasher.shutdown()
    }

    /// The unknown-account path does real bcrypt work at the hasher's cost, not an instant `false`:
    /// its dummy hash is a well-formed bcrypt hash of the same cost, so checking it costs what
    /// checking a real one does. (Asserted structurally: timing assertions are benchmark work,
    /// and flaky on a loaded machine.)
    @Test func missingHashIsCheckedAgainstADummyOfTheSameCost() async throws {
        for cost in [4, 10, 12] {
            let hasher = PasswordHasher(cost: cost)
            let real = try await hasher.hash("violet-harbor-42")
            #expect(hasher.dummyHash.prefix(7) == real.prefix(7), "cost \(cost)")
            #expect(hasher.dummyHash.count == real.count)
            // A well-formed hash: bcrypt runs on it and says no, rather than refusing it outright.
            #expect(try Bcrypt.verify("violet-harbor-42", hash: hasher.dummyHash) == false)
            #expect(try await hasher.verify("violet-harbor-42", against: nil) == false)
        }
    }

    /// bcrypt yields the CPU to request handling: its threads run niced (Linux nice is per thread).
    @Test func hashingRunsOnLowPriorityThreads() async throws {
        #if canImport(Glibc)
        let hasher = PasswordHasher(cost: 4)
        let base = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        let niceness = try await hasher.run { getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0) }
        #expect(niceness > base, "hashing thread nice \(niceness), caller \(base)")
        try await hasher.shutdown()
        #endif
    }

    @Test func refusesCallersBeyondTheWaitingLineAndServesThemInTurn() async throws {
        let hasher = PasswordHasher(cost: 4, maxConcurrent: 1, maxWaiting: 2)
        let gate = DispatchSemaphore(value: 0)
        // Occupy the only slot with work that blocks until the gate opens, then fill the line behind it.
        let running = Task { try await hasher.run { gate.wait(); return 1 } }
        try await waitUntil { hasher.queueDepth == (running: 1, waiting: 0) }
        let first = Task { try await hasher.run { 2 } }
        try await waitUntil { hasher.queueDepth.waiting == 1 }
        let second = Task { try await hasher.run { 3 } }
        try await waitUntil { hasher.queueDepth.waiting == 2 }

        // Refusal is immediate. Should a caller be queued instead, the watchdog opens the gate so the test fails
        // rather than hangs.
        let watchdog = Task {
            try await Task.sleep(for: .seconds(10))
            gate.signal()
        }
        defer { watchdog.cancel() }
        await #expect(throws: PasswordHasherBusy.self) { try await hasher.hash("one-too-many-1") }
        await #expect(throws: PasswordHasherBusy.self) { try await hasher.verify("one-too-many-2", against: nil) }

        gate.signal()
        #expect(try await running.value == 1)
        #expect(try await first.value == 2)
        #expect(try await second.value == 3)
        #expect(hasher.queueDepth == (running: 0, waiting: 0))
        // Once the line drains, the hasher serves again.
        #expect(try await !hasher.verify("later-attempt", against: nil))
    }

    @Test func runsAtMostMaxConcurrentAtOnce() async throws {
        let hasher = PasswordHasher(cost: 4, maxConcurrent: 2, maxWaiting: 64)
        let gate = DispatchSemaphore(value: 0)
        let tasks = (0..<4).map { index in Task { try await hasher.run { gate.wait(); return index } } }
        try await waitUntil { hasher.queueDepth == (running: 2, waiting: 2) }
        for _ in 0..<4 { gate.signal() }
        var results: [Int] = []
        for task in tasks { results.append(try await task.value) }
        #expect(results == [0, 1, 2, 3])
    }

    /// Polls `condition` for up to five seconds.
    private func waitUntil(_ condition: () -> Bool) async throws {
        for _ in 0..<500 where !condition() {
            try await Task.sleep(for: .milliseconds(10))
        }
        try #require(condition())
    }

    @Test func opaqueTokensAreRandomBase64URLAndHashToHex() {
        let token = OpaqueToken.generate()
        #expect(token.count == 43)
        #expect(token.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        #expect(OpaqueToken.generate() != token)
        #expect(OpaqueToken.generate(bytes: 16).count == 22)
        #expect(OpaqueToken.hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(OpaqueToken.hash(token).count == 64)
    }
}

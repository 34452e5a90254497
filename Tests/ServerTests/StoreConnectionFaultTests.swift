import FHIRModels
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization
import Testing
@testable import Server

/// Two faults postgres-nio (1.33.2) turns into lasting damage unless the store guards against
/// them, each found by a fault script (docs/reliability.md): a connection that dies inside a
/// transaction, and a prepared statement whose preparation fails.
/// Serialized: the pool stress test's load and cluster restarts would otherwise slow its
/// neighbours past their time limits at the busy start of a full run on two cores.
@Suite(.serialized) struct StoreConnectionFaultTests {
    /// A pool of at most `size` connections, running for `body`.
    static func withStore(
        _ endpoint: DatabaseEndpoint, size: Int, statementTimeoutMilliseconds: Int,
        _ body: @Sendable (PostgresResourceStore) async throws -> Void
    ) async throws {
        var pool = ServerSettings.DatabasePoolSettings()
        pool.size = size
        let client = PostgresClient(
            configuration: endpoint.clientConfiguration(statementTimeoutMilliseconds: statementTimeoutMilliseconds, pool: pool),
            backgroundLogger: TestDatabase.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await body(PostgresResourceStore(client: client, logger: TestDatabase.logger))
        }
    }

    /// `scripts/crash-test.py` part B: requests inside a transaction when PostgreSQL died were
    /// never answered. postgres-nio writes a statement to a closed connection and waits for an
    /// answer that never comes, and its `withTransaction` sends `ROLLBACK` that way after every
    /// failure. The time limit is what fails without the guard: the transaction hangs (three
    /// minutes: a hang is for good, and a full run on two cores once took 60 s to get this far).
    @Test(.timeLimit(.minutes(3)))
    func aTransactionWhoseConnectionDiesFailsAsUnavailableAndThePoolServesOn() async throws {
        let endpoint = try await TestDatabase.fresh()
        try await Self.withStore(endpoint, size: 2, statementTimeoutMilliseconds: 30_000) { store in
            let created = try await store.transaction { try await $0.create(type: "Patient", resource: FHIRRestTests.patient, id: nil) }
            let failure = await #expect(throws: StoreError.self) {
                try await store.transaction { transaction in
                    let connection = try #require((transaction as? PostgresResourceTransaction)?.connection)
                    var pid: Int32 = 0
                    for try await value in try await connection.rows("SELECT pg_backend_pid()", logger: TestDatabase.logger)
                        .decode(Int32.self) { pid = value }
                    // PostgreSQL ends this transaction's session, as when it dies.
                    try await endpoint.withConnection(logger: TestDatabase.logger) { other in
                        try await other.rows("SELECT pg_terminate_backend(\(pid))", logger: TestDatabase.logger)
                    }
                    while !connection.isClosed { try await Task.sleep(for: .milliseconds(10)) }
                    try await Task.sleep(for: .milliseconds(200))  // and the channel's handlers are gone
                    // The next statement of the transaction: what hung for good.
                    _ = try await transaction.readForUpdate(type: "Patient", id: created.id)
                }
            }
            #expect(failure?.code == .unavailable)
            // The dead connection left the pool; the next request gets a live one.
            for _ in 0..<4 {
                #expect(try await store.read(type: "Patient", id: created.id).id == created.id)
            }
        }
    }

    /// `scripts/fault-test.py --only slow`: a table lock held while a pool connection first
    /// prepared the read statement made that preparation time out, and postgres-nio answered
    /// every later read on that connection with the same timeout, long after the lock was gone.
    /// One connection in the pool, so that the next read has to use the same one.
    /// (Three minutes: at the start of a full run on two cores it took 60 s to get this far.)
    /// `scripts/fault-test.py --only slow`, finding 2: postgres-nio queues a lease with no
    /// deadline, so while every connection was busy, requests waited as long as the lock was
    /// held. `PoolLease` bounds the wait: on a pool of one whose connection is held, a lease
    /// gives up after its limit with `unavailable`, and gives up its place in the queue too: once
    /// the connection is free, a fresh lease gets it at once (had the abandoned request kept its
    /// place, it would take the connection and never give it back, and that lease would hang).
    /// Cancelling the waiting task or an outage ends the wait the same way, and a request's
    /// leases share one budget of waiting.
    @Test(.timeLimit(.minutes(3)))
    func aLeaseWaitsForAConnectionAtMostItsLimitAndLeavesTheQueue() async throws {
        let endpoint = try await TestDatabase.fresh()
        var pool = ServerSettings.DatabasePoolSettings()
        pool.size = 1
        let client = PostgresClient(
            configuration: endpoint.clientConfiguration(statementTimeoutMilliseconds: 30_000, pool: pool),
            backgroundLogger: TestDatabase.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            let held = StopFlag(), release = StopFlag()
            let holder = Task {
                try await PoolLease.with(client, within: .seconds(60)) { connection in
                    try await connection.rows("SELECT 1", logger: TestDatabase.logger)
                    held.set()
                    while !release.isSet { try await Task.sleep(for: .milliseconds(10)) }
                }
            }
            while !held.isSet { try await Task.sleep(for: .milliseconds(10)) }

            for _ in 0..<3 {
                let start = ContinuousClock.now
                let error = await #expect(throws: StoreError.self) {
                    try await PoolLease.with(client, within: .milliseconds(300)) { _ in Issue.record("leased a held connection") }
                }
                let waited = ContinuousClock.now - start
                #expect(error?.code == .unavailable)
                #expect(waited >= .milliseconds(300) && waited < .seconds(10), "\(waited)")
            }
            // Within a request the bound is on all its waits together: three leases in turn
            // spend one budget of 1 s (then 50 ms each at least), not 1 s each.
            let budgetStart = ContinuousClock.now
            try await PoolLeaseLimit.$budget.withValue(PoolLeaseLimit.Budget(.seconds(1))) {
                for _ in 0..<3 {
                    await #expect(throws: StoreError.self) { try await client.leased { _ in Issue.record("leased a held connection") } }
                }
            }
            let spent = ContinuousClock.now - budgetStart
            #expect(spent >= .seconds(1) && spent < .milliseconds(2_500), "\(spent)")
            // An outage flagged by `DatabaseAvailability` ends every wait on that pool at once.
            let queued = Task { try await PoolLease.with(client, within: .seconds(60)) { _ in Issue.record("leased a held connection") } }
            try await Task.sleep(for: .milliseconds(100))
            let ending = ContinuousClock.now
            PoolLease.endWaits(on: client, with: StoreError(.unavailable, "the database is unavailable"))
            let ended = await #expect(throws: StoreError.self) { try await queued.value }
            #expect(ended?.code == .unavailable)
            #expect(ContinuousClock.now - ending < .seconds(5))
            // While flagged down, a new lease waits at most `PoolLease.whileDown`, not its bound.
            let downStart = ContinuousClock.now
            await #expect(throws: StoreError.self) { try await PoolLease.with(client, within: .seconds(60)) { _ in } }
            #expect(ContinuousClock.now - downStart < .seconds(5))
            PoolLease.databaseAnswers(on: client)
            // A waiting task that is cancelled stops waiting too.
            let cancelled = Task { try await PoolLease.with(client, within: .seconds(60)) { _ in } }
            try await Task.sleep(for: .milliseconds(100))
            cancelled.cancel()
            await #expect(throws: (any Error).self) { try await cancelled.value }

            release.set()
            try await holder.value
            let start = ContinuousClock.now
            let answer = try await PoolLease.with(client, within: .seconds(30)) { connection in
                try await connection.rows("SELECT 41 + 1", logger: TestDatabase.logger).decode(Int.self).reduce(0, +)
            }
            #expect(answer == 42)
            #expect(ContinuousClock.now - start < .seconds(5), "the freed connection went to an abandoned request")
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func aPreparationThatTimedOutUnderALockDoesNotBreakTheConnectionForLater() async throws {
        let endpoint = try await TestDatabase.fresh()
        try await Self.withStore(endpoint, size: 1, statementTimeoutMilliseconds: 500) { store in
            let created = try await store.transaction { try await $0.create(type: "Patient", resource: FHIRRestTests.patient, id: nil) }
            try await endpoint.withConnection(logger: TestDatabase.logger) { locker in
                try await locker.rows("BEGIN", logger: TestDatabase.logger)
                try await locker.rows("LOCK TABLE resource IN ACCESS EXCLUSIVE MODE", logger: TestDatabase.logger)
                let during = await #expect(throws: StoreError.self) {
                    _ = try await store.read(type: "Patient", id: created.id)
                }
                #expect(during?.code == .timeout)
                try await locker.rows("COMMIT", logger: TestDatabase.logger)
            }
            for _ in 0..<5 {
                #expect(try await store.read(type: "Patient", id: created.id).id == created.id)
            }
        }
    }

    /// `scripts/crash-test.py` part B: medrec died with SIGILL (2 runs of 3) when PostgreSQL was
    /// SIGKILLed under load and its watchdog started it again. postgres-nio 1.33.2 traps on
    /// `precondition(minimumConcurrentConnections <= active)` (PoolStateMachine+ConnectionGroup
    /// .swift:163) when a lease needs a new connection while the pool holds fewer than its minimum:
    /// while connects fail it drops every connection but the one it retries. With a warm minimum
    /// (the server's default until this test) a database crash could kill the process. This runs
    /// that sequence, six times, on the server's own default pool settings under a steady
    /// load: a trap fails it by ending the test process.
    @Test(.timeLimit(.minutes(4)))
    func theServersPoolSurvivesTheDatabaseDyingAndComingBackUnderLoad() async throws {
        let logger = TestDatabase.logger
        let dataDirectory = try TemporaryDirectory.make(prefix: "medrec-pool-restart")
        defer {
            EmbeddedPostgres.stopImmediatelyBlocking(dataDirectory: dataDirectory)
            try? FileManager.default.removeItem(atPath: dataDirectory)
        }
        var options = EmbeddedPostgres.Options()
        options.durable = false
        options.watchInterval = .milliseconds(200)  // medrec's watchdog brings it back
        let cluster = EmbeddedPostgres(dataDirectory: dataDirectory, options: options, logger: logger)
        let endpoint = try await cluster.start()
        let layout = try #require(ClusterLayout.existing(in: ClusterLayout.absolute(dataDirectory)))
        let settings = ServerSettings()  // the server's pool, unmodified
        #expect(settings.pool.size > 1)
        let client = PostgresClient(
            configuration: endpoint.clientConfiguration(
                statementTimeoutMilliseconds: settings.limits.statementTimeoutMilliseconds, pool: settings.pool),
            backgroundLogger: logger)
        @Sendable func query(_ sql: String) async -> Bool {
            (try? await client.withConnection { try await $0.rows(PostgresQuery(unsafeSQL: sql), logger: logger) }) != nil
        }
        let group = ServiceGroup(configuration: .init(services: [cluster, client], logger: logger))
        let services = Task { try await group.run() }
        let stop = StopFlag()
        // As many workers as connections, each holding its connection a moment and pausing
        // between queries (light enough not to starve the rest of a parallel suite on two cores).
        let load = Task {
            await withTaskGroup(of: Int.self) { workers in
                for _ in 0..<settings.pool.size {
                    workers.addTask {
                        var served = 0
                        while !stop.isSet {
                            if await query("SELECT pg_sleep(0.005)") { served += 1 }
                            try? await Task.sleep(for: .milliseconds(served % 2 == 0 ? 1 : 5))
                        }
                        return served
                    }
                }
                return await workers.reduce(0, +)
            }
        }
        for cycle in 0..<6 {
            try await Task.sleep(for: .milliseconds(300))
            let postmaster = try #require(PostmasterPIDFile.read(pgdata: layout.pgdata))
            Self.killProcessTree(postmaster.pid)
            // Down for a moment (the watchdog's interval, then crash recovery), then back.
            var back = false
            for _ in 0..<600 where !back {
                try await Task.sleep(for: .milliseconds(100))
                if let file = PostmasterPIDFile.read(pgdata: layout.pgdata), file.pid != postmaster.pid,
                    file.isLive(pgdata: layout.pgdata)
                {
                    back = await query("SELECT 1")
                }
            }
            #expect(back, "cycle \(cycle): the pool did not serve within 60 s of the kill")
        }
        stop.set()
        #expect(await load.value > 0)
        // After it all the pool serves as many requests at once as it has connections.
        let burst = await withTaskGroup(of: Bool.self) { burst in
            for _ in 0..<settings.pool.size { burst.addTask { await query("SELECT pg_sleep(0.05)") } }
            return await burst.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(burst == settings.pool.size)
        await group.triggerGracefulShutdown()
        try await services.value
    }

    final class StopFlag: Sendable {
        private let value = Atomic<Bool>(false)
        var isSet: Bool { value.load(ordering: .relaxed) }
        func set() { value.store(true, ordering: .relaxed) }
    }

    /// SIGKILL a postmaster and every process it forked, as the crash scripts do.
    static func killProcessTree(_ root: pid_t) {
        var children: [pid_t] = []
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry),
                let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            // "pid (comm) state ppid ...": comm may hold spaces, so split after the last ')'.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, pid_t(fields[1]) == root { children.append(pid) }
        }
        kill(root, SIGKILL)
        for child in children { kill(child, SIGKILL) }
    }
}

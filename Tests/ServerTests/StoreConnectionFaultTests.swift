import FHIRModels
import Foundation
import Logging
import PostgresNIO
import Testing
@testable import Server

/// Two faults postgres-nio (1.33.2) turns into lasting damage unless the store guards against
/// them, each found by a fault script (docs/reliability.md): a connection that dies inside a
/// transaction, and a prepared statement whose preparation fails.
@Suite struct StoreConnectionFaultTests {
    /// A pool of `size` connections, all warm, running for `body`.
    static func withStore(
        _ endpoint: DatabaseEndpoint, size: Int, statementTimeoutMilliseconds: Int,
        _ body: @Sendable (PostgresResourceStore) async throws -> Void
    ) async throws {
        var pool = ServerSettings.DatabasePoolSettings()
        pool.size = size
        pool.minimum = size
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
    /// failure. The time limit is what fails without the guard: the transaction hangs.
    @Test(.timeLimit(.minutes(1)))
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
    @Test(.timeLimit(.minutes(1)))
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
}

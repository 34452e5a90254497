import FHIRModels
import Foundation
import HTTPTypes
import Logging
import PostgresNIO
import Testing
@testable import Server

/// Staleness-tolerant reads on a read replica (`ReadReplica`, `MEDREC_DATABASE_READ_URL`) with
/// read-your-writes. The "replica" here is a second database that replicates nothing, so every
/// answer shows which database served it: a row only the primary has proves the primary, a row
/// only the replica has proves the replica. Real streaming replication is driven by
/// `deploy/test-local-cluster.py` (a standby with a replay delay).
@Suite struct ReadReplicaTests {
    static let patient: JSONValue = .object([
        "resourceType": "Patient", "name": .array([.object(["family": "Replicaton", "given": .array(["Ada"])])]),
    ])

    static func count(_ response: FHIRTestResponse) throws -> Int {
        try response.json["entry"]?.arrayValue?.count ?? 0
    }

    static func seq(_ endpoint: DatabaseEndpoint, _ caller: String) async throws -> Int64? {
        try await endpoint.withConnection(logger: TestApp.logger) { connection in
            let rows = try await connection.query("SELECT seq FROM caller_write WHERE caller = \(caller)", logger: TestApp.logger)
            for try await value in rows.decode(Int64.self) { return value }
            return nil
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func searchesGoToTheReplicaUnlessTheCallersOwnWriteIsNotReplayedThere() async throws {
        let primary = try await TestDatabase.fresh()
        let replica = try await TestDatabase.fresh()
        let sealer = try TestApp.makeSealer()
        try await TestApp.runSecured(sealer: sealer, database: primary, readDatabase: replica) { writer, _, security in
            let reader: HTTPFields = [.authorization: "Bearer \(try await TestApp.systemToken(security, name: "reader"))"]
            let created = try await writer.sendJSON(.post, "/fhir/Patient", Self.patient)
            #expect(created.status == .created)
            let id = try #require(try created.json["id"]?.stringValue)
            let search = "/fhir/Patient?family=Replicaton&_total=accurate"

            // The writer's count is bumped with the write, on the primary only (nothing replicates).
            let writerKey = try #require(try await primary.withConnection(logger: TestApp.logger) { connection in
                let rows = try await connection.query("SELECT caller FROM caller_write", logger: TestApp.logger)
                var callers: [String] = []
                for try await caller in rows.decode(String.self) { callers.append(caller) }
                return callers
            }.first)
            #expect(writerKey.hasPrefix("client:"))
            #expect(try await Self.seq(primary, writerKey) == 1)
            #expect(try await Self.seq(replica, writerKey) == nil)

            // The writer's own search: the replica has not replayed the write, so the primary serves.
            let own = try await writer.send(.get, search)
            #expect(own.status == .ok)
            #expect(try Self.count(own) == 1 && own.json["total"] == .number("1"), "read-your-writes: \(own.text.prefix(300))")
            // Another caller, who wrote nothing, is served by the replica, which lacks the row.
            let other = try await writer.send(.get, search, headers: reader)
            #expect(other.status == .ok)
            #expect(try Self.count(other) == 0 && other.json["total"] == .number("0"), "served by the replica")
            // Type history goes the same way; a read by id always reads the primary.
            #expect(try Self.count(try await writer.send(.get, "/fhir/Patient/_history", headers: reader)) == 0)
            #expect(try Self.count(try await writer.send(.get, "/fhir/Patient/_history")) == 1)
            #expect(try await writer.send(.get, "/fhir/Patient/\(id)", headers: reader).status == .ok)
            #expect(try await writer.send(.get, "/fhir/Patient/\(id)/_history", headers: reader).status == .ok)

            // "Replication": the row and the writer's count reach the replica.
            let replicaClient = PostgresClient(configuration: replica.clientConfiguration(), backgroundLogger: TestApp.logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await replicaClient.run() }
                defer { group.cancelAll() }
                let copy = PostgresResourceStore(client: replicaClient, logger: TestApp.logger, sealer: sealer)
                _ = try await copy.create([NewResource(type: "Patient", id: id, resource: try created.json)])
            }
            #expect(try Self.count(try await writer.send(.get, search, headers: reader)) == 1, "the replica now has it")
            // The writer's search still goes to the primary until the replica has its count...
            try await replica.withConnection(logger: TestApp.logger) { connection in
                try await connection.query("INSERT INTO caller_write VALUES (\(writerKey), 1)", logger: TestApp.logger)
            }
            // ...and now to the replica: the primary's newer write is not seen there.
            let second = try await writer.sendJSON(.post, "/fhir/Patient", Self.patient)
            #expect(second.status == .created)
            #expect(try await Self.seq(primary, writerKey) == 2)
            #expect(try Self.count(try await writer.send(.get, search)) == 2, "the second write is not replayed: primary")
            try await replica.withConnection(logger: TestApp.logger) { connection in
                try await connection.query("UPDATE caller_write SET seq = 2 WHERE caller = \(writerKey)", logger: TestApp.logger)
            }
            #expect(try Self.count(try await writer.send(.get, search)) == 1, "caught up by count: the replica serves, with its one row")

            // An update and a delete bump the count too, in their transactions.
            var resource = try second.json.objectValue.unwrap()
            resource["active"] = true
            let secondID = try #require(resource["id"]?.stringValue)
            #expect(try await writer.sendJSON(.put, "/fhir/Patient/\(secondID)", .object(resource)).status == .ok)
            #expect(try await Self.seq(primary, writerKey) == 3)
            #expect(try await writer.send(.delete, "/fhir/Patient/\(secondID)").status == .noContent)
            #expect(try await Self.seq(primary, writerKey) == 4)
            // A search writes no count (its AuditEvent is not a resource write).
            _ = try await writer.send(.get, search, headers: reader)
            #expect(try await Self.seq(primary, writerKey) == 4)
        }
    }

    /// A replica that cannot be reached costs no request: the read is run on the primary, and
    /// reads stay there for the cooldown.
    @Test(.timeLimit(.minutes(3)))
    func aReplicaThatCannotBeReachedSendsReadsToThePrimary() async throws {
        // Nothing listens on port 1; the second is a server that has no such database.
        for unreachable in ["postgres://medrec:x@127.0.0.1:1/none", "no_such_database"] {
            let primary = try await TestDatabase.fresh()
            let replica = unreachable.hasPrefix("postgres:") ? try DatabaseEndpoint(url: unreachable) : primary.database(unreachable)
            try await TestApp.runSecured(database: primary, readDatabase: replica) { client, _, security in
                let reader: HTTPFields = [.authorization: "Bearer \(try await TestApp.systemToken(security, name: "reader"))"]
                #expect(try await client.sendJSON(.post, "/fhir/Patient", Self.patient).status == .created)
                for attempt in 0..<3 {
                    let started = ContinuousClock.now
                    let answer = try await client.send(.get, "/fhir/Patient?family=Replicaton", headers: reader)
                    #expect(answer.status == .ok, "\(unreachable.prefix(30)) attempt \(attempt): \(answer.status)")
                    #expect(try Self.count(answer) == 1, "the primary served: \(unreachable.prefix(30))")
                    // One replica lease wait (2 s) at most, then the primary's own time.
                    #expect(ContinuousClock.now - started < .seconds(10))
                }
            }
        }
    }
}

import FHIRModels
import Foundation
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import Synchronization
import Testing
@testable import Server

@Suite("Key rotation")
struct KeyRotationTests {
    struct Interrupted: Error {}

    @Test func rotatesUnderLoadResumesAfterInterruptionAndDropsTheOldKey() async throws {
        let k1 = Keyring.randomKeyMaterial()
        let k2 = Keyring.randomKeyMaterial()
        let blind = Keyring.randomKeyMaterial()
        let onlyK1 = FieldSealer(policy: .standard, keyring: try Keyring(keys: [("k1", k1)], blindIndexKey: blind))
        let bothActiveK2 = FieldSealer(policy: .standard, keyring: try Keyring(keys: [("k1", k1), ("k2", k2)], activeKeyID: "k2", blindIndexKey: blind))
        let onlyK2 = FieldSealer(policy: .standard, keyring: try Keyring(keys: [("k2", k2)], blindIndexKey: blind))
        let database = try await TestDatabase.fresh()
        let logger = TestApp.logger

        // Written under key 1, with history.
        let written = Mutex<[String]>([])
        try await TestApp.run(sealer: onlyK1, database: database) { client, _ in
            for index in 0..<30 {
                var patient = try #require(FHIRRestTests.patient.objectValue)
                patient["telecom"] = [["system": "phone", "value": .string("555-01\(index)")]]
                let body = try await client.sendJSON(.post, "/fhir/Patient", .object(patient)).json
                let id = try #require(body["id"]?.stringValue)
                var updated = try #require(body.objectValue)
                updated["active"] = true
                #expect(try await client.sendJSON(.put, "/fhir/Patient/\(id)", .object(updated)).status == .ok)
                written.withLock { $0.append(id) }
            }
        }
        let ids = written.withLock { $0 }
        #expect(ids.count == 30)

        // Rotate to key 2 while a server that knows both keys reads and writes.
        try await TestApp.run(sealer: bothActiveK2, database: database) { client, _ in
            try await database.withConnection(logger: logger) { connection in
                var rotator = KeyRotator(sealer: bothActiveK2, logger: logger)
                rotator.batchSize = 7
                // Interrupted after the first batch...
                await #expect(throws: Interrupted.self) {
                    _ = try await rotator.reseal(on: connection) { _ in throw Interrupted() }
                }
                let left = try await rotator.remaining(on: connection)
                #expect(left == 90 - 2 * 7, "30 current rows and 60 history rows, one batch of 7 from each done")
                // ...and resumed, with reads and writes going on.
                async let load: Void = {
                    for id in ids {
                        let read = try await client.send(.get, "/fhir/Patient/\(id)")
                        #expect(read.status == .ok)
                        _ = try await client.sendJSON(.post, "/fhir/Patient", FHIRRestTests.patient)
                    }
                }()
                _ = try await rotator.reseal(on: connection)
                try await load
                #expect(try await rotator.remaining(on: connection) == 0)
                let status = try await rotator.status(on: connection)
                #expect(status.allSatisfy { $0.keyID == "k2" })
            }
        }

        // Key 1 removed from the ring: everything, history included, still reads.
        try await TestApp.run(sealer: onlyK2, database: database) { client, _ in
            for (index, id) in ids.enumerated() {
                let current = try await client.send(.get, "/fhir/Patient/\(id)")
                #expect(current.status == .ok)
                #expect(try current.json["telecom"]?.arrayValue?.first?["value"] == .string("555-01\(index)"))
                #expect(try await client.send(.get, "/fhir/Patient/\(id)/_history/1").status == .ok)
            }
        }
    }
}

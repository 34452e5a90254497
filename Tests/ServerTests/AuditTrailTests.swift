import FHIRModels
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
@testable import Server

/// After a scripted session, the audit log holds exactly one AuditEvent per access, each
/// naming who, what, the outcome and the patient.
@Suite struct AuditTrailTests {
    @Test(.timeLimit(.minutes(5))) func fiftyMixedRequestsLeaveFiftyMatchingEvents() async throws {
        try await TestApp.runSecured { client, endpoint, security in
            let world = try await AccessControlTests.world(client, security)
            let doctor = world.doctor
            let patient = world.a.resourceID
            var json = doctor.headers
            json[.contentType] = "application/fhir+json"
            let before = try await AuditTrail.events(agent: doctor.userID, endpoint: endpoint).count

            var expected: [(subtype: String, outcome: String, reference: String?)] = []
            var created: [String] = []
            for _ in 0..<10 {  // 10 creates
                let response = try await client.send(.post, "/fhir/Observation", headers: json,
                                                     body: FHIRJSON.serialize(AccessControlTests.observation(for: patient)))
                #expect(response.status == .created)
                let id = try #require(try response.json["id"]?.stringValue)
                created.append(id)
                expected.append(("create", "0", "Observation/\(id)/_history/1"))
            }
            for index in 0..<20 {  // 20 reads
                let id = created[index % created.count]
                #expect(try await client.send(.get, "/fhir/Observation/\(id)", headers: doctor.headers).status == .ok)
                expected.append(("read", "0", "Observation/\(id)/_history/\(index < 10 ? 1 : (index % 10 < 5 ? 2 : 1))"))
            }
            // The reads above ran before the updates; fix the expected versions: all are version 1.
            for index in 10..<30 { expected[index].reference = "Observation/\(created[(index - 10) % 10])/_history/1" }
            for index in 0..<5 {  // 5 updates
                var resource = try await client.send(.get, "/fhir/Observation/\(created[index])", headers: doctor.headers).json
                expected.append(("read", "0", "Observation/\(created[index])/_history/1"))
                resource = resource.setting("status", "amended")
                #expect(try await client.send(.put, "/fhir/Observation/\(created[index])", headers: json,
                                              body: FHIRJSON.serialize(resource)).status == .ok)
                expected.append(("update", "0", "Observation/\(created[index])/_history/2"))
            }
            for _ in 0..<5 {  // 5 searches
                #expect(try await client.send(.get, "/fhir/Observation?subject=Patient/\(patient)", headers: doctor.headers).status == .ok)
                expected.append(("search-type", "0", nil))
            }
            for index in 5..<8 {  // 3 deletes
                #expect(try await client.send(.delete, "/fhir/Observation/\(created[index])", headers: doctor.headers).status == .noContent)
                expected.append(("delete", "0", "Observation/\(created[index])/_history/2"))
            }
            for _ in 0..<2 {  // 2 denied reads (B is not D1's patient)
                #expect(try await client.send(.get, "/fhir/Observation/\(world.observationB)", headers: doctor.headers).status == .notFound)
                expected.append(("read", "4", "Observation/\(world.observationB)/_history/1"))
            }
            #expect(expected.count == 50)

            let events = Array(try await AuditTrail.events(agent: doctor.userID, endpoint: endpoint).dropFirst(before))
            #expect(events.count == expected.count)
            for (event, want) in zip(events, expected) {
                #expect(AuditTrail.subtype(event) == want.subtype)
                #expect(AuditTrail.outcome(event) == want.outcome)
                let references = AuditTrail.entityReferences(event)
                if let reference = want.reference { #expect(references.contains(reference), "\(references) lacks \(reference)") }
                // Who: the doctor's user id and Practitioner, the role; which patient.
                let agent = event["agent"]?[0]
                #expect(agent?["who"]?["identifier"]?["value"]?.stringValue == doctor.userID)
                #expect(agent?["who"]?["reference"]?.stringValue == doctor.fhirUser)
                if want.outcome == "0" { #expect(references.contains("Patient/\(patient)")) }
                #expect(FHIRValidator().validate(event).hasErrors == false)
            }
            // Writes' events committed with the writes: the version they name exists.
            let history = try await client.send(.get, "/fhir/Observation/\(created[0])/_history", headers: doctor.headers).json
            #expect(history["entry"]?.arrayValue?.count == 2)
        }
    }
}

import FHIRModels
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import Server

@Suite("Batch and transaction Bundles")
struct FHIRBundleTests {
    @Test func transactionResolvesConditionalReferencesAndRunsUpdatesAndDeletes() async throws {
        try await TestApp.run { client in
            let existing = try await client.sendJSON(.post, "/fhir/Patient", FHIRRestTests.patient)
            let patientID = try #require(try existing.json["id"]?.stringValue)
            let doomed = try await client.sendJSON(.post, "/fhir/Patient", ["resourceType": "Patient", "active": false])
            let doomedID = try #require(try doomed.json["id"]?.stringValue)

            let bundle: JSONValue = [
                "resourceType": "Bundle", "type": "transaction",
                "entry": [
                    [
                        "fullUrl": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a",
                        "resource": [
                            "resourceType": "Encounter", "status": "finished",
                            "class": ["system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"],
                            "subject": ["reference": "Patient?identifier=urn:oid:1.2.36.146.595.217.0.1|12345"],
                        ],
                        "request": ["method": "POST", "url": "Encounter"],
                    ],
                    [
                        "resource": [
                            "resourceType": "Observation", "status": "final", "code": ["text": "weight"],
                            "subject": ["reference": "Patient?identifier=urn:oid:1.2.36.146.595.217.0.1|12345"],
                            "encounter": ["reference": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"],
                        ],
                        "request": ["method": "POST", "url": "Observation"],
                    ],
                    [
                        "resource": ["resourceType": "Patient", "id": "chosen-by-client", "active": true],
                        "request": ["method": "PUT", "url": "Patient/chosen-by-client"],
                    ],
                    ["request": ["method": "DELETE", "url": .string("Patient/\(doomedID)")]],
                    ["request": ["method": "GET", "url": .string("Patient/\(patientID)")]],
                ],
            ]
            let response = try await client.sendJSON(.post, "/fhir", bundle)
            #expect(response.status == .ok, "\(response.text.prefix(400))")
            let entries = try #require(try response.json["entry"]?.arrayValue)
            #expect(entries.map { $0["response"]?["status"]?.stringValue } == ["201 Created", "201 Created", "201 Created", "204 No Content", "200 OK"])
            #expect(entries[4]["resource"]?["id"]?.stringValue == patientID)

            let observationPath = try #require(entries[1]["response"]?["location"]?.stringValue?.components(separatedBy: "/_history").first)
            let observation = try await client.send(.get, "/fhir/\(observationPath)").json
            #expect(observation["subject"]?["reference"]?.stringValue == "Patient/\(patientID)")
            let encounterPath = try #require(entries[0]["response"]?["location"]?.stringValue?.components(separatedBy: "/_history").first)
            #expect(observation["encounter"]?["reference"]?.stringValue == encounterPath)
            #expect(try await client.send(.get, "/fhir/Patient/chosen-by-client").status == .ok)
            #expect(try await client.send(.get, "/fhir/Patient/\(doomedID)").status == .gone)

            // A conditional reference that matches nothing fails the whole transaction.
            let unresolved: JSONValue = [
                "resourceType": "Bundle", "type": "transaction",
                "entry": [[
                    "resource": ["resourceType": "Observation", "status": "final", "code": ["text": "x"],
                                 "subject": ["reference": "Patient?identifier=urn:x|nobody"]],
                    "request": ["method": "POST", "url": "Observation"],
                ]],
            ]
            let failed = try await client.sendJSON(.post, "/fhir", unresolved)
            #expect(failed.status == .preconditionFailed)
            #expect(try failed.json["issue"]?.arrayValue?.first?["expression"]?.arrayValue?.first == "Bundle.entry[0]")
        }
    }

    @Test func updateAsCreateKeepsTheClientID() async throws {
        try await TestApp.run { client in
            var patient = try #require(FHIRRestTests.patient.objectValue)
            patient["id"] = "mrn-0042"
            let created = try await client.sendJSON(.put, "/fhir/Patient/mrn-0042", .object(patient))
            #expect(created.status == .created)
            #expect(try created.json["id"] == "mrn-0042")
            #expect(try await client.send(.get, "/fhir/Patient/mrn-0042").status == .ok)
        }
    }

    @Test func refusesBundlesOverTheEntryLimitAndOtherBundleTypes() async throws {
        var settings = ServerSettings()
        settings.limits.maxBundleEntries = 3
        try await TestApp.run(settings: settings) { client in
            let entry: JSONValue = ["resource": ["resourceType": "Patient"], "request": ["method": "POST", "url": "Patient"]]
            let tooMany: JSONValue = ["resourceType": "Bundle", "type": "transaction", "entry": [entry, entry, entry, entry]]
            let refused = try await client.sendJSON(.post, "/fhir", tooMany)
            #expect(refused.status == .contentTooLarge)
            #expect(try refused.json["resourceType"] == "OperationOutcome")
            let collection: JSONValue = ["resourceType": "Bundle", "type": "collection", "entry": [entry]]
            #expect(try await client.sendJSON(.post, "/fhir", collection).status == .badRequest)
            let badURL: JSONValue = ["resourceType": "Bundle", "type": "transaction",
                                     "entry": [["resource": ["resourceType": "Patient"], "request": ["method": "POST", "url": "Nope"]]]]
            let badURLResponse = try await client.sendJSON(.post, "/fhir", badURL)
            #expect(badURLResponse.status == .badRequest)
            #expect(try badURLResponse.json["issue"]?.arrayValue?.first?["expression"]?.arrayValue?.first == "Bundle.entry[0].request.url")
            #expect(try await client.send(.get, "/fhir/_history").json["entry"] == nil)
        }
    }
}

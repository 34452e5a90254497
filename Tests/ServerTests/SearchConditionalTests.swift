import FHIRModels
import FixtureSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
@testable import Server

/// Conditional create, update and delete with any search criteria: one match acts on it,
/// none creates (or does nothing), more than one gives 412 and changes nothing.
@Suite("Search: conditional interactions")
struct SearchConditionalTests {
    typealias Synthea = SyntheaSearchData

    static let ifNoneExist = HTTPField.Name("If-None-Exist")!

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func conditionalInteractionsUseArbitraryCriteria() async throws {
        let data = try Synthea.load()
        let patients = data.patients
        let keeling = try #require(data.resource("Patient/\(data.patientIDs[0])"))
        let family = try #require(Synthea.strings(keeling, "name.family").first)
        let birthDate = try #require(keeling["birthDate"]?.stringValue)
        let single = Synthea.query([("family", family), ("birthdate", birthDate)])
        try #require(patients.filter { Synthea.startsWith(Synthea.strings($0, "name.family"), family) && $0["birthDate"]?.stringValue == birthDate }.count == 1)
        let males = patients.filter { $0["gender"] == "male" }.count
        try #require(males > 1)
        let newcomer: JSONValue = ["resourceType": "Patient", "name": [["family": "Conditional-Newcomer", "given": ["Ada"]]], "birthDate": "1999-09-09"]

        try await TestApp.run { client in
            try await data.post(to: client)
            func count(_ query: String) async throws -> Int {
                try await Synthea.search(client, query.isEmpty ? "/fhir/Patient" : "/fhir/Patient?\(query)").matches.count
            }
            let before = try await count("")

            // Conditional create: one match → 200 and the existing resource, nothing created.
            let existing = try await client.sendJSON(.post, "/fhir/Patient", newcomer, headers: [Self.ifNoneExist: single])
            #expect(existing.status == .ok, "\(existing.text.prefix(200))")
            #expect(try await count("") == before)
            // Several matches → 412, nothing created.
            let ambiguous = try await client.sendJSON(.post, "/fhir/Patient", newcomer, headers: [Self.ifNoneExist: "gender=male"])
            #expect(ambiguous.status == .preconditionFailed)
            #expect(try ambiguous.json["resourceType"] == "OperationOutcome")
            #expect(try await count("") == before)
            // Criteria nothing matches → created.
            let created = try await client.sendJSON(
                .post, "/fhir/Patient", newcomer, headers: [Self.ifNoneExist: Synthea.query([("family", "Conditional-Newcomer"), ("birthdate", "1999-09-09")])])
            #expect(created.status == .created)
            #expect(try await count("") == before + 1)
            // The same again now matches the one just made.
            let again = try await client.sendJSON(
                .post, "/fhir/Patient", newcomer, headers: [Self.ifNoneExist: Synthea.query([("family", "Conditional-Newcomer"), ("birthdate", "1999-09-09")])])
            #expect(again.status == .ok)
            #expect(try await count("") == before + 1)

            // Conditional update: one match → that resource is updated in place.
            var changed = try #require(keeling.objectValue)
            changed["id"] = nil
            changed["meta"] = nil
            changed["active"] = false
            let updated = try await client.sendJSON(.put, "/fhir/Patient?\(single)", .object(changed))
            #expect(updated.status == .ok, "\(updated.text.prefix(200))")
            let read = try await client.send(.get, "/fhir/Patient/\(data.patientIDs[0])")
            #expect(try read.json["active"] == false)
            #expect(try await count("") == before + 1)
            // Several matches → 412, nothing changed.
            let ambiguousUpdate = try await client.sendJSON(.put, "/fhir/Patient?gender=male", .object(changed))
            #expect(ambiguousUpdate.status == .preconditionFailed)
            #expect(try await count(Synthea.query([("active", "false")])) == 1)
            // A criterion on a chain: Observations of one patient with one code, more than one → 412.
            let heights = data.resources("Observation").filter {
                Synthea.referenceTargets($0, "subject").contains("Patient/\(data.patientIDs[0])")
                    && Synthea.hasCoding($0, "code", system: "http://loinc.org", code: "8302-2")
            }
            try #require(heights.count > 1)
            let chained = Synthea.query([("patient.family", family), ("code", "http://loinc.org|8302-2")])
            let observation = try #require(heights.first)
            #expect(try await client.sendJSON(.put, "/fhir/Observation?\(chained)", observation).status == .preconditionFailed)

            // Conditional delete: several matches → 412 and nothing deleted.
            let deleteMany = try await client.send(.delete, "/fhir/Observation?\(chained)")
            #expect(deleteMany.status == .preconditionFailed)
            #expect(try await Synthea.search(client, "/fhir/Observation?\(chained)").matches.count == heights.count)
            // One match → deleted.
            let deleteOne = try await client.send(.delete, "/fhir/Patient?" + Synthea.query([("family:exact", "Conditional-Newcomer")]))
            #expect(deleteOne.status == .ok || deleteOne.status == .noContent)
            #expect(try await count(Synthea.query([("family", "Conditional-Newcomer")])) == 0)
            #expect(try await count("") == before)
            // No match → nothing happens, successfully.
            let deleteNone = try await client.send(.delete, "/fhir/Patient?" + Synthea.query([("family:exact", "Conditional-Nobody")]))
            #expect(deleteNone.status == .ok || deleteNone.status == .noContent || deleteNone.status == .notFound)
            #expect(try await count("") == before)
        }
    }
}

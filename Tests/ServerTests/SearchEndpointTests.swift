import FHIRModels
import FixtureSupport
import Foundation
import HummingbirdTesting
import Testing
@testable import Server

/// The other ways in: `POST [type]/_search`, system search, compartment search and
/// `Patient/{id}/$everything` (with `_type`, `_since` and paging).
@Suite("Search: endpoints")
struct SearchEndpointTests {
    typealias Synthea = SyntheaSearchData

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func postSearchSystemSearchAndCompartmentSearch() async throws {
        let data = try Synthea.load()
        let patients = data.patients
        let observations = data.resources("Observation")
        let conditions = data.resources("Condition")
        let familyInitial = "k"
        let expectedPatients = Synthea.references(patients.filter {
            Synthea.startsWith(Synthea.strings($0, "name.family"), familyInitial) && ($0["birthDate"]?.stringValue ?? "9999") < "1990"
        })
        let patientID = data.patientIDs[2]
        let practitioner = try #require(data.resources("Practitioner").map(Synthea.reference(of:)).sorted().first)
        let practitionerID = String(practitioner.dropFirst("Practitioner/".count))
        let code = "http://loinc.org|8302-2"
        let ownHeights = Synthea.references(observations.filter {
            Synthea.referenceTargets($0, "subject").contains("Patient/\(patientID)") && Synthea.hasCoding($0, "code", system: "http://loinc.org", code: "8302-2")
        })
        let ownConditions = Synthea.references(conditions.filter { Synthea.referenceTargets($0, "subject").contains("Patient/\(patientID)") })

        try await TestApp.run { client in
            try await data.post(to: client)
            // POST _search with a form body equals GET, page by page.
            let query = Synthea.query([("family", familyInitial), ("birthdate", "lt1990"), ("_count", "1")])
            let posted = try await client.send(
                .post, "/fhir/Patient/_search", headers: [.contentType: "application/x-www-form-urlencoded"], body: Array(query.utf8))
            #expect(posted.status == .ok, "\(posted.text.prefix(300))")
            var postPages = SyntheaSearchData.Pages()
            postPages.bundles.append(try posted.json)
            var next = Synthea.nextLink(try posted.json)
            while let url = next {
                let page = try await client.send(.get, url)
                try #require(page.status == .ok)
                postPages.bundles.append(try page.json)
                next = Synthea.nextLink(try page.json)
                try #require(postPages.bundles.count < 20)
            }
            #expect(postPages.matchSet == expectedPatients && postPages.matchReferences.count == expectedPatients.count)
            try #require(!expectedPatients.isEmpty)
            let got = try await Synthea.expectMatches(client, "/fhir/Patient?\(query)", expectedPatients)
            #expect(got.matchSet == postPages.matchSet)
            // Parameters may come in both the URL and the body.
            let mixed = try await client.send(
                .post, "/fhir/Patient/_search?\(Synthea.query([("family", familyInitial)]))",
                headers: [.contentType: "application/x-www-form-urlencoded"], body: Array(Synthea.query([("birthdate", "lt1990")]).utf8))
            #expect(mixed.status == .ok)
            #expect(Set((try mixed.json["entry"]?.arrayValue ?? []).compactMap { $0["resource"] }.map(Synthea.reference(of:))) == expectedPatients)

            // System search over two types.
            try await Synthea.expectMatches(
                client, "/fhir?" + Synthea.query([("_type", "Patient,Practitioner"), ("_id", "\(patientID),\(practitionerID)")]),
                ["Patient/\(patientID)", practitioner])
            try await Synthea.expectMatches(
                client, "/fhir?" + Synthea.query([("_type", "Observation,Condition"), ("patient", patientID)]),
                Synthea.references((observations + conditions).filter { Synthea.referenceTargets($0, "subject").contains("Patient/\(patientID)") }))

            // Compartment search equals the search with patient=.
            let compartment = try await Synthea.expectMatches(client, "/fhir/Patient/\(patientID)/Observation?" + Synthea.query([("code", code)]), ownHeights)
            let plain = try await Synthea.expectMatches(client, Synthea.path("Observation", [("patient", patientID), ("code", code)]), ownHeights)
            #expect(compartment.matchSet == plain.matchSet)
            try await Synthea.expectMatches(client, "/fhir/Patient/\(patientID)/Condition", ownConditions)
            // A compartment of a patient that does not exist is empty (or absent), never another's data.
            let nobody = try await client.send(.get, "/fhir/Patient/no-such-patient/Observation")
            let nobodyEntries = nobody.status == .ok ? (try nobody.json["entry"]?.arrayValue ?? []) : []
            #expect(nobody.status == .notFound || (nobody.status == .ok && nobodyEntries.isEmpty), "\(nobody.status)")
        }
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func everythingReturnsTheWholeCompartmentOfOnePatient() async throws {
        let data = try Synthea.load()
        let patientID = data.patientIDs[1]
        let compartment = try data.compartment(of: patientID)
        let expected = Synthea.references(compartment)
        let types = Set(compartment.compactMap { $0["resourceType"]?.stringValue })
        for type in ["Patient", "Encounter", "Observation", "Condition", "MedicationRequest"] {
            try #require(types.contains(type), "the patient's bundle has no \(type)")
        }
        // Resources in other patients' compartments must never appear.
        var otherCompartments = Set<String>()
        for other in data.patientIDs where other != patientID {
            otherCompartments.formUnion(Synthea.references(try data.compartment(of: other)))
        }
        let others = otherCompartments
        let compartmentTypes = try Synthea.compartmentTypes()

        try await TestApp.run { client in
            try await data.post(to: client)
            let everything = try await Synthea.search(client, "/fhir/Patient/\(patientID)/$everything?_count=1000")
            let all = everything.entries.compactMap { $0["resource"] }.map(Synthea.reference(of:))
            #expect(all.count == Set(all).count, "$everything returned a resource twice")
            #expect(expected.isSubset(of: Set(all)), "missing \(expected.subtracting(all).count): \(expected.subtracting(all).sorted().prefix(4))")
            #expect(Set(all).isDisjoint(with: others), "another patient's resources: \(Set(all).intersection(others).sorted().prefix(4))")
            // Anything beyond the compartment is a referenced resource outside every compartment (Practitioner, Organization).
            for extra in Set(all).subtracting(expected) {
                let type = String(extra.split(separator: "/")[0])
                #expect(!compartmentTypes.contains(type) || type == "Practitioner" || type == "Organization", "unexpected \(extra)")
            }

            // _type narrows to the named types.
            let narrowed = try await Synthea.search(client, "/fhir/Patient/\(patientID)/$everything?_type=Observation,Condition&_count=1000")
            let narrowedSet = Set(narrowed.entries.compactMap { $0["resource"] }.map(Synthea.reference(of:)))
            #expect(narrowedSet == Synthea.references(compartment.filter { ["Observation", "Condition"].contains($0["resourceType"]?.stringValue ?? "") }))

            // The links say what was asked, so a narrowed $everything pages as narrowed.
            let selfLink = narrowed.first?["link"]?.arrayValue?.first { $0["relation"] == "self" }?["url"]?.stringValue ?? ""
            #expect(selfLink.contains("_type=Observation%2CCondition") || selfLink.contains("_type=Observation,Condition"), "\(selfLink)")
            let narrowedPaged = try await Synthea.search(client, "/fhir/Patient/\(patientID)/$everything?_type=Observation,Condition&_count=13")
            #expect(narrowedPaged.bundles.count > 1)
            #expect(Set(narrowedPaged.entries.compactMap { $0["resource"] }.map(Synthea.reference(of:))) == narrowedSet)

            // Paging through next links gives the same resources, each once.
            let paged = try await Synthea.search(client, "/fhir/Patient/\(patientID)/$everything?_count=17")
            #expect(paged.bundles.count > 2)
            let pagedAll = paged.entries.compactMap { $0["resource"] }.map(Synthea.reference(of:))
            #expect(pagedAll.count == Set(pagedAll).count, "paging repeated a resource")
            #expect(Set(pagedAll) == Set(all))

            // _since: only what changed after the moment given.
            try await Task.sleep(for: .milliseconds(1_100))
            let since = ISO8601DateFormatter().string(from: Date())
            try await Task.sleep(for: .milliseconds(1_100))
            let changed = Array(compartment.filter { $0["resourceType"] == "Condition" || $0["resourceType"] == "Observation" }
                .map(Synthea.reference(of:)).sorted().prefix(2))
            try #require(changed.count == 2)
            for reference in changed {
                var resource = try #require(data.resource(reference)?.objectValue)
                resource["meta"] = nil
                #expect(try await client.sendJSON(.put, "/fhir/\(reference)", .object(resource)).status == .ok)
            }
            let recent = try await Synthea.search(client, "/fhir/Patient/\(patientID)/$everything?" + Synthea.query([("_since", since)]))
            #expect(Set(recent.entries.compactMap { $0["resource"] }.map(Synthea.reference(of:))) == Set(changed))

            // Another patient's $everything holds none of this one's resources.
            let otherID = data.patientIDs[0]
            let other = try await Synthea.search(client, "/fhir/Patient/\(otherID)/$everything?_count=1000")
            #expect(Set(other.entries.compactMap { $0["resource"] }.map(Synthea.reference(of:))).isDisjoint(with: expected))
        }
    }
}

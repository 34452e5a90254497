import FHIRModels
import FixtureSupport
import Foundation
import HummingbirdTesting
import Testing
@testable import Server

/// Chained parameters (one and two levels) and reverse chaining (`_has`), with expectations
/// computed by following the references in the fixture JSON.
@Suite("Search: chaining and _has")
struct SearchChainingTests {
    typealias Synthea = SyntheaSearchData

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func chainsFollowReferencesOneAndTwoLevelsDeep() async throws {
        let data = try Synthea.load()
        let observations = data.resources("Observation")
        let requests = data.resources("MedicationRequest")
        let kutch = try #require(data.resource("Patient/\(data.patientIDs[5])"))
        let family = try #require(Synthea.strings(kutch, "name.family").first)
        let familyPrefix = String(family.prefix(3)).lowercased()
        let keeling = try #require(data.resource("Patient/\(data.patientIDs[0])"))
        let given = try #require(Synthea.strings(keeling, "name.given").first)
        let otherFamily = try #require(Synthea.strings(keeling, "name.family").first?.prefix(4).lowercased())

        /// Whether the resource at `reference` satisfies `predicate`.
        @Sendable func target(_ reference: String, _ predicate: (JSONValue) -> Bool) -> Bool {
            data.resource(reference).map(predicate) ?? false
        }
        @Sendable func via(_ resource: JSONValue, _ path: String, _ predicate: (JSONValue) -> Bool) -> Bool {
            Synthea.referenceTargets(resource, path).contains { target($0, predicate) }
        }
        let familyMatches: @Sendable (JSONValue) -> Bool = {
            $0["resourceType"] == "Patient" && Synthea.startsWith(Synthea.strings($0, "name.family"), familyPrefix)
        }
        let nameMatches: @Sendable (JSONValue) -> Bool = { $0["resourceType"] == "Patient" && Synthea.startsWith(Synthea.nameParts($0), given) }
        let oneLevel = Synthea.references(observations.filter { via($0, "subject", familyMatches) })
        let byName = Synthea.references(observations.filter { via($0, "subject", nameMatches) })
        let twoLevels = Synthea.references(observations.filter { via($0, "encounter") { via($0, "subject", familyMatches) } })
        let requestsTwoLevels = Synthea.references(requests.filter { via($0, "encounter") { via($0, "subject", familyMatches) } })
        // Observation → Encounter → Practitioner: the shared practitioner's family name.
        let shared = try #require(data.resources("Practitioner").first { practitioner in
            let reference = Synthea.reference(of: practitioner)
            let patients = Set(data.resources("Encounter").filter { Synthea.referenceTargets($0, "participant.individual").contains(reference) }
                .flatMap { Synthea.referenceTargets($0, "subject") })
            return patients.count > 1
        }, "one Practitioner should see two of the patients")
        let practitionerFamily = try #require(Synthea.strings(shared, "name.family").first)
        let practitionerMatches: @Sendable (JSONValue) -> Bool = {
            $0["resourceType"] == "Practitioner" && Synthea.startsWith(Synthea.nameParts($0), practitionerFamily)
        }
        let viaPractitioner = Synthea.references(observations.filter { via($0, "encounter") { via($0, "participant.individual", practitionerMatches) } })
        let encountersViaPractitioner = Synthea.references(data.resources("Encounter").filter { via($0, "participant.individual", practitionerMatches) })

        try await TestApp.run { client in
            try await data.post(to: client)
            try await Synthea.expectMatches(client, Synthea.path("Observation", [("patient.family", familyPrefix)]), oneLevel)
            try await Synthea.expectMatches(client, Synthea.path("Observation", [("subject:Patient.family", familyPrefix)]), oneLevel)
            try await Synthea.expectMatches(client, Synthea.path("Observation", [("subject:Patient.name", given)]), byName)
            try await Synthea.expectMatches(client, Synthea.path("Observation", [("encounter.subject:Patient.family", familyPrefix)]), twoLevels)
            try await Synthea.expectMatches(client, Synthea.path("Observation", [("encounter.patient.family", familyPrefix)]), twoLevels)
            try await Synthea.expectMatches(client, Synthea.path("MedicationRequest", [("encounter.patient.family", familyPrefix)]), requestsTwoLevels)
            try await Synthea.expectMatches(client, Synthea.path("Encounter", [("practitioner.name", practitionerFamily)]), encountersViaPractitioner)
            try await Synthea.expectMatches(client, Synthea.path("Observation", [("encounter.practitioner.name", practitionerFamily)]), viaPractitioner)
            // A chain with OR values, and a chain ANDed with a plain parameter.
            try await Synthea.expectMatches(
                client, Synthea.path("Observation", [("patient.family", "\(familyPrefix),\(otherFamily)")]),
                Synthea.references(observations.filter { via($0, "subject") { familyMatches($0) || Synthea.startsWith(Synthea.strings($0, "name.family"), otherFamily) } }))
            try await Synthea.expectMatches(
                client, Synthea.path("Observation", [("patient.family", familyPrefix), ("code", "http://loinc.org|8302-2")]),
                Synthea.references(observations.filter { via($0, "subject", familyMatches) && Synthea.hasCoding($0, "code", system: "http://loinc.org", code: "8302-2") }))
            // A chained date and a chained token.
            try await Synthea.expectMatches(
                client, Synthea.path("Observation", [("patient.birthdate", "lt1970")]),
                Synthea.references(observations.filter { via($0, "subject") { ($0["birthDate"]?.stringValue ?? "9999") < "1970" } }))
            try await Synthea.expectMatches(
                client, Synthea.path("Encounter", [("patient.gender", "female")]),
                Synthea.references(data.resources("Encounter").filter { via($0, "subject") { $0["gender"] == "female" } }))
            // A chain that matches no patient.
            try await Synthea.expectMatches(client, Synthea.path("Observation", [("patient.family", "zzzz-nobody")]), [], allowEmpty: true)
        }
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func reverseChainingFindsResourcesThatAreReferenced() async throws {
        let data = try Synthea.load()
        let observations = data.resources("Observation")
        let encounters = data.resources("Encounter")
        let patients = data.patients
        // A LOINC code some of the patients have and some do not.
        let codes = Set(observations.flatMap { Synthea.codings($0, "code").compactMap(\.code) }).sorted()
        @Sendable func holders(_ code: String) -> Set<String> {
            Set(observations.filter { Synthea.hasCoding($0, "code", system: "http://loinc.org", code: code) }.flatMap { Synthea.referenceTargets($0, "subject") })
        }
        let code = try #require(codes.first { let count = holders($0).count; return count > 1 && count < patients.count })
        let other = try #require(codes.first { $0 != code && !holders($0).isEmpty && holders($0) != holders(code) })
        let practitioner = try #require(data.resources("Practitioner").map(Synthea.reference(of:)).sorted().first)

        try await TestApp.run { client in
            try await data.post(to: client)
            try await Synthea.expectMatches(client, Synthea.path("Patient", [("_has:Observation:patient:code", code)]), holders(code))
            try await Synthea.expectMatches(
                client, Synthea.path("Patient", [("_has:Observation:patient:code", "http://loinc.org|\(code)")]), holders(code))
            // OR inside, AND across two _has and with a plain parameter.
            try await Synthea.expectMatches(
                client, Synthea.path("Patient", [("_has:Observation:patient:code", "\(code),\(other)")]), holders(code).union(holders(other)))
            try await Synthea.expectMatches(
                client, Synthea.path("Patient", [("_has:Observation:patient:code", code), ("_has:Observation:subject:code", other)]),
                holders(code).intersection(holders(other)), allowEmpty: true)
            for gender in ["male", "female"] {
                try await Synthea.expectMatches(
                    client, Synthea.path("Patient", [("_has:Observation:patient:code", code), ("gender", gender)]),
                    holders(code).filter { data.resource($0)?["gender"]?.stringValue == gender }, allowEmpty: true)
            }
            // Patients seen by a practitioner; practitioners who saw a patient.
            try await Synthea.expectMatches(
                client, Synthea.path("Patient", [("_has:Encounter:patient:practitioner", practitioner)]),
                Set(encounters.filter { Synthea.referenceTargets($0, "participant.individual").contains(practitioner) }.flatMap { Synthea.referenceTargets($0, "subject") }))
            let patient = "Patient/\(data.patientIDs[2])"
            try await Synthea.expectMatches(
                client, Synthea.path("Practitioner", [("_has:Encounter:practitioner:patient", patient)]),
                Set(encounters.filter { Synthea.referenceTargets($0, "subject").contains(patient) }.flatMap { Synthea.referenceTargets($0, "participant.individual") }))
            // A code nobody has.
            try await Synthea.expectMatches(client, Synthea.path("Patient", [("_has:Observation:patient:code", "no-such-code")]), [], allowEmpty: true)
        }
    }
}

import FHIRModels
import FixtureSupport
import Foundation
import HummingbirdTesting
import Testing
@testable import Server

/// `_include`, `_revinclude` and `:iterate`: included resources are exactly the ones the
/// fixture's references point at, marked `search.mode = include`, each once.
@Suite("Search: _include and _revinclude")
struct SearchIncludeTests {
    typealias Synthea = SyntheaSearchData

    /// Checks the includes of a search: exactly `expected`, each once, all marked include.
    static func expectIncludes(
        _ pages: SyntheaSearchData.Pages, _ expected: Set<String>, _ label: String, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        try #require(!expected.isEmpty, "no includes expected for \(label): the data proves nothing", sourceLocation: sourceLocation)
        let included = pages.entries(mode: "include").compactMap { $0["resource"] }.map(Synthea.reference(of:))
        #expect(included.count == Set(included).count, "\(label): an included resource appears twice", sourceLocation: sourceLocation)
        let missing = expected.subtracting(included)
        let unexpected = Set(included).subtracting(expected)
        #expect(
            missing.isEmpty && unexpected.isEmpty,
            "\(label): includes missing \(missing.sorted().prefix(4)), unexpected \(unexpected.sorted().prefix(4))", sourceLocation: sourceLocation)
        // Every entry is either a match or an include (or the outcome), never unmarked.
        for entry in pages.entries {
            let mode = entry["search"]?["mode"]?.stringValue
            #expect(mode == "match" || mode == "include" || mode == "outcome", "\(label): entry without a search mode", sourceLocation: sourceLocation)
        }
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func includesFollowReferencesForward() async throws {
        let data = try Synthea.load()
        let observations = data.resources("Observation")
        let encounters = data.resources("Encounter")
        let code = "33914-3"
        let coded = observations.filter { Synthea.hasCoding($0, "code", system: "http://loinc.org", code: code) }
        let matched = Synthea.references(coded)
        let codedPatients = Set(coded.flatMap { Synthea.referenceTargets($0, "subject") })
        let codedEncounters = Set(coded.flatMap { Synthea.referenceTargets($0, "encounter") })
        let practitionersOfThose = Set(codedEncounters.compactMap { data.resource($0) }.flatMap { Synthea.referenceTargets($0, "participant.individual") })
        // Encounters of two patients who share a practitioner.
        let shared = try #require(data.resources("Practitioner").map(Synthea.reference(of:)).first { practitioner in
            Set(encounters.filter { Synthea.referenceTargets($0, "participant.individual").contains(practitioner) }
                .flatMap { Synthea.referenceTargets($0, "subject") }).count > 1
        })
        let sharedEncounters = encounters.filter { Synthea.referenceTargets($0, "participant.individual").contains(shared) }
        let requests = data.resources("MedicationRequest")

        try await TestApp.run { client in
            try await data.post(to: client)
            var pages = try await Synthea.expectMatches(
                client, Synthea.path("Observation", [("code", code), ("_include", "Observation:patient")]), matched)
            try Self.expectIncludes(pages, codedPatients, "Observation:patient")
            #expect(pages.includes.allSatisfy { $0["resourceType"] == "Patient" })

            pages = try await Synthea.expectMatches(
                client, Synthea.path("Observation", [("code", code), ("_include", "Observation:subject:Patient")]), matched)
            try Self.expectIncludes(pages, codedPatients, "Observation:subject:Patient")

            // Two includes at once.
            pages = try await Synthea.expectMatches(
                client, Synthea.path("Observation", [("code", code), ("_include", "Observation:patient"), ("_include", "Observation:encounter")]), matched)
            try Self.expectIncludes(pages, codedPatients.union(codedEncounters), "patient + encounter")

            // :iterate reaches one more level, from the included Encounters to their Practitioners.
            pages = try await Synthea.expectMatches(
                client, Synthea.path("Observation", [("code", code), ("_include", "Observation:encounter"), ("_include:iterate", "Encounter:practitioner")]),
                matched)
            try Self.expectIncludes(pages, codedEncounters.union(practitionersOfThose), "iterate Encounter:practitioner")
            // Without :iterate, Encounter:practitioner does not apply to included Encounters.
            pages = try await Synthea.expectMatches(
                client, Synthea.path("Observation", [("code", code), ("_include", "Observation:encounter"), ("_include", "Encounter:practitioner")]),
                matched)
            try Self.expectIncludes(pages, codedEncounters, "Encounter:practitioner without iterate")

            // A Practitioner referenced by many matches is included once.
            pages = try await Synthea.expectMatches(
                client, Synthea.path("Encounter", [("practitioner", shared), ("_include", "Encounter:practitioner")]),
                Synthea.references(sharedEncounters))
            try Self.expectIncludes(pages, Set(sharedEncounters.flatMap { Synthea.referenceTargets($0, "participant.individual") }), "Encounter:practitioner")

            // MedicationRequest → requester (Practitioner) and patient.
            let expectedRequesters = Set(requests.flatMap { Synthea.referenceTargets($0, "requester") + Synthea.referenceTargets($0, "subject") })
            pages = try await Synthea.expectMatches(
                client, Synthea.path("MedicationRequest", [("_include", "MedicationRequest:requester"), ("_include", "MedicationRequest:patient")]),
                Synthea.references(requests))
            try Self.expectIncludes(pages, expectedRequesters, "MedicationRequest:requester + patient")

            // Paged: each page carries the includes of its own matches.
            pages = try await Synthea.expectMatches(
                client, Synthea.path("Observation", [("code", code), ("_include", "Observation:patient"), ("_count", "3")]), matched)
            #expect(pages.bundles.count > 1, "three per page should take several pages")
            for bundle in pages.bundles {
                let entries = bundle["entry"]?.arrayValue ?? []
                let included = Set(entries.filter { $0["search"]?["mode"] == "include" }.compactMap { $0["resource"] }.map(Synthea.reference(of:)))
                for match in entries.filter({ $0["search"]?["mode"] == "match" }).compactMap({ $0["resource"] }) {
                    let subjects = Synthea.referenceTargets(match, "subject")
                    #expect(subjects.allSatisfy(included.contains), "a page lacks the Patient of one of its matches")
                }
            }
        }
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func revincludesFollowReferencesBackward() async throws {
        let data = try Synthea.load()
        let observations = data.resources("Observation")
        let encounters = data.resources("Encounter")
        let patientID = data.patientIDs[3]
        let patient = "Patient/\(patientID)"
        let ownObservations = Synthea.references(observations.filter { Synthea.referenceTargets($0, "subject").contains(patient) })
        let ownEncounters = encounters.filter { Synthea.referenceTargets($0, "subject").contains(patient) }
        let observationsOfEncounters = Synthea.references(observations.filter { obs in
            Synthea.referenceTargets(obs, "encounter").contains { reference in ownEncounters.contains { Synthea.reference(of: $0) == reference } }
        })
        let conditions = Synthea.references(data.resources("Condition").filter { Synthea.referenceTargets($0, "subject").contains(patient) })
        let two = [data.patientIDs[0], data.patientIDs[5]]

        try await TestApp.run { client in
            try await data.post(to: client)
            var pages = try await Synthea.expectMatches(
                client, Synthea.path("Patient", [("_id", patientID), ("_revinclude", "Observation:patient")]), [patient])
            try SearchIncludeTests.expectIncludes(pages, ownObservations, "_revinclude Observation:patient")

            pages = try await Synthea.expectMatches(
                client, Synthea.path("Patient", [("_id", patientID), ("_revinclude", "Observation:subject"), ("_revinclude", "Condition:patient")]),
                [patient])
            try SearchIncludeTests.expectIncludes(pages, ownObservations.union(conditions), "_revinclude Observation:subject + Condition:patient")

            // :iterate: the Encounters of the patient, then the Observations of those Encounters.
            pages = try await Synthea.expectMatches(
                client, Synthea.path("Patient", [("_id", patientID), ("_revinclude", "Encounter:patient"), ("_revinclude:iterate", "Observation:encounter")]),
                [patient])
            try SearchIncludeTests.expectIncludes(
                pages, Synthea.references(ownEncounters).union(observationsOfEncounters), "_revinclude:iterate Observation:encounter")

            // Two patients: each one's Observations, nobody else's.
            pages = try await Synthea.expectMatches(
                client, Synthea.path("Patient", [("_id", two.joined(separator: ",")), ("_revinclude", "Observation:patient")]),
                Set(two.map { "Patient/\($0)" }))
            try SearchIncludeTests.expectIncludes(
                pages, Synthea.references(observations.filter { obs in two.contains { Synthea.referenceTargets(obs, "subject").contains("Patient/\($0)") } }),
                "_revinclude for two patients")
        }
    }
}

import FHIRModels
import FixtureSupport
import Foundation
import HummingbirdTesting
import Testing
@testable import Server

/// Modifiers: `:exact`, `:contains`, `:missing`, `:not`, `:text`, `:of-type`, `:identifier`, and
/// accent folding, on Synthea data and on a few resources made here for the cases Synthea lacks.
@Suite("Search: modifiers")
struct SearchModifierTests {
    typealias Synthea = SyntheaSearchData

    static func patient(_ id: String, family: String, given: String = "Test") -> JSONValue {
        ["resourceType": "Patient", "id": .string(id), "name": [["family": .string(family), "given": [.string(given)]]]]
    }

    @Test
    func stringModifiersFoldAccentsAndCaseExceptExact() async throws {
        let families = ["Müller", "Muller", "MÜLLERSON", "Mueller", "Schmüll", "Ångström", "angstrom-Berg"]
        let patients = families.enumerated().map { Self.patient("accent-\($0.offset)", family: $0.element) }
        @Sendable func expected(_ predicate: (String) -> Bool) -> Set<String> {
            Set(families.enumerated().filter { predicate($0.element) }.map { "Patient/accent-\($0.offset)" })
        }
        try await TestApp.run { client in
            for patient in patients {
                #expect(try await client.sendJSON(.put, "/fhir/Patient/\(patient["id"]?.stringValue ?? "")", patient).status == .created)
            }
            for value in ["muller", "MÜLL", "angstrom", "Ång"] {
                try await Synthea.expectMatches(
                    client, Synthea.path("Patient", [("family", value)]), expected { Synthea.fold($0).hasPrefix(Synthea.fold(value)) })
            }
            try await Synthea.expectMatches(client, Synthea.path("Patient", [("family:exact", "Müller")]), expected { $0 == "Müller" })
            try await Synthea.expectMatches(client, Synthea.path("Patient", [("family:exact", "muller")]), [], allowEmpty: true)
            try await Synthea.expectMatches(client, Synthea.path("Patient", [("family:exact", "Mül")]), [], allowEmpty: true)
            try await Synthea.expectMatches(client, Synthea.path("Patient", [("family:exact", "Ångström,Muller")]), expected { $0 == "Ångström" || $0 == "Muller" })
            for value in ["ULL", "ström", "-berg"] {
                try await Synthea.expectMatches(
                    client, Synthea.path("Patient", [("family:contains", value)]), expected { Synthea.fold($0).contains(Synthea.fold(value)) })
            }
        }
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func missingNotTextOfTypeAndIdentifierOnSyntheaData() async throws {
        let data = try Synthea.load()
        let observations = data.resources("Observation")
        let encounters = data.resources("Encounter")
        let conditions = data.resources("Condition")
        let patients = data.patients
        let patientID = data.patientIDs[1]
        let loinc = "http://loinc.org"
        // Made here: an Observation without subject, one whose subject is only an identifier.
        let orphan: JSONValue = [
            "resourceType": "Observation", "id": "no-subject", "status": "final",
            "code": ["coding": [["system": .string(loinc), "code": "8302-2"]]],
        ]
        let byIdentifier: JSONValue = [
            "resourceType": "Observation", "id": "subject-by-identifier", "status": "final",
            "code": ["coding": [["system": .string(loinc), "code": "8302-2"]]],
            "subject": ["identifier": ["system": "http://example.org/mrn", "value": "MRN-0042"]],
        ]
        let allObservations = observations + [orphan, byIdentifier]
        @Sendable func expected(_ resources: [JSONValue], _ predicate: (JSONValue) -> Bool) -> Set<String> {
            Synthea.references(resources.filter(predicate))
        }

        try await TestApp.run { client in
            try await data.post(to: client)
            #expect(try await client.sendJSON(.put, "/fhir/Observation/no-subject", orphan).status == .created)
            #expect(try await client.sendJSON(.put, "/fhir/Observation/subject-by-identifier", byIdentifier).status == .created)

            // :missing on a quantity, a token, a date and a reference.
            try await Synthea.expectMatches(
                client, Synthea.path("Observation", [("value-quantity:missing", "true")]), expected(allObservations) { $0["valueQuantity"] == nil })
            try await Synthea.expectMatches(
                client, Synthea.path("Observation", [("value-quantity:missing", "false")]), expected(allObservations) { $0["valueQuantity"] != nil })
            try await Synthea.expectMatches(
                client, Synthea.path("Encounter", [("reason-code:missing", "true")]), expected(encounters) { $0["reasonCode"] == nil })
            try await Synthea.expectMatches(
                client, Synthea.path("Encounter", [("reason-code:missing", "false")]), expected(encounters) { $0["reasonCode"] != nil })
            try await Synthea.expectMatches(
                client, Synthea.path("Condition", [("abatement-date:missing", "true")]), expected(conditions) { $0["abatementDateTime"] == nil })
            try await Synthea.expectMatches(
                client, Synthea.path("Condition", [("abatement-date:missing", "false")]), expected(conditions) { $0["abatementDateTime"] != nil })
            try await Synthea.expectMatches(client, Synthea.path("Observation", [("subject:missing", "true")]), ["Observation/no-subject"])
            try await Synthea.expectMatches(
                client, Synthea.path("Observation", [("subject:missing", "false")]), expected(allObservations) { $0["subject"] != nil })

            // :identifier on a reference.
            try await Synthea.expectMatches(
                client, Synthea.path("Observation", [("subject:identifier", "http://example.org/mrn|MRN-0042")]), ["Observation/subject-by-identifier"])

            // :not — everything of this patient but one code (resources without the code included).
            try await Synthea.expectMatches(
                client, Synthea.path("Observation", [("patient", patientID), ("code:not", "\(loinc)|8302-2")]),
                expected(observations) {
                    Synthea.referenceTargets($0, "subject").contains("Patient/\(patientID)")
                        && !Synthea.hasCoding($0, "code", system: loinc, code: "8302-2")
                })
            try await Synthea.expectMatches(
                client, Synthea.path("Patient", [("gender:not", "male")]), expected(patients) { $0["gender"]?.stringValue != "male" })

            // :text — the code's text or a coding's display, as a case-insensitive prefix.
            let word = "body"
            func texts(_ obs: JSONValue) -> [String] {
                Synthea.strings(obs, "code.text") + Synthea.codings(obs, "code").compactMap(\.display)
            }
            let byText = expected(observations) { Synthea.startsWith(texts($0), word) }
            try #require(byText == expected(observations) { Synthea.contains(texts($0), word) }, "choose a word that is only ever a prefix")
            try await Synthea.expectMatches(client, Synthea.path("Observation", [("code:text", word)]), byText)

            // :of-type — identifier type, system and value.
            let keeling = try #require(data.resource("Patient/\(data.patientIDs[0])"))
            let mrn = try #require(Synthea.values(keeling, "identifier").first { Synthea.strings($0, "type.coding.code").contains("MR") })
            let mrnValue = try #require(mrn["value"]?.stringValue)
            let ofType = expected(patients) { patient in
                Synthea.values(patient, "identifier").contains {
                    Synthea.strings($0, "type.coding.code").contains("MR") && $0["value"]?.stringValue == mrnValue
                }
            }
            try await Synthea.expectMatches(
                client, Synthea.path("Patient", [("identifier:of-type", "http://terminology.hl7.org/CodeSystem/v2-0203|MR|\(mrnValue)")]), ofType)
            // The right value under another type finds nothing.
            try await Synthea.expectMatches(
                client, Synthea.path("Patient", [("identifier:of-type", "http://terminology.hl7.org/CodeSystem/v2-0203|DL|\(mrnValue)")]), [],
                allowEmpty: true)

            // :contains over given and family.
            try await Synthea.expectMatches(
                client, Synthea.path("Patient", [("name:contains", "ald")]), expected(patients) { Synthea.contains(Synthea.nameParts($0), "ald") })
            try await Synthea.expectMatches(
                client, Synthea.path("Patient", [("family:contains", "EEL")]),
                expected(patients) { Synthea.contains(Synthea.strings($0, "name.family"), "eel") })
        }
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func commaIsOrAndRepetitionIsAnd() async throws {
        let data = try Synthea.load()
        let patients = data.patients
        let keeling = try #require(data.resource("Patient/\(data.patientIDs[0])"))
        let family = try #require(Synthea.strings(keeling, "name.family").first)
        let given = try #require(Synthea.strings(keeling, "name.given").first)
        let familyInitial = String(family.prefix(1))
        let givenInitial = String(given.prefix(1))
        @Sendable func expected(_ predicate: (JSONValue) -> Bool) -> Set<String> { Synthea.references(patients.filter(predicate)) }
        let either = expected { Synthea.startsWith(Synthea.nameParts($0), familyInitial) || Synthea.startsWith(Synthea.nameParts($0), givenInitial) }
        let both = expected { Synthea.startsWith(Synthea.nameParts($0), familyInitial) && Synthea.startsWith(Synthea.nameParts($0), givenInitial) }
        try #require(both.count < either.count, "the data should tell OR from AND")
        try await TestApp.run { client in
            try await data.post(to: client)
            try await Synthea.expectMatches(client, Synthea.path("Patient", [("name", "\(familyInitial),\(givenInitial)")]), either)
            try await Synthea.expectMatches(client, Synthea.path("Patient", [("name", familyInitial), ("name", givenInitial)]), both)
            // An AND of two values of a single-valued element is empty.
            try await Synthea.expectMatches(client, Synthea.path("Patient", [("gender", "male"), ("gender", "female")]), [], allowEmpty: true)
            // OR across a parameter, AND with another.
            try await Synthea.expectMatches(
                client, Synthea.path("Patient", [("gender", "female,male"), ("family", familyInitial)]),
                expected { Synthea.startsWith(Synthea.strings($0, "name.family"), familyInitial) })
        }
    }
}

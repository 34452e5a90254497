import FixtureSupport
import FHIRModels
import Foundation
import Testing
@testable import Server

@Suite("Care relationships from clinical data")
struct CareRelationshipTests {
    static func example(_ name: String) throws -> JSONValue {
        try FHIRJSON.parse(Fixtures.data("hl7-examples/json/\(name)"))
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func encounterLinksItsPractitionerToItsPatient() throws {
        let encounter = try Self.example("encounter-example-f002-lung.json")
        #expect(CareRelationship.extract(from: encounter) == [
            CareRelationship(practitionerID: "f003", patientID: "f001", kind: .encounter),
        ])
        let home = try Self.example("encounter-example-home.json")
        #expect(CareRelationship.extract(from: home) == [
            CareRelationship(practitionerID: "example", patientID: "example", kind: .encounter),
        ])
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func encounterWithoutPractitionerGivesNothing() throws {
        #expect(CareRelationship.extract(from: try Self.example("encounter-example.json")).isEmpty)
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func patientsGeneralPractitionerIsTheirDoctor() throws {
        let patient = try Self.example("patient-example-infant-mom.json")
        #expect(CareRelationship.extract(from: patient) == [
            CareRelationship(practitionerID: "21B", patientID: "infant-mom", kind: .generalPractitioner),
        ])
        #expect(CareRelationship.Kind.generalPractitioner.rawValue == "general-practitioner")
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func resourcesOutsideEncounterAndPatientGiveNothing() throws {
        #expect(CareRelationship.extract(from: try Self.example("observation-example.json")).isEmpty)
        #expect(CareRelationship.extract(from: try Self.example("practitioner-example.json")).isEmpty)
    }

    @Test func everyPractitionerParticipantCountsOnceAndOtherTypesAreSkipped() {
        let encounter: JSONValue = .object([
            "resourceType": "Encounter",
            "subject": .object(["reference": "Patient/p1"]),
            "participant": .array([
                .object(["individual": .object(["reference": "Practitioner/d1"])]),
                .object(["individual": .object(["reference": "PractitionerRole/r1"])]),
                .object(["individual": .object(["reference": "RelatedPerson/x"])]),
                .object(["individual": .object(["reference": "Practitioner/d2/_history/2"])]),
                .object(["individual": .object(["reference": "Practitioner/d1"])]),
            ]),
        ])
        #expect(CareRelationship.extract(from: encounter) == [
            CareRelationship(practitionerID: "d1", patientID: "p1", kind: .encounter),
            CareRelationship(practitionerID: "d2", patientID: "p1", kind: .encounter),
        ])
        var groupSubject = encounter.objectValue!
        groupSubject["subject"] = .object(["reference": "Group/g"])
        #expect(CareRelationship.extract(from: .object(groupSubject)).isEmpty)

        let patient: JSONValue = .object([
            "resourceType": "Patient", "id": "p9",
            "generalPractitioner": .array([
                .object(["reference": "Organization/o1"]),
                .object(["reference": "Practitioner/d7"]),
            ]),
        ])
        #expect(CareRelationship.extract(from: patient) == [
            CareRelationship(practitionerID: "d7", patientID: "p9", kind: .generalPractitioner),
        ])
    }

    /// A relationship from an Encounter lasts as long as the appointment: a cancelled or
    /// entered-in-error Encounter states none (cancelling ends the access booking gave).
    @Test func cancelledAndEnteredInErrorEncountersEstablishNothing() {
        func encounter(_ status: String) -> JSONValue {
            .object([
                "resourceType": "Encounter", "status": .string(status),
                "subject": .object(["reference": "Patient/p1"]),
                "participant": .array([.object(["individual": .object(["reference": "Practitioner/d1"])])]),
            ])
        }
        for status in ["planned", "arrived", "in-progress", "finished", "unknown"] {
            #expect(CareRelationship.extract(from: encounter(status)) == [
                CareRelationship(practitionerID: "d1", patientID: "p1", kind: .encounter),
            ], "\(status)")
        }
        for status in ["cancelled", "entered-in-error"] {
            #expect(CareRelationship.extract(from: encounter(status)).isEmpty, "\(status)")
        }
    }
}

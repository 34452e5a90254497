import FixtureSupport
import FHIRModels
import Foundation
import Testing
@testable import Server

@Suite("Patient compartment membership")
struct PatientCompartmentTests {
    /// Synthea bundles reference their patient as `urn:uuid:<id>` (the fullUrl); a stored
    /// resource would say `Patient/<id>`. Rewrites the text so the bundle looks stored.
    static func storedForm(of file: URL) throws -> (patientID: String, resources: [JSONValue], raw: [JSONValue]) {
        let text = try String(contentsOf: file, encoding: .utf8)
        let raw = try FHIRJSON.parse(text)
        let entries = try #require(raw["entry"]?.arrayValue)
        let patients = entries.filter { $0["resource"]?["resourceType"] == .string("Patient") }
        try #require(patients.count == 1, "\(file.lastPathComponent) is about one patient")
        let fullURL = try #require(patients[0]["fullUrl"]?.stringValue)
        let patientID = try #require(patients[0]["resource"]?["id"]?.stringValue)
        let rewritten = try FHIRJSON.parse(text.replacingOccurrences(of: "\"\(fullURL)\"", with: "\"Patient/\(patientID)\""))
        let resources = try #require(rewritten["entry"]?.arrayValue).compactMap { $0["resource"] }
        return (patientID, resources, entries.compactMap { $0["resource"] })
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func everySyntheaResourceBelongsToItsBundlesPatient() throws {
        let files = Fixtures.files(in: "synthea", withExtension: "json")
        #expect(files.count >= Fixtures.expected(full: 30, vendored: 8))
        var checked = 0
        for file in files {
            let bundle = try Self.storedForm(of: file)
            for resource in bundle.resources {
                let type = try #require(resource["resourceType"]?.stringValue)
                let ids = PatientCompartment.patientIDs(of: resource)
                if PatientCompartment.resourceTypes.contains(type) {
                    #expect(ids == [bundle.patientID], "\(file.lastPathComponent) \(type)/\(resource["id"]?.stringValue ?? "?")")
                    checked += 1
                } else {
                    #expect(ids.isEmpty, "\(type) is outside the Patient compartment")
                }
            }
        }
        // The 34 shared bundles hold ~5,400 compartment resources (Observation, Claim, Encounter, ...),
        // the 8 vendored ones ~1,070.
        #expect(checked > Fixtures.expected(full: 5_000, vendored: 1_000))
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func urnUUIDReferencesNameNoStoredPatient() throws {
        let file = try #require(Fixtures.files(in: "synthea", withExtension: "json").first)
        let bundle = try Self.storedForm(of: file)
        let observation = try #require(bundle.raw.first { $0["resourceType"] == .string("Observation") })
        #expect(observation["subject"]?["reference"]?.stringValue?.hasPrefix("urn:uuid:") == true)
        #expect(PatientCompartment.patientIDs(of: observation).isEmpty)
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason),
          arguments: [
              ("observation-example.json", ["example"]),
              ("allergyintolerance-example.json", ["example"]),
              ("claim-example.json", ["1"]),
              ("medicationrequest0301.json", ["pat1"]),
              ("encounter-example-f002-lung.json", ["f001"]),
              ("procedure-example-f001-heart.json", ["f001"]),
              ("patient-example.json", ["example"]),
              ("patient-example-a.json", ["pat1", "pat2"]),
              ("practitioner-example.json", []),
          ])
    func hl7ExampleBelongsToTheReferencedPatient(file: String, expected: [String]) throws {
        let resource = try FHIRJSON.parse(Fixtures.data("hl7-examples/json/\(file)"))
        #expect(PatientCompartment.patientIDs(of: resource) == Set(expected))
    }

    /// Every hl7 example of a compartment type whose `subject`/`patient` names a Patient is in
    /// that patient's compartment: read straight from the JSON, not through member paths.
    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func hl7ExamplesSubjectOrPatientIsAMember() throws {
        var checked = 0
        for file in Fixtures.files(in: "hl7-examples/json", withExtension: "json") {
            let resource = try FHIRJSON.parse(Data(contentsOf: file))
            guard let type = resource["resourceType"]?.stringValue, PatientCompartment.resourceTypes.contains(type) else { continue }
            for key in ["subject", "patient"] {
                guard let reference = resource[key]?["reference"]?.stringValue, reference.hasPrefix("Patient/") else { continue }
                let id = String(reference.dropFirst("Patient/".count))
                #expect(PatientCompartment.patientIDs(of: resource).contains(id), "\(file.lastPathComponent)")
                checked += 1
            }
        }
        #expect(checked > Fixtures.expected(full: 50, vendored: 15))
    }

    @Test func memberPathsFollowTheR4Definition() {
        #expect(PatientCompartment.memberPaths(for: "Observation") == [["subject"], ["performer"]])
        #expect(PatientCompartment.memberPaths(for: "Encounter") == [["subject"]])
        #expect(PatientCompartment.memberPaths(for: "MedicationRequest") == [["subject"]])
        #expect(PatientCompartment.memberPaths(for: "Claim") == [["patient"], ["payee", "party"]])
        #expect(PatientCompartment.memberPaths(for: "Patient") == [["link", "other"]])
        #expect(PatientCompartment.memberPaths(for: "AllergyIntolerance") == [["patient"], ["recorder"], ["asserter"]])
        #expect(PatientCompartment.memberPaths(for: "Appointment") == [["participant", "actor"]])
        #expect(PatientCompartment.memberPaths(for: "AuditEvent") == [["agent", "who"], ["entity", "what"]])
        #expect(PatientCompartment.memberPaths(for: "Organization").isEmpty)
        #expect(PatientCompartment.memberPaths(for: "Practitioner").isEmpty)
        #expect(PatientCompartment.resourceTypes.contains("Patient"))
        #expect(!PatientCompartment.resourceTypes.contains("Organization"))
        #expect(!PatientCompartment.resourceTypes.contains("ActivityDefinition"), "listed in the definition without parameters")
        #expect(PatientCompartment.resourceTypes.count == 66)
    }

    @Test func groupSubjectsAndOtherTypesAreIgnored() {
        let observation: JSONValue = .object([
            "resourceType": "Observation",
            "subject": .object(["reference": "Group/g1"]),
            "performer": .array([
                .object(["reference": "Practitioner/p1"]),
                .object(["reference": "https://example.org/fhir/Patient/p2/_history/3"]),
                .object(["reference": "#contained"]),
            ]),
        ])
        #expect(PatientCompartment.patientIDs(of: observation) == ["p2"])
        let appointment: JSONValue = .object([
            "resourceType": "Appointment",
            "participant": .array([
                .object(["actor": .object(["reference": "Patient/a"])]),
                .object(["actor": .object(["reference": "Location/l"])]),
                .object(["actor": .object(["reference": "Patient/b/_history/1"])]),
            ]),
        ])
        #expect(PatientCompartment.patientIDs(of: appointment) == ["a", "b"])
        #expect(PatientCompartment.patientIDs(of: .object(["resourceType": "Organization", "id": "o"])).isEmpty)
        #expect(PatientCompartment.patientIDs(of: .string("Patient/x")).isEmpty)
    }

    @Test func referencesParse() {
        #expect(PatientCompartment.patientID(fromReference: "Patient/123") == "123")
        #expect(PatientCompartment.patientID(fromReference: "Patient/123/_history/2") == "123")
        #expect(PatientCompartment.patientID(fromReference: "https://host/fhir/Patient/123") == "123")
        #expect(PatientCompartment.patientID(fromReference: "https://host/fhir/Patient/123/_history/9") == "123")
        #expect(PatientCompartment.patientID(fromReference: "Practitioner/123") == nil)
        #expect(PatientCompartment.patientID(fromReference: "#p1") == nil)
        #expect(PatientCompartment.patientID(fromReference: "urn:uuid:866bb57e-a566-4708-8381-3a0a400e93ab") == nil)
        #expect(PatientCompartment.patientID(fromReference: "Patient?identifier=x|1") == nil)
        #expect(PatientCompartment.patientID(fromReference: "fhir/Patient/1") == nil, "relative references are Type/id")
        #expect(PatientCompartment.patientID(fromReference: "Patient/") == nil)
        #expect(PatientCompartment.patientID(fromReference: "Patient/a b") == nil)
        #expect(PatientCompartment.patientID(fromReference: "Patient/1/_history") == nil)
        let target = PatientCompartment.referenceTarget("Encounter/e1/_history/4")
        #expect(target?.type == "Encounter" && target?.id == "e1")
        #expect(PatientCompartment.referenceTarget("Nonsense/e1") == nil)
    }
}

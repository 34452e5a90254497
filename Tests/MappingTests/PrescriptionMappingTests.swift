import FHIRModels
import FixtureSupport
import Mapping
import PropertyBased
import Testing

@Suite struct PrescriptionMappingTests {
    @Test func newPrescriptionRoundTrips() async {
        await propertyCheck(count: 300, input: Generators.prescription) { prescription in
            MappingLaws.roundTrip(prescription)
        }
    }

    @Test func updateReadsBackAsTheNewPrescription() async {
        await propertyCheck(count: 300, input: Generators.prescription, Generators.prescription) { original, update in
            MappingLaws.update(original, to: update)
        }
    }

    @Test func newPrescriptionIsAnActiveOrder() throws {
        let prescription = PrescriptionDTO(
            patientID: "p1", doctorID: "d1", dateIssued: "2026-11-29", medication: "Amoxicillin 500 mg",
            dosage: "1 capsule 3 times a day", instructions: "Take with food", refills: 2
        )
        let expected = try FHIRJSON.parse(#"""
        {"resourceType": "MedicationRequest", "status": "active", "intent": "order",
         "medicationCodeableConcept": {"text": "Amoxicillin 500 mg"},
         "subject": {"reference": "Patient/p1"}, "authoredOn": "2026-11-29", "requester": {"reference": "Practitioner/d1"},
         "dosageInstruction": [{"text": "1 capsule 3 times a day", "patientInstruction": "Take with food"}],
         "dispenseRequest": {"numberOfRepeatsAllowed": 2}}
        """#)
        let resource = prescription.fhir(mergingInto: nil, context: MappingContext())
        #expect(resource.isEquivalent(to: expected), "\(FHIRCheck.differences(expected, resource))")
    }

    @Test func aNewMedicationReplacesCodingsAndReference() {
        let stored: JSONValue = [
            "resourceType": "MedicationRequest", "status": "active", "intent": "order",
            "medicationReference": ["reference": "Medication/m1", "display": "Amoxil"],
            "subject": ["reference": "Patient/p1"],
            "dosageInstruction": [["sequence": 1, "text": "twice daily", "timing": ["repeat": ["frequency": 2, "period": 1, "periodUnit": "d"]]]],
        ]
        var prescription = PrescriptionDTO(fhir: stored)
        #expect(prescription.medication == nil)
        prescription.medication = "Ibuprofen"
        prescription.instructions = "After meals"
        let updated = prescription.fhir(mergingInto: stored, context: MappingContext())
        #expect(updated["medicationReference"] == nil)
        #expect(updated["medicationCodeableConcept"] == ["text": "Ibuprofen"])
        #expect(updated["dosageInstruction"] == [[
            "sequence": 1, "text": "twice daily", "timing": ["repeat": ["frequency": 2, "period": 1, "periodUnit": "d"]],
            "patientInstruction": "After meals",
        ]])
    }

    @Test func medicationReadsTheCodingDisplayWithoutText() {
        let request: JSONValue = [
            "resourceType": "MedicationRequest",
            "medicationCodeableConcept": ["coding": [["system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "312617", "display": "predniSONE 5 MG Oral Tablet"]]],
            "dispenseRequest": ["numberOfRepeatsAllowed": 3],
        ]
        let prescription = PrescriptionDTO(fhir: request)
        #expect(prescription.medication == "predniSONE 5 MG Oral Tablet")
        #expect(prescription.refills == 3)
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func fixturesMergeBackUnchanged() throws {
        let fixtures = try FixtureResource.all(ofType: "MedicationRequest")
        #expect(fixtures.count > Fixtures.expected(full: 140, vendored: 20))
        MappingLaws.mergeKeepsEverything(PrescriptionDTO.self, fixtures)
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func anyPrescriptionWrittenOverFixturesReadsBackAndKeepsForeignContent() async throws {
        let fixtures = try FixtureResource.all(ofType: "MedicationRequest")
        await propertyCheck(count: 10, input: Generators.prescription) { prescription in
            for fixture in fixtures {
                MappingLaws.writeOverForeign(prescription, fixture, mapped: [
                    "subject", "requester", "authoredOn", "medicationCodeableConcept", "medicationReference",
                    "dosageInstruction", "dispenseRequest",
                ])
            }
        }
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func fixturesReadAsBodiesUnlessRequiredFieldsAreMissing() throws {
        let fixtures = try FixtureResource.all(ofType: "MedicationRequest")
        let decoded = MappingLaws.fixturesDecode(PrescriptionDTO.self, fixtures, required: ["patientId", "doctorId", "dateIssued", "medication"])
        #expect(decoded >= Fixtures.expected(full: 100, vendored: 15))
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func newRefillsChangeOnlyTheNumberOfRepeats() throws {
        for fixture in try FixtureResource.all(ofType: "MedicationRequest") {
            let dispense = fixture.resource["dispenseRequest"]
            let paths: Set<String> = dispense == nil ? ["dispenseRequest"]
                : dispense?["numberOfRepeatsAllowed"] == nil ? ["dispenseRequest.numberOfRepeatsAllowed"]
                : dispense?["numberOfRepeatsAllowed"] == 7 ? [] : ["dispenseRequest.numberOfRepeatsAllowed"]
            MappingLaws.changeTouchesOnly(fixture, { (prescription: inout PrescriptionDTO) in prescription.refills = 7 }, paths: paths)
        }
    }
}

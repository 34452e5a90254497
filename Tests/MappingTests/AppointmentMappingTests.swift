import FHIRModels
import FixtureSupport
import Mapping
import PropertyBased
import Testing

@Suite struct AppointmentMappingTests {
    @Test func newAppointmentRoundTrips() async {
        await propertyCheck(count: 300, input: Generators.appointment) { appointment in
            MappingLaws.roundTrip(appointment)
        }
    }

    @Test func updateReadsBackAsTheNewAppointment() async {
        await propertyCheck(count: 300, input: Generators.appointment, Generators.appointment) { original, update in
            MappingLaws.update(original, to: update)
        }
    }

    @Test func newAppointmentIsAnAmbulatoryEncounter() throws {
        let appointment = AppointmentDTO(
            patientID: "p1", doctorID: "d1", dateTime: "2026-12-01T09:30:00+01:00",
            reasonForVisit: "Follow-up", status: .scheduled, notes: "Bring the X-rays"
        )
        let expected = try FHIRJSON.parse(#"""
        {"resourceType": "Encounter", "status": "planned",
         "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB", "display": "ambulatory"},
         "subject": {"reference": "Patient/p1"},
         "participant": [{"individual": {"reference": "Practitioner/d1"}}],
         "period": {"start": "2026-12-01T09:30:00+01:00"},
         "reasonCode": [{"text": "Follow-up"}],
         "extension": [{"url": "https://medical-records.example/fhir/StructureDefinition/appointment-notes", "valueString": "Bring the X-rays"}]}
        """#)
        let resource = appointment.fhir(mergingInto: nil, context: MappingContext())
        #expect(resource.isEquivalent(to: expected), "\(FHIRCheck.differences(expected, resource))")
        #expect(appointment.references == [
            PlatformReference(field: "patientId", type: "Patient", id: "p1"),
            PlatformReference(field: "doctorId", type: "Practitioner", id: "d1"),
        ])
    }

    @Test(arguments: [
        ("planned", AppointmentStatus.scheduled), ("arrived", .scheduled), ("triaged", .scheduled), ("in-progress", .scheduled),
        ("onleave", .scheduled), ("finished", .completed), ("cancelled", .canceled),
        ("entered-in-error", nil), ("unknown", nil),
    ] as [(String, AppointmentStatus?)])
    func everyEncounterStatusReads(code: String, status: AppointmentStatus?) {
        let encounter: JSONValue = ["resourceType": "Encounter", "status": .string(code)]
        #expect(AppointmentDTO(fhir: encounter).status == status)
    }

    @Test func anEncounterInProgressStaysInProgressWhenOtherFieldsChange() {
        let stored: JSONValue = [
            "resourceType": "Encounter", "id": "e1", "status": "in-progress",
            "class": ["code": "IMP"], "subject": ["reference": "Patient/p1"],
        ]
        var appointment = AppointmentDTO(fhir: stored)
        #expect(appointment.status == .scheduled)
        appointment.notes = "Late"
        let updated = appointment.fhir(mergingInto: stored, context: MappingContext())
        #expect(updated["status"] == "in-progress")
        #expect(updated["class"] == ["code": "IMP"])
        appointment.status = .completed
        #expect(appointment.fhir(mergingInto: stored, context: MappingContext())["status"] == "finished")
    }

    @Test func movingTheStartPastTheEndDropsTheStaleEnd() {
        let stored: JSONValue = [
            "resourceType": "Encounter", "status": "planned", "class": ["code": "AMB"],
            "period": ["start": "2026-12-01T09:00:00Z", "end": "2026-12-01T09:30:00Z"],
        ]
        var appointment = AppointmentDTO(fhir: stored)
        appointment.dateTime = "2026-12-01T08:00:00-01:00"  // 09:00Z: still before the end
        #expect(appointment.fhir(mergingInto: stored, context: MappingContext())["period"] == ["start": "2026-12-01T08:00:00-01:00", "end": "2026-12-01T09:30:00Z"])
        appointment.dateTime = "2026-12-02T09:00:00Z"
        #expect(appointment.fhir(mergingInto: stored, context: MappingContext())["period"] == ["start": "2026-12-02T09:00:00Z"])
    }

    @Test func aNewDoctorReplacesTheFirstPractitionerParticipantOnly() {
        let stored: JSONValue = [
            "resourceType": "Encounter", "status": "planned", "class": ["code": "AMB"],
            "participant": [
                ["individual": ["reference": "RelatedPerson/r1"]],
                ["type": [["text": "attender"]], "individual": ["reference": "Practitioner/d1", "display": "Dr One"]],
                ["individual": ["reference": "Practitioner/d2"]],
            ],
        ]
        var appointment = AppointmentDTO(fhir: stored)
        #expect(appointment.doctorID == "d1")
        appointment.doctorID = "d3"
        #expect(appointment.fhir(mergingInto: stored, context: MappingContext())["participant"] == [
            ["individual": ["reference": "RelatedPerson/r1"]],
            ["type": [["text": "attender"]], "individual": ["reference": "Practitioner/d3"]],
            ["individual": ["reference": "Practitioner/d2"]],
        ])
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func fixturesMergeBackUnchanged() throws {
        let fixtures = try FixtureResource.all(ofType: "Encounter")
        #expect(fixtures.count > Fixtures.expected(full: 500, vendored: 90))
        MappingLaws.mergeKeepsEverything(AppointmentDTO.self, fixtures)
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func anyAppointmentWrittenOverFixturesReadsBackAndKeepsForeignContent() async throws {
        let fixtures = try FixtureResource.all(ofType: "Encounter")
        await propertyCheck(count: 5, input: Generators.appointment) { appointment in
            for fixture in fixtures {
                MappingLaws.writeOverForeign(appointment, fixture, mapped: ["status", "subject", "participant", "period", "reasonCode"])
            }
        }
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func fixturesReadAsBodiesUnlessRequiredFieldsAreMissing() throws {
        let fixtures = try FixtureResource.all(ofType: "Encounter")
        let decoded = MappingLaws.fixturesDecode(AppointmentDTO.self, fixtures, required: ["patientId", "doctorId", "status"], refused: [
            "hl7-examples/encounter-example-f203-20130311.json": [
                FieldIssue("dateTime", "must be a dateTime with seconds and a zone (YYYY-MM-DDThh:mm:ssZ)"),
            ],
        ])
        #expect(decoded >= Fixtures.expected(full: 500, vendored: 80))
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func cancelingChangesOnlyTheStatus() throws {
        for fixture in try FixtureResource.all(ofType: "Encounter") {
            let paths: Set<String> = fixture.resource["status"] == "cancelled" ? [] : ["status"]
            MappingLaws.changeTouchesOnly(fixture, { (appointment: inout AppointmentDTO) in appointment.status = .canceled }, paths: paths)
        }
    }
}

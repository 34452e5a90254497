import FHIRModels
import FixtureSupport
import Mapping
import PropertyBased
import Testing

@Suite struct DoctorMappingTests {
    @Test func newDoctorRoundTrips() async {
        await propertyCheck(count: 300, input: Generators.doctor) { doctor in
            MappingLaws.roundTrip(doctor)
        }
    }

    @Test func updateReadsBackAsTheNewDoctor() async {
        await propertyCheck(count: 300, input: Generators.doctor, Generators.doctor) { original, update in
            MappingLaws.update(original, to: update)
        }
    }

    @Test func newDoctorIsTheExpectedFHIR() throws {
        let doctor = DoctorDTO(
            firstName: "Gregory", lastName: "House", specialization: "Nephrology", qualifications: ["MD"],
            workSchedule: [WorkSchedule(daysOfWeek: [.mon, .wed], startTime: "09:00:00", endTime: "17:30:00")]
        )
        let expected = try FHIRJSON.parse(#"""
        {"resourceType": "Practitioner",
         "name": [{"use": "official", "family": "House", "given": ["Gregory"]}],
         "qualification": [{"code": {"text": "MD"}},
                           {"extension": [{"url": "https://medical-records.example/fhir/StructureDefinition/qualification-role", "valueCode": "specialization"}],
                            "code": {"text": "Nephrology"}}],
         "extension": [{"url": "https://medical-records.example/fhir/StructureDefinition/work-schedule",
                        "extension": [{"url": "daysOfWeek", "valueCode": "mon"}, {"url": "daysOfWeek", "valueCode": "wed"},
                                      {"url": "availableStartTime", "valueTime": "09:00:00"}, {"url": "availableEndTime", "valueTime": "17:30:00"}]}]}
        """#)
        let resource = doctor.fhir(mergingInto: nil, context: MappingContext())
        #expect(resource.isEquivalent(to: expected), "\(FHIRCheck.differences(expected, resource))")
    }

    @Test func foreignQualificationsReadAsTextDisplayOrCode() throws {
        let practitioner = try FHIRJSON.parse(#"""
        {"resourceType": "Practitioner",
         "qualification": [{"code": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0360/2.7", "code": "BS", "display": "Bachelor of Science"}], "text": "BSc"}},
                           {"code": {"coding": [{"system": "urn:example", "code": "X1", "display": "Surgeon"}]}},
                           {"code": {"coding": [{"system": "urn:example", "code": "RN"}]}}]}
        """#)
        let doctor = DoctorDTO(fhir: practitioner)
        #expect(doctor.qualifications == ["BSc", "Surgeon", "RN"])
        #expect(doctor.specialization == nil)
    }

    @Test func removingOneQualificationKeepsTheOthersAsTheyWere() throws {
        let stored = try FHIRJSON.parse(#"""
        {"resourceType": "Practitioner", "id": "d1",
         "qualification": [{"identifier": [{"value": "12"}], "code": {"coding": [{"code": "BS", "display": "Bachelor of Science"}]}, "issuer": {"display": "University"}},
                           {"code": {"text": "MD"}, "period": {"start": "1990"}}]}
        """#)
        var doctor = DoctorDTO(fhir: stored)
        doctor.qualifications = ["MD", "PhD"]
        let updated = doctor.fhir(mergingInto: stored, context: MappingContext())
        #expect(updated["qualification"] == [["code": ["text": "MD"], "period": ["start": "1990"]], ["code": ["text": "PhD"]]])
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func fixturesMergeBackUnchanged() throws {
        let fixtures = try FixtureResource.all(ofType: "Practitioner")
        #expect(fixtures.count > Fixtures.expected(full: 100, vendored: 12))
        MappingLaws.mergeKeepsEverything(DoctorDTO.self, fixtures)
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func anyDoctorWrittenOverFixturesReadsBackAndKeepsForeignContent() async throws {
        let fixtures = try FixtureResource.all(ofType: "Practitioner")
        await propertyCheck(count: 20, input: Generators.doctor) { doctor in
            for fixture in fixtures {
                MappingLaws.writeOverForeign(doctor, fixture, mapped: ["name", "telecom", "qualification"])
            }
        }
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func fixturesReadAsBodiesUnlessRequiredFieldsAreMissing() throws {
        let fixtures = try FixtureResource.all(ofType: "Practitioner")
        let decoded = MappingLaws.fixturesDecode(DoctorDTO.self, fixtures, required: ["firstName", "lastName"])
        #expect(decoded >= Fixtures.expected(full: 53, vendored: 12), "every Synthea practitioner at least")
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func aNewSpecializationAddsOneQualificationAndNothingElse() throws {
        for fixture in try FixtureResource.all(ofType: "Practitioner") {
            var doctor = DoctorDTO(fhir: fixture.resource)
            doctor.specialization = "Cardiology"
            let merged = doctor.fhir(mergingInto: fixture.resource, context: MappingContext())
            #expect(FHIRCheck.differences(fixture.resource, merged) == ["qualification"], "\(fixture.source)")
            let before = fixture.resource["qualification"]?.arrayValue ?? []
            #expect(Array(merged["qualification"]?.arrayValue?.dropLast() ?? []) == before, "\(fixture.source)")
            #expect(DoctorDTO(fhir: merged) == doctor)
        }
    }
}

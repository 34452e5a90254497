import FHIRModels
import FixtureSupport
import Mapping
import PropertyBased
import Testing

@Suite struct PatientMappingTests {
    @Test func newPatientRoundTrips() async {
        await propertyCheck(count: 300, input: Generators.patient) { patient in
            MappingLaws.roundTrip(patient)
        }
    }

    @Test func updateReadsBackAsTheNewPatient() async {
        await propertyCheck(count: 300, input: Generators.patient, Generators.patient) { original, update in
            MappingLaws.update(original, to: update)
        }
    }

    @Test func newPatientIsTheExpectedFHIR() throws {
        let patient = PatientDTO(
            firstName: "Ada", lastName: "Lovelace", dateOfBirth: "1815-12-10", gender: .female,
            address: PostalAddress(line: ["12 St James's Square"], city: "London", postalCode: "SW1Y 4JH", country: "GB"),
            contact: ContactDetails(phone: "+44 20 7946 0000", email: "ada@example.org", other: ["https://ada.example"]),
            insurance: InsuranceDetails(provider: "Acme Health", policyNumber: "P-123")
        )
        let resource = patient.fhir(mergingInto: nil, context: MappingContext())
        let expected = try FHIRJSON.parse(#"""
        {"resourceType": "Patient",
         "name": [{"use": "official", "family": "Lovelace", "given": ["Ada"]}],
         "gender": "female", "birthDate": "1815-12-10",
         "address": [{"use": "home", "line": ["12 St James's Square"], "city": "London", "postalCode": "SW1Y 4JH", "country": "GB"}],
         "telecom": [{"system": "other", "value": "https://ada.example"}, {"system": "phone", "value": "+44 20 7946 0000"},
                     {"system": "email", "value": "ada@example.org"}],
         "extension": [{"url": "https://medical-records.example/fhir/StructureDefinition/patient-insurance",
                        "extension": [{"url": "provider", "valueString": "Acme Health"}, {"url": "policyNumber", "valueString": "P-123"}]}]}
        """#)
        #expect(resource.isEquivalent(to: expected), "\(FHIRCheck.differences(expected, resource))")
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func fixturesMergeBackUnchanged() throws {
        let fixtures = try FixtureResource.all(ofType: "Patient")
        #expect(fixtures.count > Fixtures.expected(full: 40, vendored: 25))
        MappingLaws.mergeKeepsEverything(PatientDTO.self, fixtures)
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func anyPatientWrittenOverFixturesReadsBackAndKeepsForeignContent() async throws {
        let fixtures = try FixtureResource.all(ofType: "Patient")
        await propertyCheck(count: 20, input: Generators.patient) { patient in
            for fixture in fixtures {
                MappingLaws.writeOverForeign(patient, fixture, mapped: ["name", "birthDate", "gender", "address", "telecom"])
            }
        }
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func fixturesReadAsBodiesUnlessRequiredFieldsAreMissing() throws {
        let fixtures = try FixtureResource.all(ofType: "Patient")
        let decoded = MappingLaws.fixturesDecode(PatientDTO.self, fixtures, required: ["firstName", "lastName", "dateOfBirth", "gender"])
        #expect(decoded >= Fixtures.expected(full: 34, vendored: 8), "every Synthea patient at least")
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func newLastNameChangesOnlyTheFamilyName() throws {
        for fixture in try FixtureResource.all(ofType: "Patient") {
            let names = fixture.resource["name"]?.arrayValue ?? []
            guard let index = names.firstIndex(where: { $0["use"]?.stringValue == "official" }) ?? (names.isEmpty ? nil : 0),
                  names[index]["family"] != nil
            else { continue }
            var paths: Set<String> = ["name[\(index)].family"]
            if names[index]["text"] != nil { paths.insert("name[\(index)].text") }
            MappingLaws.changeTouchesOnly(fixture, { (patient: inout PatientDTO) in patient.lastName = "Changed" }, paths: paths)
        }
    }

    @Test func clearingTheAddressKeepsOtherAddressesAndForeignDetails() throws {
        let stored = try FHIRJSON.parse(#"""
        {"resourceType": "Patient", "id": "p1",
         "identifier": [{"system": "urn:oid:1.2.36.146.595.217.0.1", "value": "12345"}],
         "address": [{"use": "work", "city": "Berne"},
                     {"use": "home", "period": {"start": "2001-01-01"}, "text": "1 Main St, Springfield", "line": ["1 Main St"], "city": "Springfield"}],
         "telecom": [{"system": "phone", "value": "555-1", "use": "home", "rank": 1}, {"system": "fax", "value": "555-2"}]}
        """#)
        var patient = PatientDTO(fhir: stored)
        #expect(patient.address == PostalAddress(line: ["1 Main St"], city: "Springfield"))
        #expect(patient.contact == ContactDetails(phone: "555-1", other: ["555-2"]))
        patient.address = nil
        patient.contact?.phone = "555-3"
        let updated = patient.fhir(mergingInto: stored, context: MappingContext())
        #expect(updated["address"] == [["use": "work", "city": "Berne"], ["use": "home", "period": ["start": "2001-01-01"]]])
        #expect(updated["telecom"] == [["system": "phone", "value": "555-3", "use": "home", "rank": 1], ["system": "fax", "value": "555-2"]])
        #expect(updated["identifier"] == stored["identifier"])
        #expect(PatientDTO(fhir: updated).address == nil)
    }
}

import FHIRModels
import FixtureSupport
import Mapping
import PropertyBased
import Testing

@Suite struct MedicalRecordMappingTests {
    /// What the store adds: the Composition's date from `MappingLaws.context.now`, meta.lastUpdated.
    static func dated(_ record: MedicalRecordDTO) -> MedicalRecordDTO {
        var record = record
        record.createdAt = "2026-11-18T11:06:40Z"
        record.updatedAt = "2026-11-29T10:00:00.000Z"
        return record
    }

    @Test func newRecordRoundTrips() async {
        await propertyCheck(count: 300, input: Generators.medicalRecord) { record in
            MappingLaws.roundTrip(record, expected: Self.dated)
        }
    }

    @Test func updateReadsBackAsTheNewRecord() async {
        await propertyCheck(count: 300, input: Generators.medicalRecord, Generators.medicalRecord) { original, update in
            MappingLaws.update(original, to: update, expected: Self.dated)
        }
    }

    @Test func newRecordIsAFinalCompositionWithLOINCSections() throws {
        let record = MedicalRecordDTO(
            patientID: "p1", diagnosis: "Asthma <mild> & seasonal",
            allergies: [RecordItem(description: "Penicillin", date: "2020-01-02", code: "91936005"), RecordItem(description: "Dust")]
        )
        let context = MappingContext(authorPractitionerID: "d1", now: MappingLaws.context.now)
        let expected = try FHIRJSON.parse(#"""
        {"resourceType": "Composition", "status": "final",
         "type": {"coding": [{"system": "http://loinc.org", "code": "11503-0", "display": "Medical records"}]},
         "subject": {"reference": "Patient/p1"}, "date": "2026-11-18T11:06:40Z",
         "author": [{"reference": "Practitioner/d1"}], "title": "Medical record",
         "section": [
           {"title": "Diagnosis", "code": {"coding": [{"system": "http://loinc.org", "code": "29548-5"}]},
            "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Asthma &lt;mild&gt; &amp; seasonal</div>"}},
           {"title": "Allergies", "code": {"coding": [{"system": "http://loinc.org", "code": "48765-2"}]},
            "extension": [
              {"url": "https://medical-records.example/fhir/StructureDefinition/record-item",
               "extension": [{"url": "description", "valueString": "Penicillin"}, {"url": "date", "valueString": "2020-01-02"}, {"url": "code", "valueString": "91936005"}]},
              {"url": "https://medical-records.example/fhir/StructureDefinition/record-item",
               "extension": [{"url": "description", "valueString": "Dust"}]}],
            "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"><ul class=\"record-items\"><li>Penicillin (2020-01-02) [code 91936005]</li><li>Dust</li></ul></div>"}}]}
        """#)
        let resource = record.fhir(mergingInto: nil, context: context)
        #expect(resource.isEquivalent(to: expected), "\(FHIRCheck.differences(expected, resource))")
        #expect(FHIRCheck.problems(resource) == [])
    }

    @Test func withoutAnAuthorTheRecordIsStillValid() {
        let resource = MedicalRecordDTO(patientID: "p1").fhir(mergingInto: nil, context: MappingContext())
        #expect(resource["author"] == [["display": "medical-records"]])
        #expect(resource["section"] == nil)
        #expect(FHIRCheck.problems(resource) == [])
    }

    @Test func foreignNarrativeReadsAsItsText() {
        let composition: JSONValue = [
            "resourceType": "Composition",
            "section": [[
                "code": ["coding": [["system": "http://loinc.org", "code": "18776-5"]]],
                "text": ["status": "additional", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">\n  <p>Rest &amp; <b>fluids</b></p>\n  <p>Paracetamol&#160;500&#x20;mg</p></div>"],
            ]],
        ]
        #expect(MedicalRecordDTO(fhir: composition).treatment == "Rest & fluids Paracetamol 500 mg")
    }

    @Test func clearingASectionKeepsItsEntries() {
        let stored: JSONValue = [
            "resourceType": "Composition", "status": "final", "date": "2026-01-01", "title": "t", "type": ["text": "x"], "author": [["display": "a"]],
            "section": [
                ["code": ["coding": [["system": "http://loinc.org", "code": "29548-5"]]],
                 "text": ["status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Flu</div>"],
                 "entry": [["reference": "Condition/c1"]]],
                ["code": ["coding": [["system": "http://loinc.org", "code": "18776-5"]]],
                 "text": ["status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Rest</div>"]],
            ],
        ]
        var record = MedicalRecordDTO(fhir: stored)
        #expect(record.diagnosis == "Flu" && record.treatment == "Rest")
        record.diagnosis = nil
        record.treatment = nil
        let updated = record.fhir(mergingInto: stored, context: MappingContext())
        #expect(updated["section"] == [["code": ["coding": [["system": "http://loinc.org", "code": "29548-5"]]], "entry": [["reference": "Condition/c1"]]]])
        #expect(FHIRCheck.problems(updated) == [])
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func addingAnAllergyKeepsTheForeignNarrativeAndEntries() throws {
        let fixtures = try FixtureResource.hl7Examples(ofType: "Composition")
        let fixture = try #require(fixtures.first)
        var record = MedicalRecordDTO(fhir: fixture.resource)
        #expect(record.allergies == [])
        #expect(record.patientID == nil, "an absolute reference to another server is not a local patient")
        #expect(record.createdAt == "2013-02-01T12:30:02Z" && record.updatedAt == "2013-05-28T22:12:21Z")
        record.allergies = [RecordItem(description: "Penicillin")]
        let merged = record.fhir(mergingInto: fixture.resource, context: MappingContext())
        #expect(Set(FHIRCheck.differences(fixture.resource, merged)) == ["section[2].extension", "section[2].text.div"])
        let before = try #require(fixture.resource["section"]?.arrayValue?[2]["text"]?["div"]?.stringValue)
        let after = try #require(merged["section"]?.arrayValue?[2]["text"]?["div"]?.stringValue)
        #expect(after.hasPrefix(#"<div xmlns="http://www.w3.org/1999/xhtml"><ul class="record-items"><li>Penicillin</li></ul>"#))
        #expect(after.contains("<td>Doxycycline</td>") && before.contains("<td>Doxycycline</td>"))
        #expect(MedicalRecordDTO(fhir: merged) == record)
        #expect(FHIRCheck.problems(merged) == [])

        // Taking the allergy out again restores the foreign narrative as it was.
        record.allergies = []
        let restored = record.fhir(mergingInto: merged, context: MappingContext())
        #expect(restored["section"]?.arrayValue?[2]["text"]?["div"]?.stringValue == before)
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func fixturesMergeBackUnchanged() throws {
        let fixtures = try FixtureResource.all(ofType: "Composition")
        #expect(fixtures.count == 1)
        MappingLaws.mergeKeepsEverything(MedicalRecordDTO.self, fixtures)
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func anyRecordWrittenOverTheFixtureReadsBackAndKeepsForeignContent() async throws {
        let fixtures = try FixtureResource.all(ofType: "Composition")
        await propertyCheck(count: 200, input: Generators.medicalRecord) { record in
            for fixture in fixtures {
                MappingLaws.writeOverForeign(record, fixture, mapped: ["subject", "section"]) { record in
                    var record = record
                    record.createdAt = fixture.resource["date"]?.stringValue
                    record.updatedAt = fixture.resource["meta"]?["lastUpdated"]?.stringValue
                    return record
                }
                let merged = record.fhir(mergingInto: fixture.resource, context: MappingLaws.context)
                #expect(FHIRCheck.problems(merged) == [])
                // Sections the platform does not map are kept in order.
                let foreign = { (resource: JSONValue) in
                    (resource["section"]?.arrayValue ?? []).filter { $0["code"]?["coding"]?.arrayValue?.first?["code"] != "48765-2" && $0["title"] != nil }
                }
                #expect(foreign(merged).prefix(2) == foreign(fixture.resource).prefix(2))
            }
        }
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func theFixtureReadsAsABodyExceptForItsForeignPatient() throws {
        MappingLaws.fixturesDecode(MedicalRecordDTO.self, try FixtureResource.all(ofType: "Composition"), required: ["patientId"])
    }
}

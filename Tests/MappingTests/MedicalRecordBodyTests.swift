import FHIRModels
import Mapping
import Testing

@Suite struct MedicalRecordBodyTests {
    @Test func readOnlyDatesAreIgnoredAndItemsNeedADescription() throws {
        let record = try BodyTesting.decode(MedicalRecordDTO.self, #"""
        {"id": "x", "createdAt": "1999-01-01", "updatedAt": 5, "patientId": "p1", "notes": " Line 1\nLine 2 ",
         "procedures": [{"description": "Appendectomy", "date": "2020-01-01", "code": "80146002"}]}
        """#)
        #expect(record == MedicalRecordDTO(patientID: "p1", notes: "Line 1\nLine 2",
                                           procedures: [RecordItem(description: "Appendectomy", date: "2020-01-01", code: "80146002")]))
        #expect(BodyTesting.issues(MedicalRecordDTO.self, #"""
        {"patientId": "p1", "procedures": [{"description": "ok"}, {"date": "2020-02-30", "code": 7}], "testResults": {"description": "x"}}
        """#) == [
            FieldIssue("procedures[1].description", "is required"),
            FieldIssue("procedures[1].date", "must be a date YYYY-MM-DD or a dateTime with seconds and a zone (YYYY-MM-DDThh:mm:ssZ)"),
            FieldIssue("procedures[1].code", "must be a string"),
            FieldIssue("testResults", "must be an array"),
        ])
    }
}

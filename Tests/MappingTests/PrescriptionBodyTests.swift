import FHIRModels
import Mapping
import Testing

@Suite struct PrescriptionBodyTests {
    @Test(arguments: ["-1", "1001", "2.5", "1e2", "\"3\"", "true"])
    func refillsMustBeAnIntegerFrom0To1000(refills: String) {
        #expect(BodyTesting.issues(PrescriptionDTO.self, #"{"patientId": "p", "doctorId": "d", "dateIssued": "2026-11-29", "medication": "M", "refills": \#(refills)}"#)
            == [FieldIssue("refills", "must be an integer from 0 to 1000")])
    }

    @Test func dateIssuedTakesADateOrADateTime() throws {
        for date in ["2026-11-29", "2026-11-29T10:00:00Z"] {
            let prescription = try BodyTesting.decode(PrescriptionDTO.self, #"{"patientId": "p", "doctorId": "d", "dateIssued": "\#(date)", "medication": "M", "refills": 0}"#)
            #expect(prescription.dateIssued == date && prescription.refills == 0)
        }
        #expect(BodyTesting.issues(PrescriptionDTO.self, #"{"patientId": "p", "doctorId": "d", "dateIssued": "2026-11", "medication": "M"}"#)
            == [FieldIssue("dateIssued", "must be a date YYYY-MM-DD or a dateTime with seconds and a zone (YYYY-MM-DDThh:mm:ssZ)")])
    }
}

import FHIRModels
import Mapping
import Testing

@Suite struct AppointmentBodyTests {
    @Test func aCompleteBodyDecodes() throws {
        let appointment = try BodyTesting.decode(AppointmentDTO.self, #"""
        {"patientId": "p-1", "doctorId": "d.1", "dateTime": "2026-11-29T09:30:00.5+01:00", "status": "completed", "reasonForVisit": "Cough"}
        """#)
        #expect(appointment == AppointmentDTO(patientID: "p-1", doctorID: "d.1", dateTime: "2026-11-29T09:30:00.5+01:00", reasonForVisit: "Cough", status: .completed))
    }

    @Test(arguments: ["2026-11-29", "2026-11-29T09:30Z", "2026-11-29T09:30:00", "2026-11-29 09:30:00Z", "2026-02-30T09:30:00Z", "2026-11-29T24:00:00Z", "2026-11-29T09:30:00+15:00"])
    func dateTimesNeedSecondsAndAZone(dateTime: String) {
        #expect(BodyTesting.issues(AppointmentDTO.self, #"{"patientId": "p", "doctorId": "d", "dateTime": "\#(dateTime)", "status": "scheduled"}"#)
            == [FieldIssue("dateTime", "must be a dateTime with seconds and a zone (YYYY-MM-DDThh:mm:ssZ)")])
    }

    @Test func idsCannotSmuggleAPath() {
        #expect(BodyTesting.issues(AppointmentDTO.self, #"{"patientId": "p/_history/1", "doctorId": "../x", "dateTime": "2026-11-29T09:30:00Z", "status": "scheduled"}"#) == [
            FieldIssue("patientId", "must be an id of 1 to 64 letters, digits, '-' or '.'"),
            FieldIssue("doctorId", "must be an id of 1 to 64 letters, digits, '-' or '.'"),
        ])
    }
}

import FHIRModels
import Mapping
import Testing

@Suite struct DoctorBodyTests {
    @Test func timesAreStoredWithSeconds() throws {
        let doctor = try BodyTesting.decode(DoctorDTO.self, #"""
        {"firstName": "G", "lastName": "H", "specialization": "Nephrology", "qualifications": ["MD"],
         "workSchedule": [{"daysOfWeek": ["mon", "fri"], "startTime": "09:00", "endTime": "17:30:15"}]}
        """#)
        #expect(doctor.workSchedule == [WorkSchedule(daysOfWeek: [.mon, .fri], startTime: "09:00:00", endTime: "17:30:15")])
    }

    @Test func scheduleRulesAreReportedPerSlot() {
        let issues = BodyTesting.issues(DoctorDTO.self, #"""
        {"firstName": "G", "lastName": "H",
         "workSchedule": [{"daysOfWeek": ["mon"], "startTime": "09:00", "endTime": "17:00"},
                          {"daysOfWeek": ["monday"], "startTime": "10:00", "endTime": "09:00"},
                          {"daysOfWeek": [], "startTime": "24:00", "endTime": "9"},
                          {"startTime": "08:00", "endTime": "09:00", "note": "x"},
                          {"daysOfWeek": ["tue", "tue"], "endTime": "09:00"}, "mornings"]}
        """#)
        #expect(issues == [
            FieldIssue("workSchedule[1].daysOfWeek[0]", "must be one of mon, tue, wed, thu, fri, sat, sun"),
            FieldIssue("workSchedule[1].endTime", "must be after startTime"),
            FieldIssue("workSchedule[2].daysOfWeek", "must list at least one day"),
            FieldIssue("workSchedule[2].startTime", "must be a time HH:MM or HH:MM:SS"),
            FieldIssue("workSchedule[2].endTime", "must be a time HH:MM or HH:MM:SS"),
            FieldIssue("workSchedule[3].note", "is not accepted here"),
            FieldIssue("workSchedule[3].daysOfWeek", "is required"),
            FieldIssue("workSchedule[4].daysOfWeek", "must not repeat a day"),
            FieldIssue("workSchedule[4].startTime", "is required"),
            FieldIssue("workSchedule[5]", "must be an object"),
        ])
    }

    @Test func qualificationsMustBeStrings() {
        #expect(BodyTesting.issues(DoctorDTO.self, #"{"firstName": "G", "lastName": "H", "qualifications": ["MD", "", {"a": 1}]}"#) == [
            FieldIssue("qualifications[1]", "must not be empty"),
            FieldIssue("qualifications[2]", "must be a string"),
        ])
    }
}

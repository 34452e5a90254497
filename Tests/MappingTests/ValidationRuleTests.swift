import FHIRModels
import Mapping
import Testing

/// The validation rules of issue 7, one test each, as a client sees them in `details`.
@Suite struct ValidationRuleTests {
    @Test func aMissingRequiredFieldIsRequired() {
        #expect(BodyTesting.issues(AppointmentDTO.self, #"{"patientId": "p1", "dateTime": "2026-12-03T09:30:00Z", "status": "scheduled"}"#)
            == [FieldIssue("doctorId", "is required")])
    }

    @Test func aBadDateMustBeADate() {
        #expect(BodyTesting.issues(PatientDTO.self, #"{"firstName": "A", "lastName": "B", "dateOfBirth": "2023-02-30", "gender": "female"}"#)
            == [FieldIssue("dateOfBirth", "must be a date YYYY-MM-DD")])
    }

    @Test func aNegativeAmountMustNotBeNegative() {
        #expect(BodyTesting.issues(BillingDTO.self, #"""
        {"patientId": "p1", "date": "2026-11-29", "status": "pending",
         "amount": {"value": "-150.00", "currency": "USD"}, "insuranceCoverage": {"value": "0", "currency": "USD"},
         "outstandingAmount": {"value": "-150.00", "currency": "USD"}}
        """#) == [
            FieldIssue("amount.value", "must not be negative"),
            FieldIssue("outstandingAmount.value", "must not be negative"),
        ])
        #expect(BodyTesting.issues(BillingDTO.self, #"""
        {"patientId": "p1", "date": "2026-11-29", "status": "pending", "amount": {"value": -1, "currency": "USD"},
         "insuranceCoverage": {"value": "0", "currency": "USD"}, "outstandingAmount": {"value": "0", "currency": "USD"}}
        """#) == [FieldIssue("amount.value", "must not be negative")])
    }

    @Test func anInconsistentOutstandingAmountIsReportedOnOutstandingAmount() {
        #expect(BodyTesting.issues(BillingDTO.self, #"""
        {"patientId": "p1", "date": "2026-11-29", "status": "paid", "amount": {"value": "150.00", "currency": "USD"},
         "insuranceCoverage": {"value": "100.00", "currency": "USD"}, "outstandingAmount": {"value": "40.00", "currency": "USD"}}
        """#) == [FieldIssue("outstandingAmount", "must equal amount minus insuranceCoverage")])
    }

    @Test func anUnknownStatusListsTheAcceptedOnes() {
        #expect(BodyTesting.issues(AppointmentDTO.self, #"{"patientId": "p1", "doctorId": "d1", "dateTime": "2026-11-29T09:30:00Z", "status": "planned"}"#)
            == [FieldIssue("status", "must be one of scheduled, completed, canceled")])
        #expect(BodyTesting.issues(BillingDTO.self, #"""
        {"patientId": "p1", "date": "2026-11-29", "status": "overdue", "amount": {"value": "1", "currency": "USD"},
         "insuranceCoverage": {"value": "0", "currency": "USD"}, "outstandingAmount": {"value": "1", "currency": "USD"}}
        """#) == [FieldIssue("status", "must be one of paid, pending")])
    }

    @Test func refillsOfMinusOneAreOutOfRange() {
        #expect(BodyTesting.issues(PrescriptionDTO.self, #"{"patientId": "p1", "doctorId": "d1", "dateIssued": "2026-11-29", "medication": "M", "refills": -1}"#)
            == [FieldIssue("refills", "must be an integer from 0 to 1000")])
    }

    @Test func anUnknownMemberIsNotAcceptedHere() {
        #expect(BodyTesting.issues(PrescriptionDTO.self, #"{"patientId": "p1", "doctorId": "d1", "dateIssued": "2026-11-29", "medication": "M", "status": "active"}"#)
            == [FieldIssue("status", "is not accepted here")])
    }

    @Test func allIssuesAreListedAtOnceWithoutValues() {
        let issues = BodyTesting.issues(BillingDTO.self, #"""
        {"patientId": "", "appointmentId": 12, "date": "2026-13-01", "status": "overdue", "discount": "10%",
         "amount": {"value": "-150.00", "currency": "USD"},
         "insuranceCoverage": {"value": "abc", "currency": "dollars"}}
        """#)
        #expect(issues == [
            FieldIssue("discount", "is not accepted here"),
            FieldIssue("patientId", "must be an id of 1 to 64 letters, digits, '-' or '.'"),
            FieldIssue("appointmentId", "must be an id of 1 to 64 letters, digits, '-' or '.'"),
            FieldIssue("date", "must be a date YYYY-MM-DD or a dateTime with seconds and a zone (YYYY-MM-DDThh:mm:ssZ)"),
            FieldIssue("amount.value", "must not be negative"),
            FieldIssue("insuranceCoverage.value", "must be a decimal string with up to 12 digits, no leading zero, and up to 4 decimals"),
            FieldIssue("insuranceCoverage.currency", "must be an ISO 4217 code of 3 upper-case letters"),
            FieldIssue("outstandingAmount", "is required"),
            FieldIssue("status", "must be one of paid, pending"),
        ])
        BodyTesting.expectNoValues(issues, ["10%", "-150", "abc", "dollars", "overdue", "2026-13-01"])
    }
}

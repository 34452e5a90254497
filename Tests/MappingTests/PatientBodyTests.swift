import FHIRModels
import Mapping
import Testing

@Suite struct PatientBodyTests {
    @Test func aCompleteBodyDecodesTrimmed() throws {
        let patient = try BodyTesting.decode(PatientDTO.self, #"""
        {"id": "ignored", "firstName": "  Ada ", "lastName": "Lovelace", "dateOfBirth": "2000-02-29", "gender": "female",
         "address": {"line": ["1 Main St", "Flat 2"], "city": "Springfield", "postalCode": "12345"},
         "contact": {"phone": "555-1", "other": ["https://ada.example"]},
         "insurance": {"provider": "Acme", "policyNumber": "P-1", "coverageDetails": "full"}}
        """#)
        #expect(patient == PatientDTO(
            firstName: "Ada", lastName: "Lovelace", dateOfBirth: "2000-02-29", gender: .female,
            address: PostalAddress(line: ["1 Main St", "Flat 2"], city: "Springfield", postalCode: "12345"),
            contact: ContactDetails(phone: "555-1", other: ["https://ada.example"]),
            insurance: InsuranceDetails(provider: "Acme", policyNumber: "P-1", coverageDetails: "full")
        ))
    }

    @Test func missingRequiredFieldsAreEachListed() {
        #expect(BodyTesting.issues(PatientDTO.self, #"{"firstName": "Ada"}"#) == [
            FieldIssue("lastName", "is required"),
            FieldIssue("dateOfBirth", "is required"),
            FieldIssue("gender", "is required"),
        ])
        // FHIRJSON refuses null members; a body parsed otherwise may carry one, and it counts as absent.
        #expect(throws: PlatformValidationError([FieldIssue("firstName", "is required")])) {
            try PatientDTO(body: ["firstName": .null, "lastName": "L", "dateOfBirth": "2000-01-01", "gender": "male"])
        }
    }

    @Test(arguments: ["2023-02-30", "2023-13-01", "2023-1-01", "01/02/2003", "2023-02-29", "0000-01-01", "2023-02-01T00:00:00Z"])
    func impossibleOrMalformedBirthDatesAreRefused(date: String) {
        let issues = BodyTesting.issues(PatientDTO.self, #"{"firstName": "A", "lastName": "L", "dateOfBirth": "\#(date)", "gender": "male"}"#)
        #expect(issues == [FieldIssue("dateOfBirth", "must be a date YYYY-MM-DD")])
        BodyTesting.expectNoValues(issues, [date])
    }

    @Test func aBirthDateInTheFutureIsRefused() {
        let issues = BodyTesting.issues(PatientDTO.self, #"{"firstName": "A", "lastName": "L", "dateOfBirth": "2999-01-01", "gender": "male"}"#)
        #expect(issues == [FieldIssue("dateOfBirth", "must not be in the future")])
    }

    @Test func wrongTypesUnknownMembersAndEmptyStringsAreNamedByPath() {
        let issues = BodyTesting.issues(PatientDTO.self, #"""
        {"firstName": 42, "lastName": "   ", "dateOfBirth": "1990-05-01", "gender": "robot", "ssn": "123-45-6789",
         "address": {"postalCode": 12345, "line": ["ok", 7], "planet": "Mars"},
         "contact": {"other": "not-a-list"}, "insurance": "Acme"}
        """#)
        #expect(issues == [
            FieldIssue("ssn", "is not accepted here"),
            FieldIssue("firstName", "must be a string"),
            FieldIssue("lastName", "must not be empty"),
            FieldIssue("gender", "must be one of male, female, other, unknown"),
            FieldIssue("address.planet", "is not accepted here"),
            FieldIssue("address.line[1]", "must be a string"),
            FieldIssue("address.postalCode", "must be a string"),
            FieldIssue("contact.other", "must be an array"),
            FieldIssue("insurance", "must be an object"),
        ])
        BodyTesting.expectNoValues(issues, ["42", "robot", "123-45-6789", "Mars", "12345", "Acme"])
    }

    @Test func namesAreLimitedTo100Characters() {
        let long = String(repeating: "a", count: 101)
        #expect(BodyTesting.issues(PatientDTO.self, #"{"firstName": "\#(long)", "lastName": "L", "dateOfBirth": "2000-01-01", "gender": "other"}"#)
            == [FieldIssue("firstName", "must be at most 100 characters")])
    }

    @Test func controlCharactersAreRefusedButLineBreaksAreText() {
        #expect(BodyTesting.issues(PatientDTO.self, #"{"firstName": "A\u0000", "lastName": "L", "dateOfBirth": "2000-01-01", "gender": "other", "insurance": {"coverageDetails": "line 1\nline 2"}}"#)
            == [FieldIssue("firstName", "must not contain control characters")])
    }

    @Test func anEmptyAddressIsNoAddress() throws {
        let patient = try BodyTesting.decode(PatientDTO.self, #"{"firstName": "A", "lastName": "L", "dateOfBirth": "2000-01-01", "gender": "other", "address": {}, "contact": {"other": []}}"#)
        #expect(patient.address == nil && patient.contact == nil)
    }

    @Test func theJSONFaceLeavesAbsentFieldsOut() {
        let patient = PatientDTO(id: "p1", firstName: "A", lastName: "L", dateOfBirth: "2000-01-01", gender: .other,
                                 contact: ContactDetails(email: "a@example.org"))
        #expect(patient.json == [
            "id": "p1", "firstName": "A", "lastName": "L", "dateOfBirth": "2000-01-01", "gender": "other",
            "contact": ["email": "a@example.org"],
        ])
    }
}

import FHIRModels
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import Testing
@testable import Server

/// Registration collects what the record needs (a patient's date of birth, a doctor's
/// specialization) through one check shared by the web page and `POST /auth/register`, with
/// the same mass-assignment protection; a patient is signed in at once, a doctor waits.
@Suite struct WebRegistrationTests {
    static func accounts(_ endpoint: DatabaseEndpoint) async throws -> Int {
        try await endpoint.withConnection(logger: TestApp.logger) { connection in
            var count = 0
            for try await n in try await connection.query("SELECT count(*)::int FROM app_user", logger: TestApp.logger).decode(Int.self) { count = n }
            return count
        }
    }

    static let patientFields: [(String, String)] = [
        ("role", "patient"), ("firstName", "Ada"), ("lastName", "Lovelace"), ("email", "ada@register.example"),
        ("password", "analytical engine 1843"), ("dateOfBirth", "1985-12-10"), ("gender", "female"), ("phone", "+44 20 7946 0000"),
    ]

    @Test func aPatientRegistersOnThePageAndTheRecordHasTheirDateOfBirth() async throws {
        try await TestApp.runSecured { client, _, security in
            let browser = WebBrowser(client)
            let answer = try await browser.submit("/app/register", Self.patientFields)
            #expect(answer.status == .seeOther)
            #expect(answer.headers[.location] == "/app")
            #expect(browser.cookies["medrec_session"] != nil, "signed in at once")
            let session = try await Accounts(client: client, security: security).session(email: "ada@register.example", password: "analytical engine 1843")
            let patient = try await client.send(.get, "/patients/\(session.resourceID)")
            #expect(patient.status == .ok)
            let body = try patient.json
            #expect(body["dateOfBirth"]?.stringValue == "1985-12-10")
            #expect(body["firstName"]?.stringValue == "Ada")
            #expect(body["gender"]?.stringValue == "female")
        }
    }

    @Test func everyProblemIsShownNextToItsFieldAndNothingIsStored() async throws {
        try await TestApp.runSecured { client, endpoint, _ in
            let before = try await Self.accounts(endpoint)
            let browser = WebBrowser(client)
            let answer = try await browser.submit("/app/register", [
                ("role", "patient"), ("firstName", "<script>alert(1)</script>"), ("lastName", ""), ("email", "not-an-email"),
                ("password", "short"), ("dateOfBirth", "2999-01-01"),
            ])
            #expect(answer.status == .unprocessableContent)
            for field in ["lastName", "email", "password", "dateOfBirth"] {
                #expect(answer.text.contains(#"id="\#(field)-error""#), "\(field)")
            }
            #expect(answer.text.contains("must be a past date"))
            // What was typed comes back as text, never as markup; the password never comes back.
            #expect(answer.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
            #expect(!answer.text.contains("<script>alert(1)"))
            #expect(!answer.text.contains("short\""))
            let missing = try await browser.submit("/app/register", Self.patientFields.filter { $0.0 != "dateOfBirth" })
            #expect(missing.status == .unprocessableContent)
            #expect(missing.text.contains(#"id="dateOfBirth-error""#))
            // No other role can be asked for.
            let admin = try await browser.submit("/app/register", Self.patientFields.map { $0.0 == "role" ? ("role", "admin") : $0 })
            #expect(admin.status == .unprocessableContent)
            #expect(admin.text.contains(#"id="role-error""#))
            #expect(try await Self.accounts(endpoint) == before)
        }
    }

    @Test func aDoctorRegistersWithASpecializationAndWaitsForApproval() async throws {
        try await TestApp.runSecured { client, _, security in
            let browser = WebBrowser(client)
            let fields: [(String, String)] = [
                ("role", "doctor"), ("firstName", "Gregory"), ("lastName", "House"), ("email", "house@register.example"),
                ("password", "everybody lies 4242"), ("specialization", "Diagnostic medicine"),
            ]
            let without = try await browser.submit("/app/register", fields.filter { $0.0 != "specialization" })
            #expect(without.status == .unprocessableContent)
            #expect(without.text.contains(#"id="specialization-error""#))
            let answer = try await browser.submit("/app/register", fields)
            #expect(answer.status == .ok)
            #expect(answer.text.contains("An administrator approves doctors"))
            #expect(browser.cookies["medrec_session"] == nil)
            let signIn = try await browser.signIn("house@register.example", password: "everybody lies 4242")
            #expect(signIn.status == .forbidden)
            #expect(signIn.text.contains("waiting for an administrator"))
            // The Practitioner carries the specialization where /doctors reads it.
            let accounts = Accounts(client: client, security: security)
            let admin = try await accounts.admin("admin@register.example")
            let users = try await client.send(.get, "/admin/users", headers: admin.headers)
            let user = try #require(try users.json["users"]?.arrayValue?.first { $0["email"]?.stringValue == "house@register.example" })
            let practitioner = try #require(user["fhirUser"]?.stringValue?.split(separator: "/").last.map(String.init))
            let doctor = try await client.send(.get, "/doctors/\(practitioner)")
            #expect(try doctor.json["specialization"]?.stringValue == "Diagnostic medicine")
            #expect(try doctor.json["lastName"]?.stringValue == "House")
        }
    }

    @Test func theAPITakesTheSameFieldsAndRefusesTheSameThings() async throws {
        try await TestApp.runSecured { client, _, security in
            let accounts = Accounts(client: client, security: security)
            let base: JSONObject = [
                "email": "api@register.example", "password": "a long enough passphrase", "role": "patient", "firstName": "Api",
                "lastName": "Patient",
            ]
            let missing = try await accounts.json(.post, "/auth/register", .object(base))
            #expect(missing.status == .badRequest)
            #expect(missing.text.contains("dateOfBirth"))
            var withStatus = base
            withStatus["dateOfBirth"] = "1990-02-03"
            withStatus["status"] = "active"
            let mass = try await accounts.json(.post, "/auth/register", .object(withStatus))
            #expect(mass.status == .badRequest)
            #expect(mass.text.contains("status"))
            // One checker for both faces: the same problem in the same words.
            var future = base
            future["dateOfBirth"] = "2999-01-01"
            let api = try await accounts.json(.post, "/auth/register", .object(future))
            #expect(api.status == .badRequest)
            #expect(try api.json["error"]?["details"]?.arrayValue?.first?["issue"]?.stringValue == "must be a past date")
            var good = base
            good["dateOfBirth"] = "1990-02-03"
            let created = try await accounts.json(.post, "/auth/register", .object(good))
            #expect(created.status == .created, "\(created.text)")
            let session = try await accounts.session(email: "api@register.example", password: "a long enough passphrase")
            #expect(try await client.send(.get, "/patients/\(session.resourceID)").json["dateOfBirth"]?.stringValue == "1990-02-03")
            let again = WebBrowser(client)
            let taken = try await again.submit("/app/register", [
                ("role", "patient"), ("firstName", "A"), ("lastName", "B"), ("email", "api@register.example"),
                ("password", "another long passphrase"), ("dateOfBirth", "1990-02-03"),
            ])
            #expect(taken.status == .conflict)
            #expect(taken.text.contains("already exists"))
        }
    }
}

import FHIRModels
import Foundation
import HTTPTypes
import HummingbirdTesting
import PostgresNIO
import Testing
@testable import Server

/// `POST /auth/register` collects what the record needs: a patient's date of birth (required),
/// gender, phone and address land on their Patient; a doctor's specialization (required) and
/// phone on their Practitioner. Bad fields are reported all at once, by name, never echoed; no
/// body makes an admin or sets a status.
@Suite struct RegistrationTests {
    static func count(_ endpoint: DatabaseEndpoint, _ table: String) async throws -> Int {
        try await endpoint.withConnection(logger: TestApp.logger) { connection in
            var count = -1
            for try await value in try await connection.query(
                PostgresQuery(unsafeSQL: "SELECT count(*)::int FROM \(table)"), logger: TestApp.logger).decode(Int.self) { count = value }
            return count
        }
    }

    static func fields(_ response: FHIRTestResponse) throws -> [String] {
        try (response.json["error"]?["details"]?.arrayValue ?? []).compactMap { $0["field"]?.stringValue }
    }

    @Test(.timeLimit(.minutes(3))) func aPatientsRegistrationFillsTheirPatient() async throws {
        try await TestApp.runSecured { client, _, security in
            let accounts = Accounts(client: client, security: security)
            let registered = try await accounts.register(email: "jane@example.org", role: "patient", first: "Jane", last: "Doe", extra: [
                "dateOfBirth": "1985-04-12", "gender": "female", "phone": "+1 555 0100",
                "address": ["line": ["123 Example Street"], "city": "Springfield", "postalCode": "62701", "country": "US"],
            ])
            #expect(registered.status == .created, "\(registered.text)")
            let patient = try await accounts.session(email: "jane@example.org")
            // Read back as the patient, on both faces.
            let platform = try await Platform.call(client, .get, "/patients/\(patient.resourceID)", as: patient)
            #expect(platform.status == .ok)
            let body = try platform.json
            #expect(body["dateOfBirth"]?.stringValue == "1985-04-12")
            #expect(body["gender"]?.stringValue == "female")
            #expect(body["firstName"]?.stringValue == "Jane" && body["lastName"]?.stringValue == "Doe")
            #expect(body["contact"]?["phone"]?.stringValue == "+1 555 0100")
            #expect(body["contact"]?["email"]?.stringValue == "jane@example.org")
            #expect(body["address"]?["city"]?.stringValue == "Springfield")
            let fhir = try await client.send(.get, "/fhir/Patient/\(patient.resourceID)", headers: patient.headers).json
            #expect(fhir["birthDate"]?.stringValue == "1985-04-12")
            #expect(FHIRValidator().validate(fhir).hasErrors == false)
        }
    }

    @Test(.timeLimit(.minutes(3))) func aDoctorsSpecializationLandsOnTheirPractitioner() async throws {
        try await TestApp.runSecured { client, _, security in
            let accounts = Accounts(client: client, security: security)
            let registered = try await accounts.register(email: "john@example.org", role: "doctor", first: "John", last: "Roe", extra: [
                "specialization": "Cardiology", "phone": "+1 555 0111",
            ])
            #expect(registered.status == .created, "\(registered.text)")
            #expect(try registered.json["status"]?.stringValue == "pending")
            let practitioner = try #require(try registered.json["fhirUser"]?.stringValue)
            let id = String(practitioner.dropFirst("Practitioner/".count))
            let doctor = try await Platform.call(client, .get, "/doctors/\(id)")
            #expect(try doctor.json["specialization"]?.stringValue == "Cardiology")
            #expect(try doctor.json["contact"]?["phone"]?.stringValue == "+1 555 0111")
            // The directory shows it to patients too (without the phone).
            let patient = try await accounts.patient("pat@example.org")
            let listed = try await Platform.call(client, .get, "/doctors/\(id)", as: patient)
            #expect(try listed.json["specialization"]?.stringValue == "Cardiology")
            #expect(try listed.json["contact"] == nil)
        }
    }

    @Test(.timeLimit(.minutes(3))) func badOrMissingFieldsAreRefusedAllAtOnce() async throws {
        try await TestApp.runSecured { client, endpoint, security in
            let accounts = Accounts(client: client, security: security)
            // Each: what is sent beside a valid body, and the fields the 400 must name.
            let cases: [(role: String, extra: JSONObject, fields: Set<String>)] = [
                ("patient", ["dateOfBirth": .null], ["dateOfBirth"]),
                ("patient", ["dateOfBirth": "1990-02-30"], ["dateOfBirth"]),
                ("patient", ["dateOfBirth": "12/04/1985"], ["dateOfBirth"]),
                ("patient", ["dateOfBirth": "2999-01-01"], ["dateOfBirth"]),
                ("patient", ["dateOfBirth": 19850412], ["dateOfBirth"]),
                ("patient", ["dateOfBirth": .null, "birthDate": "1985-04-12"], ["birthDate", "dateOfBirth"]),
                ("patient", ["gender": "robot", "address": ["city": 5, "planet": "Mars"]], ["gender", "address.city", "address.planet"]),
                ("patient", ["specialization": "Cardiology"], ["specialization"]),
                ("doctor", ["specialization": .null], ["specialization"]),
                ("doctor", ["specialization": "  "], ["specialization"]),
                ("doctor", ["dateOfBirth": "1970-01-01", "address": ["city": "Springfield"]], ["dateOfBirth", "address"]),
                ("patient", ["status": "active", "id": "x", "admin": true, "dateOfBirth": "bad"], ["status", "id", "admin", "dateOfBirth"]),
                ("doctor", ["status": "active"], ["status"]),
            ]
            for (index, test) in cases.enumerated() {
                let response = try await accounts.register(email: "case\(index)@example.org", role: test.role, extra: test.extra)
                #expect(response.status == .badRequest, "\(test.role) \(test.extra): \(response.status)")
                #expect(try response.json["error"]?["code"]?.stringValue == "validation_failed")
                #expect(try Set(Self.fields(response)) == test.fields, "\(test.extra): \(response.text)")
                #expect(!response.text.contains("Mars") && !response.text.contains("robot"), "the refusal echoes input")
            }
            // No other role, whatever else the body says.
            for role in ["admin", "billing", "system"] {
                let response = try await accounts.register(email: "\(role)@example.org", role: role, extra: ["dateOfBirth": "1980-01-01"])
                #expect(response.status == .badRequest)
                #expect(try Self.fields(response) == ["role"])
            }
            #expect(try await Self.count(endpoint, "app_user") == 0, "nothing was created")
            #expect(try await Self.count(endpoint, "resource") == 0)
        }
    }
}

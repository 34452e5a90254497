import FHIRModels
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
@testable import Server

/// Bad input on the platform face gets a clear 4xx in one JSON shape, names every bad field,
/// never echoes the value, and stores nothing.
@Suite struct PlatformValidationTests {
    static let patient: JSONValue = ["firstName": "Val", "lastName": "Idate", "dateOfBirth": "1999-09-09", "gender": "other"]

    /// The error object of a response, after checking the shape every platform error has.
    static func error(_ response: FHIRTestResponse, _ status: HTTPResponse.Status, code: String) throws -> JSONValue {
        #expect(response.status == status, "\(response.text)")
        #expect(response.headers[.contentType] == "application/json")
        let error = try #require(try response.json["error"])
        #expect(error["code"]?.stringValue == code, "\(response.text)")
        #expect(error["message"]?.stringValue?.isEmpty == false)
        return error
    }

    static func fields(_ error: JSONValue) -> [String: String] {
        var result: [String: String] = [:]
        for detail in error["details"]?.arrayValue ?? [] {
            if let field = detail["field"]?.stringValue { result[field] = detail["issue"]?.stringValue ?? "" }
        }
        return result
    }

    /// How many resources of a type exist, through the FHIR face.
    static func count(_ client: any TestClientProtocol, _ type: String) async throws -> Int {
        let bundle = try await client.send(.get, "/fhir/\(type)?_total=accurate&_count=0").json
        return Int(bundle["total"]?.numberLexical ?? "-1") ?? -1
    }

    @Test func eachFieldRuleIsA400NamingTheField() async throws {
        try await TestApp.run { client in
            let created = try await Platform.call(client, .post, "/patients", body: Self.patient)
            try #require(created.status == .created, "\(created.text)")
            let patientID = try #require(try created.json["id"]?.stringValue)
            let doctor = try await Platform.call(client, .post, "/doctors", body: ["firstName": "Ru", "lastName": "Les"])
            let doctorID = try #require(try doctor.json["id"]?.stringValue)
            let money: (String) -> JSONValue = { ["value": .string($0), "currency": "USD"] }
            let billing: JSONValue = [
                "patientId": .string(patientID), "date": "2026-12-01", "amount": money("100.00"),
                "insuranceCoverage": money("80.00"), "outstandingAmount": money("20.00"), "status": "paid",
            ]
            let prescription: JSONValue = [
                "patientId": .string(patientID), "doctorId": .string(doctorID), "dateIssued": "2026-12-01",
                "medication": "Ibuprofen 200 mg", "refills": 0,
            ]
            let appointment: JSONValue = [
                "patientId": .string(patientID), "doctorId": .string(doctorID), "dateTime": "2026-12-01T09:00:00Z", "status": "scheduled",
            ]
            // (collection, body, field expected in details)
            let cases: [(String, JSONValue, String)] = [
                ("patients", Self.patient.setting("lastName", nil), "lastName"),
                ("patients", Self.patient.setting("dateOfBirth", "1999-02-30"), "dateOfBirth"),
                ("patients", Self.patient.setting("dateOfBirth", "09/09/1999"), "dateOfBirth"),
                ("patients", Self.patient.setting("gender", "robot"), "gender"),
                ("patients", Self.patient.setting("address", ["city": 12]), "address.city"),
                ("patients", Self.patient.setting("isAdmin", true), "isAdmin"),
                ("billings", billing.setting("amount", money("-5.00")), "amount"),
                ("billings", billing.setting("amount", ["value": .number("100.0"), "currency": "USD"]), "amount.value"),
                ("billings", billing.setting("outstandingAmount", money("25.00")), "outstandingAmount"),
                ("billings", billing.setting("status", "overdue"), "status"),
                ("appointments", appointment.setting("status", "postponed"), "status"),
                ("appointments", appointment.setting("dateTime", "tomorrow"), "dateTime"),
                ("prescriptions", prescription.setting("refills", -1), "refills"),
                ("prescriptions", prescription.setting("refills", "two"), "refills"),
                ("prescriptions", prescription.setting("medication", nil), "medication"),
            ]
            for (collection, body, field) in cases {
                let type = PlatformRoutes.collections.first { $0.path == collection }!.resourceType
                let before = try await Self.count(client, type)
                let response = try await Platform.call(client, .post, "/\(collection)", body: body)
                let error = try Self.error(response, .badRequest, code: "validation_failed")
                // The field itself, or a part of it (`amount.value`).
                #expect(Self.fields(error).keys.contains { $0 == field || $0.hasPrefix(field + ".") },
                        "\(collection): expected \(field) in \(response.text)")
                #expect(try await Self.count(client, type) == before, "\(collection): a refused body stored something")
            }
        }
    }

    @Test func everyBadFieldIsListedAtOnceWithoutItsValue() async throws {
        try await TestApp.run { client in
            let response = try await Platform.call(client, .post, "/patients", body: [
                "firstName": "", "dateOfBirth": "1999-13-01", "gender": "SECRET-GENDER-VALUE",
                "contact": ["email": 42, "phone": "SECRET-PHONE-555"], "ssn": "123-45-6789",
            ])
            let error = try Self.error(response, .badRequest, code: "validation_failed")
            let fields = Self.fields(error)
            for field in ["firstName", "lastName", "dateOfBirth", "gender", "contact.email", "ssn"] {
                #expect(fields[field] != nil, "\(field) missing from \(response.text)")
            }
            #expect(!response.text.contains("SECRET"), "an error quoted a submitted value")
            #expect(!response.text.contains("123-45-6789"))
        }
    }

    /// Plain JSON, unlike FHIR JSON, may say `null`: it means absent.
    @Test func nullMembersMeanAbsent() async throws {
        try await TestApp.run { client in
            let body = Array(#"{"firstName": "Nu", "lastName": "Ll", "dateOfBirth": "1990-01-01", "gender": "male", "address": null, "insurance": null}"#.utf8)
            let created = try await client.send(.post, "/patients", headers: [.contentType: "application/json"], body: body)
            #expect(created.status == .created, "\(created.text)")
            #expect(try created.json["address"] == nil)
            let missing = Array(#"{"firstName": null, "lastName": "Ll", "dateOfBirth": "1990-01-01", "gender": "male"}"#.utf8)
            let refused = try await client.send(.post, "/patients", headers: [.contentType: "application/json"], body: missing)
            #expect(Self.fields(try Self.error(refused, .badRequest, code: "validation_failed"))["firstName"] != nil)
            // The FHIR face stays strict.
            let fhir = try await client.send(
                .post, "/fhir/Patient", headers: [.contentType: "application/fhir+json"],
                body: Array(#"{"resourceType": "Patient", "gender": null}"#.utf8))
            #expect(fhir.status == .badRequest)
        }
    }

    @Test func unknownReferencesAre422() async throws {
        try await TestApp.run { client in
            let doctor = try await Platform.call(client, .post, "/doctors", body: ["firstName": "Ref", "lastName": "Erence"])
            let doctorID = try #require(try doctor.json["id"]?.stringValue)
            let before = try await Self.count(client, "Encounter")
            let response = try await Platform.call(client, .post, "/appointments", body: [
                "patientId": "no-such-patient", "doctorId": .string(doctorID), "dateTime": "2026-12-01T09:00:00Z", "status": "scheduled",
            ])
            let error = try Self.error(response, .unprocessableContent, code: "unknown_reference")
            #expect(Self.fields(error)["patientId"] != nil)
            #expect(Self.fields(error)["doctorId"] == nil)
            #expect(try await Self.count(client, "Encounter") == before)
            let billing = try await Platform.call(client, .post, "/billings", body: [
                "patientId": "no-such-patient", "appointmentId": "no-such-appointment", "date": "2026-12-01",
                "amount": ["value": "1.00", "currency": "USD"], "insuranceCoverage": ["value": "0.00", "currency": "USD"],
                "outstandingAmount": ["value": "1.00", "currency": "USD"], "status": "pending",
            ])
            let billingError = try Self.error(billing, .unprocessableContent, code: "unknown_reference")
            #expect(Set(Self.fields(billingError).keys) == ["patientId", "appointmentId"])
        }
    }

    @Test func malformedBodiesIdsAndQueriesAre400() async throws {
        try await TestApp.run { client in
            let json: HTTPFields = [.contentType: "application/json"]
            let bodies: [String] = [
                #"{"firstName": "A", "firstName": "B"}"#, #"{"firstName": "A""#, "[]", "", #"{"a": 1} trailing"#,
                "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e \"e\">]><x>&e;</x>",
            ]
            for body in bodies {
                let response = try await client.send(.post, "/patients", headers: json, body: Array(body.utf8))
                _ = try Self.error(response, .badRequest, code: "malformed_json")
            }
            let huge = Array(repeating: UInt8(ascii: "a"), count: 2 << 20)
            let tooLarge = try await client.send(.post, "/patients", headers: json, body: Array(#"{"firstName": ""#.utf8) + huge)
            _ = try Self.error(tooLarge, .contentTooLarge, code: "body_too_large")
            for path in ["/patients/bad$id", "/patients/\(String(repeating: "x", count: 65))", "/patients/a%27%20OR%201=1"] {
                _ = try Self.error(try await client.send(.get, path), .badRequest, code: "bad_parameter")
            }
            for query in ["/patients?sort=name", "/patients?limit=0", "/patients?limit=101", "/patients?dateOfBirth=1999-02-30",
                          "/appointments?status=postponed", "/appointments?from=yesterday", "/billings?patientId=x'%3B--",
                          "/patients?cursor=not-a-cursor", "/patients?name=a&name=b"] {
                _ = try Self.error(try await client.send(.get, query), .badRequest, code: "bad_parameter")
            }
            let injection = try await client.send(.get, "/patients?name=%27%20OR%201%3D1%20--")
            #expect(injection.status == .ok)
            #expect(try Platform.ids(injection).isEmpty)
        }
    }

    @Test func authAndAbsenceAnswerInThePlatformShape() async throws {
        try await TestApp.run { client in
            let anonymous = try await client.send(.get, "/patients", headers: [.authorization: ""])
            _ = try Self.error(anonymous, .unauthorized, code: "unauthorized")
            #expect(anonymous.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
            let forged = try await client.send(.get, "/patients", headers: [.authorization: "Bearer abc.def.ghi"])
            _ = try Self.error(forged, .unauthorized, code: "invalid_token")
            _ = try Self.error(try await client.send(.get, "/patients/unknown-id"), .notFound, code: "not_found")
            _ = try Self.error(try await client.send(.delete, "/prescriptions/unknown-id"), .notFound, code: "not_found")
            _ = try Self.error(try await Platform.call(client, .put, "/patients/unknown-id", body: Self.patient), .notFound, code: "not_found")
            _ = try Self.error(try await client.send(.get, "/nothing-here"), .notFound, code: "not_found")
            let patch = try await client.send(.patch, "/patients/x")
            _ = try Self.error(patch, .methodNotAllowed, code: "method_not_allowed")
            #expect(patch.headers[.allow] == "GET, PUT, DELETE")
            // The Allow list is read from the router's own routes, so every route has one.
            let jwksPost = try await client.send(.post, "/.well-known/jwks.json")
            _ = try Self.error(jwksPost, .methodNotAllowed, code: "method_not_allowed")
            #expect(jwksPost.headers[.allow] == "GET")
            let collectionPut = try await client.send(.put, "/appointments")
            _ = try Self.error(collectionPut, .methodNotAllowed, code: "method_not_allowed")
            #expect(collectionPut.headers[.allow] == "GET, POST")
            let loginGet = try await client.send(.get, "/auth/login")
            _ = try Self.error(loginGet, .methodNotAllowed, code: "method_not_allowed")
            #expect(loginGet.headers[.allow] == "POST")
            let created = try await Platform.call(client, .post, "/patients", body: Self.patient)
            let id = try #require(try created.json["id"]?.stringValue)
            _ = try Self.error(
                try await Platform.call(client, .put, "/patients/\(id)", body: Self.patient, headers: [.ifMatch: "W/\"9\""]),
                .conflict, code: "conflict")
            _ = try Self.error(
                try await Platform.call(client, .put, "/patients/\(id)", body: Self.patient, headers: [.ifMatch: "yesterday"]),
                .badRequest, code: "bad_parameter")
            // Deleted records are gone from the platform face, and kept in FHIR history.
            #expect(try await client.send(.delete, "/patients/\(id)").status == .noContent)
            _ = try Self.error(try await client.send(.get, "/patients/\(id)"), .notFound, code: "not_found")
            let history = try await client.send(.get, "/fhir/Patient/\(id)/_history").json
            #expect(history["entry"]?.arrayValue?.count == 2, "the create and the delete")
        }
    }
}

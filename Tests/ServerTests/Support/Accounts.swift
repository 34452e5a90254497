import FHIRModels
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import Testing
@testable import Server

/// Accounts and tokens for identity and access tests, made through the public routes the way
/// an app would (admins, which no route can make, through the identity store like `medrec user add`).
struct Accounts {
    let client: any TestClientProtocol
    let security: SecurityServices

    static let password = "correct horse battery staple"

    struct Session {
        let userID: String
        let fhirUser: String?
        let accessToken: String
        let refreshToken: String

        var headers: HTTPFields { [.authorization: "Bearer \(accessToken)"] }
        /// The linked resource's id ("Patient/x" → "x").
        var resourceID: String { String(fhirUser?.split(separator: "/").last ?? "") }
    }

    func json(_ method: HTTPRequest.Method, _ uri: String, _ body: JSONValue, headers: HTTPFields = [:]) async throws -> FHIRTestResponse {
        var fields = headers
        fields[.contentType] = "application/json"
        if fields[.authorization] == nil { fields[.authorization] = "" }
        return try await client.send(method, uri, headers: fields, body: FHIRJSON.serialize(body))
    }

    /// Registers through `POST /auth/register`; returns the response. A patient sends a date of
    /// birth and a doctor a specialization (each role's required field) unless `extra` says
    /// otherwise; `extra` members are added (a `.null` one is left out).
    func register(
        email: String, role: String, password: String = Accounts.password, first: String = "Test", last: String = "User",
        extra: JSONObject = [:]
    ) async throws -> FHIRTestResponse {
        var body: JSONObject = [
            "email": .string(email), "password": .string(password), "role": .string(role),
            "firstName": .string(first), "lastName": .string(last),
        ]
        if role == "patient" { body["dateOfBirth"] = "1980-02-29" }
        if role == "doctor" { body["specialization"] = "General practice" }
        for (key, value) in extra { body[key] = value.isNull ? nil : value }
        return try await json(.post, "/auth/register", .object(body))
    }

    func login(email: String, password: String = Accounts.password) async throws -> FHIRTestResponse {
        try await json(.post, "/auth/login", .object(["email": .string(email), "password": .string(password)]))
    }

    func session(email: String, password: String = Accounts.password) async throws -> Session {
        let response = try await login(email: email, password: password)
        try #require(response.status == .ok, "login failed: \(response.text)")
        let body = try response.json
        let me = try await client.send(.get, "/auth/me", headers: [.authorization: "Bearer \(try #require(body["accessToken"]?.stringValue))"])
        let meBody = try me.json
        return Session(
            userID: try #require(meBody["id"]?.stringValue), fhirUser: meBody["fhirUser"]?.stringValue,
            accessToken: try #require(body["accessToken"]?.stringValue), refreshToken: try #require(body["refreshToken"]?.stringValue))
    }

    /// A registered, logged-in patient.
    func patient(_ email: String, first: String = "Test", last: String = "Patient") async throws -> Session {
        let registered = try await register(email: email, role: "patient", first: first, last: last)
        try #require(registered.status == .created, "\(registered.text)")
        return try await session(email: email)
    }

    /// An admin made the way `medrec user add --role admin` makes one.
    func admin(_ email: String) async throws -> Session {
        let hash = try await security.hasher.hash(Self.password)
        let inserted = try await security.identities.insertUser(
            id: UUID().uuidString.lowercased(), email: email, passwordHash: hash, role: .admin, status: .active, fhirUser: nil)
        try #require(inserted)
        return try await session(email: email)
    }

    /// A self-registered doctor, approved by `admin`.
    func doctor(_ email: String, approvedBy admin: Session) async throws -> Session {
        let registered = try await register(email: email, role: "doctor", first: "Greg", last: "House")
        try #require(registered.status == .created, "\(registered.text)")
        let id = try #require(try registered.json["id"]?.stringValue)
        let approved = try await client.send(.post, "/admin/users/\(id)/approve", headers: admin.headers)
        try #require(approved.status == .ok, "\(approved.text)")
        return try await session(email: email)
    }
}

extension AuditTrail {
    /// The `audit_event` column a test looks records up by.
    enum Column: String {
        case agent = "agent_id", entity = "entity_id"
    }

    /// AuditRecords stored with `value` in `column`, oldest first.
    static func records(_ column: Column, _ value: String, endpoint: DatabaseEndpoint) async throws -> [AuditRecord] {
        try await endpoint.withConnection(logger: TestApp.logger) { connection in
            var bindings = PostgresBindings(capacity: 1)
            bindings.append(value)
            let rows = try await connection.query(
                PostgresQuery(
                    unsafeSQL: "SELECT \(AuditRows.selectColumns) FROM audit_event WHERE \(column.rawValue) = $1 ORDER BY audit_key",
                    binds: bindings),
                logger: TestApp.logger)
            var records: [AuditRecord] = []
            for try await row in rows { records.append(try AuditRows.record(from: row).record) }
            return records
        }
    }

    /// AuditEvents stored for an agent, oldest first.
    static func events(agent: String, endpoint: DatabaseEndpoint) async throws -> [JSONValue] {
        try await records(.agent, agent, endpoint: endpoint).map(AuditEventBuilder.build)
    }
}

/// Reading what the audit log holds.
enum AuditTrail {
    /// The subtype codes ("read", "search-type", or DICOM "110122" plus our "login-failed" …).
    static func subtypes(_ event: JSONValue) -> [String] {
        (event["subtype"]?.arrayValue ?? []).compactMap { $0["code"]?.stringValue }
    }

    static func subtype(_ event: JSONValue) -> String? {
        subtypes(event).last
    }

    static func outcome(_ event: JSONValue) -> String? {
        event["outcome"]?.stringValue
    }

    static func purpose(_ event: JSONValue) -> String? {
        event["purposeOfEvent"]?.arrayValue?.first?["coding"]?.arrayValue?.first?["code"]?.stringValue
    }

    static func entityReferences(_ event: JSONValue) -> [String] {
        (event["entity"]?.arrayValue ?? []).compactMap { $0["what"]?["reference"]?.stringValue }
    }
}

extension JSONValue {
    /// Array element by position (nil when not an array or out of range), for reading test responses.
    subscript(index: Int) -> JSONValue? {
        guard let array = arrayValue, array.indices.contains(index) else { return nil }
        return array[index]
    }

    /// A copy of this object with `key` set (or removed for nil).
    func setting(_ key: String, _ value: JSONValue?) -> JSONValue {
        var object = objectValue ?? JSONObject()
        object[key] = value
        return .object(object)
    }
}

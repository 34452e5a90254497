import FHIRModels
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
@testable import Server

/// Bad input to the identity routes gets a clear 4xx in the platform's JSON error shape (or
/// RFC 6749's on the token endpoint), never a 500, and creates nothing.
@Suite struct AuthInputTests {
    static let json: HTTPFields = [.contentType: "application/json", .authorization: ""]

    @Test func malformedBodiesAreRefusedWithJSONErrors() async throws {
        try await TestApp.runSecured { client, endpoint, security in
            let bodies: [(String, [UInt8])] = [
                ("malformed JSON", Array(#"{"email":"#.utf8)),
                ("duplicate keys", Array(#"{"email":"a@example.org","email":"b@example.org","password":"x"}"#.utf8)),
                ("not an object", Array(#"["email"]"#.utf8)),
                ("empty body", []),
                ("wrong types", Array(#"{"email":42,"password":true,"role":null,"firstName":{},"lastName":[]}"#.utf8)),
                ("deep nesting", Array((String(repeating: "[", count: 500) + String(repeating: "]", count: 500)).utf8)),
                ("oversized", Array(("{\"email\":\"" + String(repeating: "a", count: 100_000) + "\"}").utf8)),
                ("injection", Array(#"{"email":"x' OR '1'='1@example.org","password":"'; DROP TABLE app_user; --","role":"patient","firstName":"Robert'); DROP TABLE","lastName":"Tables"}"#.utf8)),
                ("bad date", Array(#"{"email":"d@example.org","password":"a long enough passphrase","role":"patient","firstName":"D","lastName":"E","dateOfBirth":"1990-02-30"}"#.utf8)),
                ("bad gender", Array(#"{"email":"g@example.org","password":"a long enough passphrase","role":"patient","firstName":"G","lastName":"H","gender":"robot"}"#.utf8)),
            ]
            for path in ["/auth/register", "/auth/login", "/auth/refresh"] {
                for (name, body) in bodies {
                    let response = try await client.send(.post, path, headers: Self.json, body: body)
                    #expect((400..<500).contains(response.status.code), "\(name) on \(path): \(response.status)")
                    #expect(try response.json["error"]?["code"]?.stringValue != nil, "\(name) on \(path): \(response.text.prefix(200))")
                    #expect(!response.text.contains("DROP TABLE"), "\(name) on \(path) echoed input")
                }
            }
            // Nothing was created, and the tables are intact.
            let users = try await endpoint.withConnection(logger: TestApp.logger) { connection in
                var count = -1
                for try await value in try await connection.query("SELECT count(*)::int FROM app_user", logger: TestApp.logger).decode(Int.self) {
                    count = value
                }
                return count
            }
            #expect(users == 0)
            _ = security
        }
    }

    @Test func tokenEndpointRefusesGarbage() async throws {
        try await TestApp.runSecured { client, _, _ in
            let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded", .authorization: "Basic !!!not-base64"]
            let garbled = try await client.send(.post, "/auth/token", headers: form, body: Array("grant_type=client_credentials".utf8))
            #expect(garbled.status == .unauthorized)
            #expect(try garbled.json["error"] == "invalid_client")
            let noColon = Data("just-an-id".utf8).base64EncodedString()
            let missing = try await client.send(.post, "/auth/token", headers: [
                .contentType: "application/x-www-form-urlencoded", .authorization: "Basic \(noColon)",
            ], body: Array("grant_type=client_credentials".utf8))
            #expect(missing.status == .unauthorized)
            let huge = try await client.send(.post, "/auth/token", headers: form, body: Array(repeating: UInt8(ascii: "a"), count: 100_000))
            #expect((400..<500).contains(huge.status.code), "\(huge.status)")
            let badPercent = try await client.send(.post, "/auth/token", headers: form, body: Array("grant_type=%ZZ&scope=%".utf8))
            #expect((400..<500).contains(badPercent.status.code), "\(badPercent.status)")
            // Admin routes with a bad id or limit.
            let admin = try await client.send(.get, "/admin/users?limit=-5")
            #expect((400..<500).contains(admin.status.code))
        }
    }

    @Test func badBearerHeadersAreRefusedNotCrashed() async throws {
        try await TestApp.runSecured { client, _, _ in
            for header in ["Bearer", "Bearer ", "Basic abc", "Bearer a.b", "Bearer a.b.c.d", "Bearer ....", "bearer " + String(repeating: "x", count: 8_000),
                           "Bearer eyJhbGciOiJub25lIn0.e30.", "Bearer \u{00e9}\u{00e9}.\u{00e9}.\u{00e9}"] {
                let response = try await client.send(.get, "/fhir/Patient/x", headers: [.authorization: header])
                #expect(response.status == .unauthorized, "\(header.prefix(40))")
                #expect(try response.json["resourceType"] == "OperationOutcome")
            }
        }
    }
}

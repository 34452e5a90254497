import Crypto
import FHIRModels
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
@testable import Server

/// Register, login, refresh, logout, password change and admin approval through the routes,
/// with the attacks the identity layer must turn away.
@Suite struct AuthFlowTests {
    @Test func everyRouteButThePublicOnesNeedsAToken() async throws {
        try await TestApp.runSecured { client, _, _ in
            let none: HTTPFields = [.authorization: ""]
            for path in ["/fhir/Patient", "/fhir/Patient/x", "/fhir/_history", "/auth/me", "/admin/users", "/fhir/AuditEvent"] {
                let response = try await client.send(.get, path, headers: none)
                #expect(response.status == .unauthorized, "\(path)")
                #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true, "\(path)")
            }
            #expect(try await client.send(.get, "/fhir/Patient/x", headers: none).json["resourceType"] == "OperationOutcome")
            // SMART clients (smart-fetch) look for [FHIR base]/.well-known/smart-configuration.
            for path in ["/fhir/metadata", "/health/live", "/.well-known/jwks.json", "/.well-known/smart-configuration",
                         "/fhir/.well-known/smart-configuration"] {
                #expect(try await client.send(.get, path, headers: none).status == .ok, "\(path)")
            }
            let jwks = try await client.send(.get, "/.well-known/jwks.json", headers: none).json
            let keys = try #require(jwks["keys"]?.arrayValue)
            #expect(!keys.isEmpty && keys.allSatisfy { $0["d"] == nil && $0["kid"] != nil })
            let smart = try await client.send(.get, "/.well-known/smart-configuration", headers: none).json
            #expect(smart["capabilities"]?.arrayValue?.contains("permission-v2") == true)
        }
    }

    @Test func registerLoginRefreshLogout() async throws {
        try await TestApp.runSecured { client, endpoint, security in
            let accounts = Accounts(client: client, security: security)
            let registered = try await accounts.register(email: "  Carol@Example.org ", role: "patient", first: "Carol", last: "Chen")
            #expect(registered.status == .created)
            let body = try registered.json
            #expect(body["email"] == "carol@example.org")
            let fhirUser = try #require(body["fhirUser"]?.stringValue)
            #expect(fhirUser.hasPrefix("Patient/"))
            // The Patient exists, with the names given.
            let patient = try await client.send(.get, "/fhir/\(fhirUser)")
            #expect(try patient.json["name"]?[0]?["family"] == "Chen")
            // The same email, normalized, cannot register twice; nothing more is created.
            #expect(try await accounts.register(email: "carol@example.org", role: "patient").status == .conflict)
            // The email is not stored in clear.
            let clear = try await endpoint.withConnection(logger: TestApp.logger) { connection in
                let rows = try await connection.query("SELECT count(*) FROM app_user WHERE position('carol' in encode(email_sealed, 'escape')) > 0", logger: TestApp.logger)
                var count = 0
                for try await value in rows.decode(Int.self) { count = value }
                return count
            }
            #expect(clear == 0)

            let login = try await accounts.login(email: "CAROL@example.org")
            #expect(login.status == .ok)
            let tokens = try login.json
            #expect(tokens["tokenType"] == "Bearer")
            #expect(tokens["expiresIn"] == .number("900"))
            let access = try #require(tokens["accessToken"]?.stringValue)
            let refresh = try #require(tokens["refreshToken"]?.stringValue)
            let me = try await client.send(.get, "/auth/me", headers: [.authorization: "Bearer \(access)"])
            #expect(try me.json["role"] == "patient")
            #expect(try me.json["fhirUser"]?.stringValue == fhirUser)

            // Refresh rotates: the new pair works, the old refresh token is spent.
            let rotated = try await accounts.json(.post, "/auth/refresh", .object(["refreshToken": .string(refresh)]))
            #expect(rotated.status == .ok)
            let newRefresh = try #require(try rotated.json["refreshToken"]?.stringValue)
            let newAccess = try #require(try rotated.json["accessToken"]?.stringValue)
            #expect(newRefresh != refresh)
            // Replaying the spent token revokes the whole family: the new refresh token dies too.
            let replay = try await accounts.json(.post, "/auth/refresh", .object(["refreshToken": .string(refresh)]))
            #expect(replay.status == .unauthorized)
            #expect(try await accounts.json(.post, "/auth/refresh", .object(["refreshToken": .string(newRefresh)])).status == .unauthorized)
            #expect(try await client.send(.get, "/auth/me", headers: [.authorization: "Bearer \(newAccess)"]).status == .unauthorized)

            // Logout revokes the session and the access token at once.
            let second = try await accounts.session(email: "carol@example.org")
            #expect(try await client.send(.post, "/auth/logout", headers: second.headers).status == .noContent)
            let after = try await client.send(.get, "/auth/me", headers: second.headers)
            #expect(after.status == .unauthorized)
            #expect(after.headers[.wwwAuthenticate]?.contains(#"error="invalid_token""#) == true)
            #expect(try await accounts.json(.post, "/auth/refresh", .object(["refreshToken": .string(second.refreshToken)])).status == .unauthorized)
        }
    }

    @Test func enumerationMassAssignmentAndPendingDoctors() async throws {
        try await TestApp.runSecured { client, _, security in
            let accounts = Accounts(client: client, security: security)
            _ = try await accounts.patient("dana@example.org")
            let wrongPassword = try await accounts.login(email: "dana@example.org", password: "not the right password")
            let unknownEmail = try await accounts.login(email: "nobody@example.org", password: "not the right password")
            #expect(wrongPassword.status == .unauthorized)
            #expect(wrongPassword.status == unknownEmail.status)
            #expect(wrongPassword.body == unknownEmail.body)

            // No body makes an admin or billing user, or sets its own status.
            for role in ["admin", "billing", "system"] {
                let response = try await accounts.register(email: "\(role)@example.org", role: role)
                #expect(response.status == .badRequest)
                #expect(try response.json["error"]?["details"]?[0]?["field"] == "role")
                #expect(try await accounts.login(email: "\(role)@example.org").status == .unauthorized)
            }
            let sneaky = try await accounts.json(.post, "/auth/register", .object([
                "email": "eve@example.org", "password": .string(Accounts.password), "role": "doctor",
                "firstName": "Eve", "lastName": "Evans", "status": "active",
            ]))
            #expect(sneaky.status == .badRequest)
            #expect(try sneaky.json["error"]?["details"]?[0]?["field"] == "status")

            // Weak passwords: every problem listed at once, the password never echoed.
            let weak = try await accounts.register(email: "weak@example.org", role: "patient", password: "password1234")
            #expect(weak.status == .badRequest)
            #expect(!weak.text.contains("password1234"))
            #expect(try await accounts.register(email: "short@example.org", role: "patient", password: "short").status == .badRequest)

            // A self-registered doctor waits for an admin.
            let doctor = try await accounts.register(email: "doc@example.org", role: "doctor")
            #expect(doctor.status == .created)
            #expect(try doctor.json["status"] == "pending")
            let pending = try await accounts.login(email: "doc@example.org")
            #expect(pending.status == .forbidden)
            #expect(try pending.json["error"]?["code"] == "account_pending")
            let admin = try await accounts.admin("root@example.org")
            // Only admins approve.
            let patient = try await accounts.session(email: "dana@example.org")
            let id = try #require(try doctor.json["id"]?.stringValue)
            #expect(try await client.send(.post, "/admin/users/\(id)/approve", headers: patient.headers).status == .forbidden)
            // Every verb of the admin routes is refused to anyone else, and changes nothing.
            for (method, path) in [(HTTPRequest.Method.get, "/admin/users"), (.get, "/admin/users/\(id)"), (.post, "/admin/users/\(id)/disable"),
                                   (.put, "/admin/users/\(id)/role")] {
                let refused = try await accounts.json(method, path, .object(["role": "billing"]), headers: patient.headers)
                #expect(refused.status == .forbidden, "\(method) \(path)")
                #expect(try refused.json["error"]?["code"] == "forbidden")
            }
            #expect(try await accounts.login(email: "doc@example.org").json["error"]?["code"] == "account_pending", "neither disabled nor approved")
            #expect(try await client.send(.post, "/admin/users/\(id)/approve", headers: admin.headers).status == .ok)
            #expect(try await accounts.login(email: "doc@example.org").status == .ok)
            let listed = try await client.send(.get, "/admin/users", headers: admin.headers)
            #expect(try listed.json["users"]?.arrayValue?.count == 3)
        }
    }

    @Test func passwordChangeAndDisablingEndEverySession() async throws {
        try await TestApp.runSecured { client, _, security in
            let accounts = Accounts(client: client, security: security)
            _ = try await accounts.patient("fay@example.org")
            let first = try await accounts.session(email: "fay@example.org")
            let second = try await accounts.session(email: "fay@example.org")
            let newPassword = "a much longer passphrase now"
            let changed = try await accounts.json(.post, "/auth/password", .object([
                "currentPassword": .string(Accounts.password), "newPassword": .string(newPassword),
            ]), headers: first.headers)
            #expect(changed.status == .noContent)
            #expect(try await client.send(.get, "/auth/me", headers: first.headers).status == .unauthorized)
            #expect(try await client.send(.get, "/auth/me", headers: second.headers).status == .unauthorized)
            #expect(try await accounts.login(email: "fay@example.org").status == .unauthorized)
            let third = try await accounts.session(email: "fay@example.org", password: newPassword)

            let admin = try await accounts.admin("boss@example.org")
            #expect(try await client.send(.post, "/admin/users/\(third.userID)/disable", headers: admin.headers).status == .ok)
            #expect(try await client.send(.get, "/auth/me", headers: third.headers).status == .unauthorized)
            let disabled = try await accounts.login(email: "fay@example.org", password: newPassword)
            #expect(disabled.status == .forbidden)

            // A role change also ends the sessions, and checks the link the role needs.
            _ = try await accounts.patient("ivy@example.org")
            let ivy = try await accounts.session(email: "ivy@example.org")
            let toDoctor = try await accounts.json(.put, "/admin/users/\(ivy.userID)/role", .object(["role": "doctor"]), headers: admin.headers)
            #expect(toDoctor.status == .badRequest, "a doctor must link to a Practitioner")
            let toBilling = try await accounts.json(.put, "/admin/users/\(ivy.userID)/role", .object(["role": "billing"]), headers: admin.headers)
            #expect(toBilling.status == .ok)
            #expect(try toBilling.json["role"] == "billing")
            #expect(try await client.send(.get, "/auth/me", headers: ivy.headers).status == .unauthorized)
            let again = try await accounts.session(email: "ivy@example.org")
            #expect(try await client.send(.get, "/auth/me", headers: again.headers).json["role"] == "billing")
            #expect(try await accounts.json(.put, "/admin/users/\(ivy.userID)/role", .object(["role": "system"]), headers: admin.headers).status == .badRequest)
        }
    }

    @Test func repeatedFailuresLockTheEmailWhetherItExistsOrNot() async throws {
        try await TestApp.runSecured { client, _, security in
            let accounts = Accounts(client: client, security: security)
            _ = try await accounts.patient("gil@example.org")
            var known: FHIRTestResponse?
            var unknown: FHIRTestResponse?
            for _ in 0..<IdentityStore.maxFailures {
                known = try await accounts.login(email: "gil@example.org", password: "wrong wrong wrong")
                unknown = try await accounts.login(email: "ghost@example.org", password: "wrong wrong wrong")
            }
            #expect(known?.status == .tooManyRequests)
            #expect(known?.status == unknown?.status)
            #expect(known?.headers[.retryAfter] != nil)
            #expect(try known?.json["error"]?["code"] == unknown?.json["error"]?["code"])
            // Locked means locked: even the right password waits.
            let right = try await accounts.login(email: "gil@example.org")
            #expect(right.status == .tooManyRequests)
        }
    }

    // MARK: - Token attacks

    static func base64URL(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decodeBase64URL(_ text: String) -> [UInt8] {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Array(Data(base64Encoded: base64) ?? Data())
    }

    @Test func forgedAndStaleTokensAreRejected() async throws {
        let keys = JWTSigningKeys.generate()
        try await TestApp.runSecured(signingKeys: keys) { client, _, security in
            let accounts = Accounts(client: client, security: security)
            let session = try await accounts.patient("hal@example.org")
            let good = session.accessToken
            #expect(try await client.send(.get, "/auth/me", headers: session.headers).status == .ok)
            let parts = good.split(separator: ".").map(String.init)
            let header = try FHIRJSON.parse(Self.decodeBase64URL(parts[0]))
            let kid = try #require(header["kid"]?.stringValue)

            var forged: [(String, String)] = []
            // alg: none, no signature.
            let noneHeader = Self.base64URL(Array(#"{"alg":"none","typ":"at+jwt","kid":"\#(kid)"}"#.utf8))
            forged.append(("alg none", "\(noneHeader).\(parts[1])."))
            // HS256 keyed with the public key (algorithm confusion).
            let jwks = try await client.send(.get, "/.well-known/jwks.json").json
            let publicKey = Self.decodeBase64URL(try #require(jwks["keys"]?[0]?["x"]?.stringValue))
            let hsHeader = Self.base64URL(Array(#"{"alg":"HS256","typ":"at+jwt","kid":"\#(kid)"}"#.utf8))
            let mac = HMAC<SHA256>.authenticationCode(for: Array("\(hsHeader).\(parts[1])".utf8), using: SymmetricKey(data: publicKey))
            forged.append(("HS256 confusion", "\(hsHeader).\(parts[1]).\(Self.base64URL(mac))"))
            // Expired (beyond the 60 s leeway), by the real key.
            let expired = try await security.tokens.issue(
                subject: session.userID, role: "patient", scope: "patient/*.rs", fhirUser: session.fhirUser, sessionID: nil,
                clientID: nil, now: Date().addingTimeInterval(-3600))
            forged.append(("expired", expired.token))
            // Wrong audience, by the real key.
            let otherAudience = try await AccessTokenService(keys: keys, issuer: "medrec", audience: "another-api")
            forged.append(("wrong aud", try await otherAudience.issue(
                subject: session.userID, role: "patient", scope: "patient/*.rs", fhirUser: session.fhirUser, sessionID: nil, clientID: nil).token))
            // Unknown kid: a key the server never had.
            let stranger = try await AccessTokenService(keys: .generate(), issuer: "medrec", audience: "medrec")
            forged.append(("unknown kid", try await stranger.issue(
                subject: session.userID, role: "patient", scope: "patient/*.rs", fhirUser: session.fhirUser, sessionID: nil, clientID: nil).token))
            // The refresh token presented as a bearer token.
            forged.append(("refresh as bearer", session.refreshToken))
            // Tampered payload: role escalated, signature kept.
            var claims = try FHIRJSON.parse(Self.decodeBase64URL(parts[1]))
            claims = claims.setting("role", "admin")
            forged.append(("tampered", "\(parts[0]).\(Self.base64URL(FHIRJSON.serialize(claims))).\(parts[2])"))

            for (name, token) in forged {
                for path in ["/auth/me", "/fhir/Patient/\(session.resourceID)"] {
                    let response = try await client.send(.get, path, headers: [.authorization: "Bearer \(token)"])
                    #expect(response.status == .unauthorized, "\(name) on \(path)")
                    #expect(response.headers[.wwwAuthenticate]?.contains(#"error="invalid_token""#) == true, "\(name) on \(path)")
                }
            }
            // After logout, the once-good token is dead too.
            #expect(try await client.send(.post, "/auth/logout", headers: session.headers).status == .noContent)
            #expect(try await client.send(.get, "/fhir/Patient/\(session.resourceID)", headers: session.headers).status == .unauthorized)
            // The read checks the token in its own statement: a dead token learns nothing, not even
            // whether an id exists (401, never 404 or 410).
            let missing = try await client.send(.get, "/fhir/Patient/no-such-patient", headers: session.headers)
            #expect(missing.status == .unauthorized)
            #expect(missing.headers[.wwwAuthenticate]?.contains(#"error="invalid_token""#) == true)
        }
    }

    @Test func clientCredentialsIssueExactlyTheClientsScopes() async throws {
        try await TestApp.runSecured { client, _, security in
            let registered = try await security.identities.addClient(name: "partner", scopes: "system/Patient.rs")
            let basic = Data("\(registered.id):\(registered.secret)".utf8).base64EncodedString()
            func token(_ body: String, authorization: String) async throws -> FHIRTestResponse {
                try await client.send(.post, "/auth/token", headers: [
                    .contentType: "application/x-www-form-urlencoded", .authorization: authorization,
                ], body: Array(body.utf8))
            }
            let issued = try await token("grant_type=client_credentials", authorization: "Basic \(basic)")
            #expect(issued.status == .ok)
            #expect(try issued.json["scope"] == "system/Patient.rs")
            let access = try #require(try issued.json["access_token"]?.stringValue)
            let headers: HTTPFields = [.authorization: "Bearer \(access)"]
            let created = try await client.sendJSON(.post, "/fhir/Patient", FHIRRestTests.patient)
            let id = try #require(try created.json["id"]?.stringValue)
            #expect(try await client.send(.get, "/fhir/Patient/\(id)", headers: headers).status == .ok)
            // Read and search only, Patient only.
            var write = headers
            write[.contentType] = "application/fhir+json"
            #expect(try await client.send(.post, "/fhir/Patient", headers: write, body: FHIRJSON.serialize(FHIRRestTests.patient)).status == .forbidden)
            #expect(try await client.send(.get, "/fhir/Observation?subject=\(id)", headers: headers).status == .forbidden)
            // A wrong secret, an unsupported grant.
            let wrong = Data("\(registered.id):nope".utf8).base64EncodedString()
            let refused = try await token("grant_type=client_credentials", authorization: "Basic \(wrong)")
            #expect(refused.status == .unauthorized)
            #expect(try refused.json["error"] == "invalid_client")
            #expect(try await token("grant_type=password", authorization: "Basic \(basic)").json["error"] == "unsupported_grant_type")
            // Revoking the client stops its live token at once.
            #expect(try await security.identities.revokeClient(id: registered.id))
            #expect(try await client.send(.get, "/fhir/Patient/\(id)", headers: headers).status == .unauthorized)
        }
    }
}

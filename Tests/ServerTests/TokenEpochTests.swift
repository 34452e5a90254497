import FHIRModels
import Foundation
import HTTPTypes
import PostgresNIO
import Testing
@testable import Server

/// The revocation epoch (migration 0007): a token confirmed once is trusted only while no
/// revocation happened since, and every kind of revocation moves the epoch in its own
/// transaction, so a token cached by the read path or the stand-alone check is refused at its
/// next request.
@Suite struct TokenEpochTests {
    static func epoch(_ endpoint: DatabaseEndpoint) async throws -> Int64 {
        try await endpoint.withConnection(logger: TestApp.logger) { connection in
            let rows = try await connection.query("SELECT epoch FROM token_epoch WHERE id = 1", logger: TestApp.logger)
            for try await value in rows.decode(Int64.self) { return value }
            throw CancellationError()
        }
    }

    @Test func cachedTokensAreRefusedAfterEveryKindOfRevocationOnReadsAndSearches() async throws {
        try await TestApp.runSecured { client, endpoint, security in
            let accounts = Accounts(client: client, security: security)
            let admin = try await accounts.admin("admin@epoch.example")
            let doctor = try await accounts.doctor("doc@epoch.example", approvedBy: admin)
            let patient = try await accounts.patient("pat@epoch.example")
            let other = try await accounts.patient("other@epoch.example")
            let read = "/fhir/Patient/\(patient.resourceID)"
            let search = "/fhir/Patient?_id=\(patient.resourceID)"
            // Each token used twice on each path: the second use rides on the cached epoch.
            for _ in 0..<2 {
                #expect(try await client.send(.get, read, headers: patient.headers).status == .ok)
                #expect(try await client.send(.get, search, headers: patient.headers).status == .ok)
                #expect(try await client.send(.get, "/auth/me", headers: doctor.headers).status == .ok)
            }

            // Someone else's logout moves the epoch; untouched tokens are re-checked and still good.
            let before = try await Self.epoch(endpoint)
            #expect(try await client.send(.post, "/auth/logout", headers: other.headers).status == .noContent)
            #expect(try await Self.epoch(endpoint) > before)
            #expect(try await client.send(.get, read, headers: patient.headers).status == .ok)
            #expect(try await client.send(.get, search, headers: patient.headers).status == .ok)
            #expect(try await client.send(.get, read, headers: other.headers).status == .unauthorized)
            #expect(try await client.send(.get, search, headers: other.headers).status == .unauthorized)

            // Disabling an account ends its cached token on the read and on the search path.
            #expect(try await client.send(.post, "/admin/users/\(patient.userID)/disable", headers: admin.headers).status == .ok)
            #expect(try await client.send(.get, read, headers: patient.headers).status == .unauthorized)
            #expect(try await client.send(.get, search, headers: patient.headers).status == .unauthorized)

            // A role change ends the doctor's cached token (it was confirmed twice above).
            let changed = try await accounts.json(
                .put, "/admin/users/\(doctor.userID)/role", .object(["role": "billing"]), headers: admin.headers)
            #expect(changed.status == .ok, "\(changed.text)")
            #expect(try await client.send(.get, "/auth/me", headers: doctor.headers).status == .unauthorized)
            #expect(try await client.send(.get, read, headers: doctor.headers).status == .unauthorized)
        }
    }

    @Test func aSystemClientsCachedTokenIsRefusedOnceTheClientIsRevoked() async throws {
        try await TestApp.runSecured { client, _, security in
            let registered = try await security.identities.addClient(name: "epoch", scopes: "system/*.cruds")
            let basic = Data("\(registered.id):\(registered.secret)".utf8).base64EncodedString()
            let issued = try await client.send(
                .post, "/auth/token", headers: [.authorization: "Basic \(basic)", .contentType: "application/x-www-form-urlencoded"],
                body: Array("grant_type=client_credentials".utf8))
            let token = try #require(try issued.json["access_token"]?.stringValue)
            var headers: HTTPFields = [.authorization: "Bearer \(token)", .contentType: "application/fhir+json"]
            let created = try await client.send(.post, "/fhir/Patient", headers: headers, body: FHIRJSON.serialize(FHIRRestTests.patient))
            let id = try #require(try created.json["id"]?.stringValue)
            headers[.contentType] = nil
            for _ in 0..<3 { #expect(try await client.send(.get, "/fhir/Patient/\(id)", headers: headers).status == .ok) }
            #expect(try await security.identities.revokeClient(id: registered.id))
            #expect(try await client.send(.get, "/fhir/Patient/\(id)", headers: headers).status == .unauthorized)
            #expect(try await client.send(.get, "/fhir/Patient?_id=\(id)", headers: headers).status == .unauthorized)
        }
    }

    /// Every change that can end a token moves the epoch; other changes to the same tables do not.
    @Test func theEpochMovesWithEveryRevokingChangeAndOnlyThen() async throws {
        try await TestApp.runSecured { client, endpoint, security in
            let accounts = Accounts(client: client, security: security)
            let patient = try await accounts.patient("moves@epoch.example")
            let registered = try await security.identities.addClient(name: "moves", scopes: "system/*.read")
            let cases: [(String, Bool)] = [
                ("UPDATE app_user SET updated_at = now() WHERE id = '\(patient.userID)'", false),
                ("UPDATE app_user SET password_hash = password_hash WHERE id = '\(patient.userID)'", false),
                ("UPDATE auth_session SET scope = scope WHERE user_id = '\(patient.userID)'", false),
                ("UPDATE app_user SET fhir_user = fhir_user WHERE id = '\(patient.userID)'", true),
                ("UPDATE app_user SET role = 'billing' WHERE id = '\(patient.userID)'", true),
                ("UPDATE app_user SET status = 'disabled' WHERE id = '\(patient.userID)'", true),
                ("UPDATE auth_session SET expires_at = now() WHERE user_id = '\(patient.userID)'", true),
                ("UPDATE auth_session SET revoked_at = now() WHERE user_id = '\(patient.userID)'", true),
                ("INSERT INTO revoked_access_token (jti, expires_at) VALUES ('epoch-test-jti', now() + interval '1 hour')", true),
                ("UPDATE system_client SET revoked_at = now() WHERE id = '\(registered.id)'", true),
                ("DELETE FROM refresh_token WHERE session_id IN (SELECT id FROM auth_session WHERE user_id = '\(patient.userID)')", false),
                ("DELETE FROM auth_session WHERE user_id = '\(patient.userID)'", true),
            ]
            for (statement, moves) in cases {
                let before = try await Self.epoch(endpoint)
                try await endpoint.withConnection(logger: TestApp.logger) { connection in
                    _ = try await connection.query(PostgresQuery(unsafeSQL: statement), logger: TestApp.logger)
                }
                let after = try await Self.epoch(endpoint)
                #expect((after > before) == moves, "\(statement): \(before) → \(after)")
            }
        }
    }

    @Test func aConfirmationIsUsedOnlyWhileItsSessionLasts() {
        let cache = ConfirmedTokens(capacity: 2)
        let check = TokenCheck(subject: .user(id: "u", sessionID: "s"), tokenID: "t1", role: "doctor", fhirUser: "Practitioner/p")
        #expect(cache.prepared(check)?.confirmedEpoch == nil, "unknown token: full check")
        let now = Date()
        cache.remember(check, TokenConfirmation(epoch: 7, sessionExpiry: now.addingTimeInterval(60), renewed: true))
        #expect(cache.prepared(check, now: now)?.confirmedEpoch == 7)
        #expect(cache.prepared(check, now: now.addingTimeInterval(61))?.confirmedEpoch == nil, "session over: full check")
        // An answer that only said "unchanged" teaches the cache nothing new.
        let other = TokenCheck(subject: .client(id: "c"), tokenID: "t2", role: "system", fhirUser: nil)
        cache.remember(other, TokenConfirmation(epoch: 9, sessionExpiry: nil, renewed: false))
        #expect(cache.prepared(other)?.confirmedEpoch == nil)
        cache.remember(other, TokenConfirmation(epoch: 9, sessionExpiry: nil, renewed: true))
        #expect(cache.prepared(other)?.confirmedEpoch == 9, "a client's token has no session expiry")
    }

    @Test func theVerdictTrustsOnlyAnUnmovedEpochOrAMatchingAccount() {
        var check = TokenCheck(subject: .user(id: "u", sessionID: "s"), tokenID: "t", role: "doctor", fhirUser: "Practitioner/p")
        #expect(check.verdict(epoch: nil, role: "doctor", fhirUser: "Practitioner/p", sessionExpiry: nil) == nil, "no epoch row")
        #expect(check.verdict(epoch: 3, role: "doctor", fhirUser: "Practitioner/p", sessionExpiry: nil)?.renewed == true)
        #expect(check.verdict(epoch: 3, role: "billing", fhirUser: "Practitioner/p", sessionExpiry: nil) == nil)
        #expect(check.verdict(epoch: 3, role: "doctor", fhirUser: "Practitioner/q", sessionExpiry: nil) == nil)
        #expect(check.verdict(epoch: 3, role: nil, fhirUser: nil, sessionExpiry: nil) == nil, "the full check found no live session")
        check.confirmedEpoch = 3
        #expect(check.verdict(epoch: 3, role: nil, fhirUser: nil, sessionExpiry: nil)?.renewed == false, "unchanged since")
        #expect(check.verdict(epoch: 4, role: nil, fhirUser: nil, sessionExpiry: nil) == nil, "moved, and the full check failed")
    }

    @Test func resourceJSONIsCompressedWithLZ4WhenTheServerHasIt() async throws {
        try await TestApp.runSecured { _, endpoint, _ in
            let methods = try await endpoint.withConnection(logger: TestApp.logger) { connection in
                let rows = try await connection.query(
                    """
                    SELECT attcompression::text FROM pg_attribute
                    WHERE attname = 'content' AND attrelid IN ('resource'::regclass, 'resource_history'::regclass)
                    """, logger: TestApp.logger)
                var result: [String] = []
                for try await method in rows.decode(String.self) { result.append(method) }
                return result
            }
            // Debian's PostgreSQL 15 is built with lz4; the migration keeps pglz elsewhere.
            #expect(methods == ["l", "l"])
        }
    }
}

import Crypto
import _CryptoExtras
import FHIRModels
import Foundation
import Hummingbird
import HummingbirdTesting
import JWTKit
import Synchronization
import Testing
@testable import Server

/// SMART Backend Services: `POST /auth/token` with a client assertion (`private_key_jwt`), against
/// the real app. Keys are made here; the client registers their public halves as a JWKS.
@Suite("SMART Backend Services")
struct BackendServicesTests {
    static let assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

    /// An RSA 2048 key (kid `rsa-1`) and a P-384 key (kid `ec-1`), their public JWKS, and a
    /// collection that signs with either.
    struct ClientKeys {
        let jwks: String
        let signer: JWTKeyCollection

        static func make() async throws -> ClientKeys {
            let rsa = try Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(keySize: .bits2048))
            let p384 = P384.Signing.PrivateKey()
            let primitives = try rsa.publicKey.getKeyPrimitives()
            let raw = Array(p384.publicKey.rawRepresentation)
            let jwks: JSONValue = .object([
                "keys": .array([
                    .object([
                        "kty": "RSA", "kid": "rsa-1", "alg": "RS384", "use": "sig",
                        "n": .string(Base64URL.encode(primitives.modulus)), "e": .string(Base64URL.encode(primitives.publicExponent)),
                    ]),
                    .object([
                        "kty": "EC", "kid": "ec-1", "crv": "P-384",
                        "x": .string(Base64URL.encode(raw[..<48])), "y": .string(Base64URL.encode(raw[48...])),
                    ]),
                ]),
            ])
            let signer = JWTKeyCollection()
            await signer.add(rsa: rsa, digestAlgorithm: .sha384, kid: "rsa-1")
            await signer.add(ecdsa: try ES384PrivateKey(backing: p384), kid: "ec-1")
            return ClientKeys(jwks: FHIRJSON.string(jwks), signer: signer)
        }
    }

    /// Claims as a client would send them: iss = sub = the client, aud = the token endpoint,
    /// five minutes' life, a fresh jti.
    static func claims(client: String, audience: String, now: Date = Date()) -> ClientAssertionClaims {
        ClientAssertionClaims(
            iss: IssuerClaim(value: client), sub: SubjectClaim(value: client), aud: AudienceClaim(value: audience),
            exp: ExpirationClaim(value: now.addingTimeInterval(290)), nbf: nil, iat: IssuedAtClaim(value: now),
            jti: IDClaim(value: UUID().uuidString))
    }

    static func sign(_ claims: ClientAssertionClaims, with collection: JWTKeyCollection, kid: String) async throws -> String {
        try await collection.sign(claims, kid: JWKIdentifier(string: kid), header: ["typ": "JWT"])
    }

    /// A JWT assembled by hand (for `alg` values no honest signer produces).
    static func handMade(header: JSONValue, _ claims: ClientAssertionClaims, signature: String) throws -> String {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        let payload = try encoder.encode(claims)
        return Base64URL.encode(FHIRJSON.serialize(header)) + "." + Base64URL.encode(payload) + "." + signature
    }

    static func requestToken(
        _ client: any TestClientProtocol, assertion: String?, scope: String? = nil, basic: String? = nil
    ) async throws -> FHIRTestResponse {
        var body = "grant_type=client_credentials"
        if let assertion {
            body += "&client_assertion_type=" + Self.assertionType.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            body += "&client_assertion=" + assertion
        }
        if let scope { body += "&scope=" + scope.addingPercentEncoding(withAllowedCharacters: .alphanumerics)! }
        return try await client.send(.post, "/auth/token", headers: [
            .contentType: "application/x-www-form-urlencoded", .authorization: basic ?? "",
        ], body: Array(body.utf8))
    }

    /// The advertised token endpoint: the `aud` an honest client uses.
    static func tokenEndpoint(_ client: any TestClientProtocol) async throws -> String {
        let configuration = try await client.send(.get, "/.well-known/smart-configuration", headers: [.authorization: ""]).json
        return try #require(configuration["token_endpoint"]?.stringValue)
    }

    static func register(_ security: SecurityServices, keys: ClientKeys, scopes: String = "system/*.rs") async throws -> String {
        let keySet = try ClientKeySet(json: keys.jwks)
        let added = try await security.identities.addClient(name: "backend", scopes: scopes, jwks: keySet, jwksURL: nil, issueSecret: false)
        #expect(added.secret == nil)
        return added.id
    }

    /// 401 invalid_client and no token.
    static func expectRefused(_ response: FHIRTestResponse, _ label: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(response.status == .unauthorized, "\(label): \(response.status)", sourceLocation: sourceLocation)
        let json = try response.json
        #expect(json["error"] == "invalid_client", "\(label)", sourceLocation: sourceLocation)
        #expect(json["access_token"] == nil, "\(label) issued a token", sourceLocation: sourceLocation)
    }

    @Test func rs384AndES384AssertionsGetTokensThatRead() async throws {
        let keys = try await ClientKeys.make()
        try await TestApp.runSecured { client, _, security in
            let id = try await Self.register(security, keys: keys)
            let audience = try await Self.tokenEndpoint(client)
            for kid in ["rsa-1", "ec-1"] {
                let assertion = try await Self.sign(Self.claims(client: id, audience: audience), with: keys.signer, kid: kid)
                let response = try await Self.requestToken(client, assertion: assertion)
                #expect(response.status == .ok, "\(kid): \(response.text)")
                let json = try response.json
                #expect(json["token_type"] == "Bearer")
                #expect(json["scope"] == "system/*.rs")
                let token = try #require(json["access_token"]?.stringValue, "\(kid)")
                let read = try await client.send(.get, "/fhir/Patient", headers: [.authorization: "Bearer \(token)"])
                #expect(read.status == .ok, "\(kid)")
                // The token is the client's, with its role.
                let claims = try await security.tokens.verify(token)
                #expect(claims.subject.value == id)
                #expect(claims.role == "system")
            }
        }
    }

    @Test func everyBadAssertionIsInvalidClientAndIssuesNothing() async throws {
        let keys = try await ClientKeys.make()
        let other = try await ClientKeys.make()
        try await TestApp.runSecured { client, _, security in
            let id = try await Self.register(security, keys: keys)
            let audience = try await Self.tokenEndpoint(client)
            let now = Date()
            func signed(_ change: (inout ClientAssertionClaims) -> Void, kid: String = "rsa-1", by signer: JWTKeyCollection? = nil) async throws -> String {
                var claims = Self.claims(client: id, audience: audience, now: now)
                change(&claims)
                return try await Self.sign(claims, with: signer ?? keys.signer, kid: kid)
            }
            var cases: [(String, String)] = []
            cases.append(("wrong aud", try await signed { $0.aud = AudienceClaim(value: "https://elsewhere.example/auth/token") }))
            cases.append(("expired", try await signed { $0.exp = ExpirationClaim(value: now.addingTimeInterval(-300)) }))
            cases.append(("exp too far ahead", try await signed { $0.exp = ExpirationClaim(value: now.addingTimeInterval(600)) }))
            cases.append(("no exp", try await signed { $0.exp = nil }))
            cases.append(("no jti", try await signed { $0.jti = nil }))
            cases.append(("iss differs from sub", try await signed { $0.sub = SubjectClaim(value: "client-someone-else") }))
            cases.append(("unknown kid", try await signed({ _ in }, kid: "rsa-2", by: {
                let collection = JWTKeyCollection()
                await collection.add(rsa: try Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(keySize: .bits2048)),
                                     digestAlgorithm: .sha384, kid: "rsa-2")
                return collection
            }())))
            cases.append(("another key's signature", try await signed({ _ in }, kid: "rsa-1", by: other.signer)))
            cases.append(("ES384 header on the RSA kid", try await signed({ _ in }, kid: "rsa-1", by: {
                // Some P-384 key under the RSA key's kid.
                let collection = JWTKeyCollection()
                await collection.add(ecdsa: ES384PrivateKey(), kid: "rsa-1")
                return collection
            }())))
            let hmac = JWTKeyCollection()
            await hmac.add(hmac: HMACKey(from: "a shared secret, long enough for HMAC-SHA-256 keys"), digestAlgorithm: .sha256, kid: "rsa-1")
            cases.append(("alg HS256", try await signed({ _ in }, kid: "rsa-1", by: hmac)))
            // HS384 keyed with the registered public JWKS text: the classic algorithm-confusion attack.
            let confusion = JWTKeyCollection()
            await confusion.add(hmac: HMACKey(from: keys.jwks), digestAlgorithm: .sha384, kid: "rsa-1")
            cases.append(("alg HS384 keyed with the public key", try await signed({ _ in }, kid: "rsa-1", by: confusion)))
            let claims = Self.claims(client: id, audience: audience, now: now)
            cases.append(("alg none", try Self.handMade(header: ["alg": "none", "kid": "rsa-1", "typ": "JWT"], claims, signature: "")))
            cases.append(("alg none, signature present",
                          try Self.handMade(header: ["alg": "none", "kid": "rsa-1", "typ": "JWT"], claims, signature: "c2lnbmF0dXJl")))
            cases.append(("alg RS256", try Self.handMade(header: ["alg": "RS256", "kid": "rsa-1"], claims, signature: "c2lnbmF0dXJl")))
            cases.append(("not a JWT", "not-a-jwt"))
            // Each is refused for its own reason (the audited description names the failed check).
            let reasons = [
                "wrong aud": "aud", "expired": "expired", "exp too far ahead": "five minutes", "no exp": "no exp", "no jti": "no jti",
                "iss differs from sub": "sub differs", "unknown kid": "unknown kid", "another key's signature": "signature",
                "ES384 header on the RSA kid": "type", "alg HS256": "alg not allowed", "alg HS384 keyed with the public key": "alg not allowed",
                "alg none": "malformed", "alg none, signature present": "alg not allowed", "alg RS256": "alg not allowed",
                "not a JWT": "malformed",
            ]
            for (label, assertion) in cases {
                try Self.expectRefused(try await Self.requestToken(client, assertion: assertion), label)
                let rows = try await security.audit.client.query(
                    "SELECT coalesce(outcome_desc, '') FROM audit_event WHERE subtype = 'login' ORDER BY recorded DESC LIMIT 1",
                    logger: TestApp.logger)
                var description = ""
                for try await text in rows.decode(String.self) { description = text }
                #expect(description.contains(try #require(reasons[label])), "\(label): audited as \(description)")
                #expect(!description.contains(assertion), "\(label): the assertion is in the audit")
            }
            // The same client's honest assertion still works: the refusals were the assertions' fault.
            let good = try await signed { _ in }
            #expect(try await Self.requestToken(client, assertion: good).status == .ok)
            // Each refusal was audited as a failed login by a client, without the assertion.
            let failures = try await security.audit.client.query(
                "SELECT count(*)::int FROM audit_event WHERE subtype = 'login' AND outcome <> '0'", logger: TestApp.logger)
            var count = 0
            for try await value in failures.decode(Int.self) { count = value }
            #expect(count >= cases.count)
        }
    }

    /// Security gap 9: failed client assertions count toward the per-address limit, over a real
    /// socket (the address is the peer's). 30 assertions signed with a key the client does not
    /// have, then a good one from the same address: 429 `slow_down` with `Retry-After`, no token,
    /// audited as throttled; the same good assertion from another address gets its token.
    @Test(.timeLimit(.minutes(5))) func failedAssertionsFromOneAddressThrottleIt() async throws {
        let keys = try await ClientKeys.make()
        let stranger = try await ClientKeys.make()
        try await TestApp.runSecured(testing: .live) { client, endpoint, security in
            let id = try await Self.register(security, keys: keys)
            let audience = try await Self.tokenEndpoint(client)
            let limit = security.addressThrottle.limit
            let port = try #require(client.port)
            // Over a socket with no client-side read timeout (`AttackTableGapTests.postOverSocket`).
            func requestToken(_ assertion: String) async throws -> (status: Int, headers: [String: String], json: JSONValue?) {
                let body = "grant_type=client_credentials&client_assertion_type="
                    + Self.assertionType.addingPercentEncoding(withAllowedCharacters: .alphanumerics)! + "&client_assertion=" + assertion
                return try await AttackTableGapTests.postOverSocket(
                    port: port, "/auth/token", body: body, contentType: "application/x-www-form-urlencoded")
            }
            for attempt in 0..<limit {
                let forged = try await Self.sign(Self.claims(client: id, audience: audience), with: stranger.signer, kid: "rsa-1")
                let refused = try await requestToken(forged)
                #expect(refused.status == 401, "forged assertion \(attempt + 1): \(refused.status)")
                #expect(refused.json?["error"] == "invalid_client")
                #expect(refused.json?["access_token"] == nil)
            }
            let good = try await Self.sign(Self.claims(client: id, audience: audience), with: keys.signer, kid: "rsa-1")
            let blocked = try await requestToken(good)
            #expect(blocked.status == 429, "\(blocked.status)")
            #expect(blocked.json?["error"] == "slow_down")
            #expect(blocked.json?["access_token"] == nil)
            let retry = Int(blocked.headers["retry-after"] ?? "") ?? 0
            #expect(retry > 0 && retry <= 300, "Retry-After \(blocked.headers["retry-after"] ?? "none")")
            let throttled = try await endpoint.withConnection(logger: TestApp.logger) { connection in
                var count = 0
                for try await value in try await connection.query(
                    "SELECT count(*)::int FROM audit_event WHERE outcome_desc = 'throttled (address)'", logger: TestApp.logger
                ).decode(Int.self) { count = value }
                return count
            }
            #expect(throttled == 1)
            // Another address is not throttled: a fresh assertion (its own jti) gets a token.
            let elsewhere = try await ClientAuthenticationService(security: security).issueToken(
                .assertion(try await Self.sign(Self.claims(client: id, audience: audience), with: keys.signer, kid: "rsa-1"),
                           tokenEndpoints: [audience], clientID: nil),
                requestedScope: nil, clientAddress: "198.51.100.9")
            #expect(!elsewhere.accessToken.isEmpty)
        }
    }

    /// Security gap 17: `RemoteJWKS` against a real HTTP server on loopback. A URL off the
    /// allowlist is refused before any fetch; a good set is fetched once and then served from the
    /// cache until a refresh is asked for; a redirect is not followed; a non-200, a document over
    /// 64 KiB, a set with a private key and an answer slower than the timeout are each refused.
    @Test(.timeLimit(.minutes(3))) func remoteKeySetsAreFetchedWithinTheirLimits() async throws {
        let keys = try await ClientKeys.make()
        let privateKeySet = #"{"keys":[{"kty":"EC","kid":"p","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}]}"#
        let fetches = Atomic<Int>(0)
        let router = Router()
        router.get("jwks") { _, _ in
            fetches.add(1, ordering: .relaxed)
            return Response(status: .ok, headers: [.contentType: "application/jwk-set+json"], body: .init(byteBuffer: ByteBuffer(string: keys.jwks)))
        }
        router.get("moved") { _, _ in Response(status: .found, headers: [.location: "/jwks"]) }
        router.get("missing") { _, _ in Response(status: .notFound) }
        router.get("huge") { _, _ in
            Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: #"{"keys":[],"pad":""# + String(repeating: "x", count: 70_000) + #""}"#)))
        }
        router.get("private") { _, _ in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: privateKeySet))) }
        router.get("slow") { _, _ -> Response in
            try await Task.sleep(for: .seconds(5))
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: keys.jwks)))
        }
        try await LoopbackServer.run(router) { base in
            // Loopback is not public: allowlisted alone, it is refused before any fetch.
            let publicOnly = RemoteJWKS(allowlist: URLAllowlist(prefixes: [base + "/"]), timeout: 1)
            do {
                _ = try await publicOnly.keySet(at: base + "/jwks")
                Issue.record("a loopback JWKS URL was fetched without its network being named")
            } catch let error as RemoteJWKS.Unavailable {
                #expect(error.reason == "JWKS URL refused: the host resolves to an address that is not public")
            }
            #expect(fetches.load(ordering: .relaxed) == 0)
            var allowlist = URLAllowlist(prefixes: [base + "/"])
            allowlist.privateNetworks = [try #require(IPNetwork("127.0.0.1/32"))]
            let remote = RemoteJWKS(allowlist: allowlist, timeout: 1)
            func refusal(_ url: String) async -> String? {
                do {
                    _ = try await remote.keySet(at: url)
                    return nil
                } catch {
                    return error.reason
                }
            }

            #expect(await refusal(base.replacingOccurrences(of: "127.0.0.1", with: "127.0.0.2") + "/jwks") == "JWKS URL not on the allowlist")
            #expect(fetches.load(ordering: .relaxed) == 0)
            let now = Date()
            let first = try await remote.keySet(at: base + "/jwks", now: now)
            #expect(first.keys.keys.count == 2)
            _ = try await remote.keySet(at: base + "/jwks", now: now.addingTimeInterval(60))
            #expect(fetches.load(ordering: .relaxed) == 1, "a fresh cached set is not fetched again")
            _ = try await remote.keySet(at: base + "/jwks", refresh: true, now: now.addingTimeInterval(61))
            #expect(fetches.load(ordering: .relaxed) == 2, "a refresh fetches")
            _ = try await remote.keySet(at: base + "/jwks", now: now.addingTimeInterval(61 + 301))
            #expect(fetches.load(ordering: .relaxed) == 3, "a stale cached set is fetched again")

            #expect(await refusal(base + "/moved") == "JWKS URL did not answer 200")
            #expect(fetches.load(ordering: .relaxed) == 3, "the redirect was not followed")
            #expect(await refusal(base + "/missing") == "JWKS URL did not answer 200")
            #expect(await refusal(base + "/huge") == "JWKS document too large")
            #expect(await refusal(base + "/private")?.hasPrefix("JWKS document refused") == true)
            let start = ContinuousClock.now
            #expect(await refusal(base + "/slow") == "JWKS URL could not be fetched")
            #expect(ContinuousClock.now - start < .seconds(4), "the 1 s timeout ends the wait")
        }
    }

    @Test func aJTIIsAcceptedOnce() async throws {
        let keys = try await ClientKeys.make()
        try await TestApp.runSecured { client, _, security in
            let id = try await Self.register(security, keys: keys)
            let audience = try await Self.tokenEndpoint(client)
            let claims = Self.claims(client: id, audience: audience)
            let assertion = try await Self.sign(claims, with: keys.signer, kid: "rsa-1")
            #expect(try await Self.requestToken(client, assertion: assertion).status == .ok)
            try Self.expectRefused(try await Self.requestToken(client, assertion: assertion), "the same assertion again")
            // Another assertion (other key, other signature) with the same jti is a replay too.
            let again = try await Self.sign(claims, with: keys.signer, kid: "ec-1")
            try Self.expectRefused(try await Self.requestToken(client, assertion: again), "the same jti again")
            // A fresh jti is fine.
            let fresh = try await Self.sign(Self.claims(client: id, audience: audience), with: keys.signer, kid: "ec-1")
            #expect(try await Self.requestToken(client, assertion: fresh).status == .ok)
        }
    }

    @Test func aRevokedClientsAssertionsAreRefused() async throws {
        let keys = try await ClientKeys.make()
        try await TestApp.runSecured { client, _, security in
            let id = try await Self.register(security, keys: keys)
            let audience = try await Self.tokenEndpoint(client)
            let first = try await Self.sign(Self.claims(client: id, audience: audience), with: keys.signer, kid: "ec-1")
            let issued = try await Self.requestToken(client, assertion: first)
            #expect(issued.status == .ok)
            let token = try #require(try issued.json["access_token"]?.stringValue)
            #expect(try await security.identities.revokeClient(id: id))
            let second = try await Self.sign(Self.claims(client: id, audience: audience), with: keys.signer, kid: "ec-1")
            try Self.expectRefused(try await Self.requestToken(client, assertion: second), "revoked client")
            #expect(try await client.send(.get, "/fhir/Patient", headers: [.authorization: "Bearer \(token)"]).status == .unauthorized)
        }
    }

    @Test func scopesAreNarrowedToTheRegistrationLikeTheSecretPath() async throws {
        let keys = try await ClientKeys.make()
        try await TestApp.runSecured { client, _, security in
            let id = try await Self.register(security, keys: keys, scopes: "system/Patient.rs")
            let secretClient = try await security.identities.addClient(name: "secret", scopes: "system/Patient.rs")
            let basic = "Basic " + Data("\(secretClient.id):\(secretClient.secret)".utf8).base64EncodedString()
            let audience = try await Self.tokenEndpoint(client)
            for requested in ["system/*.cruds", "system/Patient.r system/Observation.rs"] {
                let assertion = try await Self.sign(Self.claims(client: id, audience: audience), with: keys.signer, kid: "rsa-1")
                let viaKey = try await Self.requestToken(client, assertion: assertion, scope: requested)
                let viaSecret = try await Self.requestToken(client, assertion: nil, scope: requested, basic: basic)
                #expect(viaKey.status == .ok)
                #expect(viaSecret.status == .ok)
                let granted = try viaKey.json["scope"]
                #expect(granted == (try viaSecret.json["scope"]), "\(requested)")
                #expect(granted?.stringValue?.contains("Observation") == false)
                #expect(granted?.stringValue?.contains("cruds") == false, "\(requested) → \(String(describing: granted))")
            }
            // A malformed scope: invalid_scope on both paths.
            let assertion = try await Self.sign(Self.claims(client: id, audience: audience), with: keys.signer, kid: "rsa-1")
            let bad = try await Self.requestToken(client, assertion: assertion, scope: "system/Patient.xyz")
            #expect(bad.status == .badRequest)
            #expect(try bad.json["error"] == "invalid_scope")
            #expect(try await Self.requestToken(client, assertion: nil, scope: "system/Patient.xyz", basic: basic).json["error"] == "invalid_scope")
        }
    }

    @Test func malformedAssertionRequestsAreInvalidRequest() async throws {
        let keys = try await ClientKeys.make()
        try await TestApp.runSecured { client, _, security in
            let id = try await Self.register(security, keys: keys)
            let audience = try await Self.tokenEndpoint(client)
            let assertion = try await Self.sign(Self.claims(client: id, audience: audience), with: keys.signer, kid: "rsa-1")
            let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded", .authorization: ""]
            for body in [
                "grant_type=client_credentials&client_assertion=\(assertion)",
                "grant_type=client_credentials&client_assertion_type=urn%3Aother&client_assertion=\(assertion)",
                "grant_type=client_credentials&client_assertion_type=\(Self.assertionType)",
            ] {
                let response = try await client.send(.post, "/auth/token", headers: form, body: Array(body.utf8))
                #expect(response.status == .badRequest, "\(body.prefix(80))")
                #expect(try response.json["error"] == "invalid_request")
            }
            // A client_id naming another client than the assertion's.
            let named = "grant_type=client_credentials&client_id=client-other&client_assertion_type=\(Self.assertionType)&client_assertion=\(assertion)"
            try Self.expectRefused(try await client.send(.post, "/auth/token", headers: form, body: Array(named.utf8)), "client_id mismatch")
        }
    }

    @Test func smartConfigurationAdvertisesBackendServices() async throws {
        try await TestApp.runSecured { client, _, _ in
            let json = try await client.send(.get, "/.well-known/smart-configuration", headers: [.authorization: ""]).json
            func strings(_ key: String) -> [String] { json[key]?.arrayValue?.compactMap(\.stringValue) ?? [] }
            #expect(Set(strings("token_endpoint_auth_methods_supported")) == ["client_secret_basic", "private_key_jwt"])
            #expect(strings("token_endpoint_auth_signing_alg_values_supported") == ["RS384", "ES384"])
            #expect(strings("capabilities").contains("client-confidential-asymmetric"))
            #expect(strings("grant_types_supported").contains("client_credentials"))
            #expect(strings("scopes_supported").contains("system/*.rs"))
            #expect(json["token_endpoint"]?.stringValue?.hasSuffix("/auth/token") == true)
        }
    }

    @Test func theTokenEndpointURLComesFromTheConfiguredBaseAndTheHost() {
        let configured = PublicOrigin(baseURL: "https://fhir.example.org/fhir")
        #expect(configured.tokenEndpoint(authority: "10.0.0.5:8080") == "https://fhir.example.org/auth/token")
        #expect(configured.tokenEndpointAudiences(authority: "10.0.0.5:8080")
                == ["https://fhir.example.org/auth/token", "http://10.0.0.5:8080/auth/token"])
        #expect(PublicOrigin(baseURL: nil).tokenEndpointAudiences(authority: "h:1") == ["http://h:1/auth/token"])
    }

    // MARK: - Registration

    static func file(_ text: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("medrec-jwks-\(UUID().uuidString).json")
        try Data(text.utf8).write(to: url)
        return url.path
    }

    @Test func clientAddRefusesPrivateAndWeakKeys() async throws {
        let keys = try await ClientKeys.make()
        let none = URLAllowlist(prefixes: [])
        // The public set is accepted.
        let accepted = try ClientCommand.Add.keys(jwksFile: try Self.file(keys.jwks), jwksURL: nil, allowlist: none)
        #expect(accepted.jwks != nil)
        // A private key (d present) is refused, and the message names the member, not its value.
        let p384 = P384.Signing.PrivateKey()
        let raw = Array(p384.publicKey.rawRepresentation)
        let d = Base64URL.encode(p384.rawRepresentation)
        let privateSet = #"{"keys":[{"kty":"EC","kid":"k","crv":"P-384","x":"\#(Base64URL.encode(raw[..<48]))","y":"\#(Base64URL.encode(raw[48...]))","d":"\#(d)"}]}"#
        let privatePath = try Self.file(privateSet)
        #expect {
            _ = try ClientCommand.Add.keys(jwksFile: privatePath, jwksURL: nil, allowlist: none)
        } throws: { error in
            let text = String(describing: error)
            return text.contains("\"d\"") && !text.contains(d)
        }
        // RSA below 2048 bits, a P-256 key, a symmetric key, a missing kid.
        let shortModulus = Base64URL.encode([0xC1] + (1..<128).map { UInt8(truncatingIfNeeded: $0 &* 37 | 1) })
        let p256 = Array(P256.Signing.PrivateKey().publicKey.rawRepresentation)
        for (label, set) in [
            ("RSA 1024", #"{"keys":[{"kty":"RSA","kid":"r","n":"\#(shortModulus)","e":"AQAB"}]}"#),
            ("P-256", #"{"keys":[{"kty":"EC","kid":"e","crv":"P-256","x":"\#(Base64URL.encode(p256[..<32]))","y":"\#(Base64URL.encode(p256[32...]))"}]}"#),
            ("oct", #"{"keys":[{"kty":"oct","kid":"s","k":"c2VjcmV0"}]}"#),
            ("no kid", #"{"keys":[{"kty":"EC","crv":"P-384","x":"\#(Base64URL.encode(raw[..<48]))","y":"\#(Base64URL.encode(raw[48...]))"}]}"#),
            ("RSA key with alg RS256", keys.jwks.replacingOccurrences(of: "\"RS384\"", with: "\"RS256\"")),
            ("not JSON", "{keys"),
        ] {
            let path = try Self.file(set)
            #expect(throws: (any Error).self, "\(label)") {
                _ = try ClientCommand.Add.keys(jwksFile: path, jwksURL: nil, allowlist: none)
            }
        }
    }

    @Test func clientAddAcceptsOnlyAllowlistedJWKSURLs() async throws {
        let allowlist = URLAllowlist(setting: "https://keys.partner.example, https://idp.example.org/jwks/")
        #expect(try ClientCommand.Add.keys(jwksFile: nil, jwksURL: "https://keys.partner.example/a.json", allowlist: allowlist).url != nil)
        #expect(try ClientCommand.Add.keys(jwksFile: nil, jwksURL: "https://idp.example.org/jwks/1", allowlist: allowlist).url != nil)
        for url in ["https://evil.example/jwks.json", "https://keys.partner.example.evil.net/a.json", "http://idp.example.org/jwks/1",
                    "https://user@keys.partner.example/a.json"] {
            #expect(throws: (any Error).self, "\(url)") {
                _ = try ClientCommand.Add.keys(jwksFile: nil, jwksURL: url, allowlist: allowlist)
            }
        }
        // No allowlist configured: no URL at all.
        #expect(throws: (any Error).self) {
            _ = try ClientCommand.Add.keys(jwksFile: nil, jwksURL: "https://keys.partner.example/a.json", allowlist: URLAllowlist(prefixes: []))
        }
        // The setting, from the environment like every other.
        let settings = try await ServerSettings.load(environment: ["MEDREC_AUTH_JWKS_URL_ALLOWLIST": "https://a.example/, https://b.example"])
        #expect(settings.auth.jwksURLAllowlist.prefixes == ["https://a.example/", "https://b.example"])
    }

    @Test func aClientWithKeysHasNoSecretAndListsItsMethod() async throws {
        let keys = try await ClientKeys.make()
        try await TestApp.runSecured { client, _, security in
            let id = try await Self.register(security, keys: keys)
            let listed = try #require(try await security.identities.clients().first { $0.id == id })
            #expect(listed.authMethods == ["private_key_jwt"])
            // No secret: Basic with an empty or guessed secret is refused.
            let basic = "Basic " + Data("\(id):guess".utf8).base64EncodedString()
            try Self.expectRefused(try await Self.requestToken(client, assertion: nil, basic: basic), "secret for a key-only client")
        }
    }
}

import Crypto
import Foundation
import Testing
@testable import Server

@Suite struct AccessTokenTests {
    static let issuer = "https://records.example.org"
    static let audience = "https://records.example.org/fhir"
    static let start = Date(timeIntervalSince1970: 1_760_000_000)

    static func service(
        _ keys: JWTSigningKeys, issuer: String = issuer, audience: String = audience
    ) async throws -> AccessTokenService {
        try await AccessTokenService(keys: keys, issuer: issuer, audience: audience)
    }

    static func issue(_ service: AccessTokenService, now: Date = start) async throws -> String {
        try await service.issue(
            subject: "user-7", role: "doctor", scope: "user/*.rs openid", fhirUser: "Practitioner/9",
            sessionID: "family-1", clientID: nil, now: now
        ).token
    }

    /// A JSON object as an unpadded base64url segment.
    static func segment(_ object: [String: Any]) throws -> String {
        try Base64URL.encode(JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
    }

    static func decodeSegment(_ segment: Substring) throws -> [String: Any] {
        let bytes = try #require(Base64URL.decode(segment))
        return try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    /// A token with the given header over the payload of a genuine token, signed with `key` (Ed25519).
    static func signed(header: [String: Any], payload: String, key: JWTSigningKeys.Key) throws -> String {
        let input = try segment(header) + "." + payload
        let privateKey = try Curve25519.Signing.PrivateKey(rawRepresentation: key.privateKey)
        return input + "." + Base64URL.encode(try privateKey.signature(for: Array(input.utf8)))
    }

    static func expectRejected(
        _ token: String, by service: AccessTokenService, now: Date = start, because reason: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async {
        do {
            _ = try await service.verify(token, now: now)
            Issue.record("token was accepted", sourceLocation: sourceLocation)
        } catch {
            #expect(error.reason == reason, sourceLocation: sourceLocation)
            #expect(!error.reason.contains(token), sourceLocation: sourceLocation)
        }
    }

    @Test func issuedTokenVerifiesWithItsClaims() async throws {
        let keys = JWTSigningKeys.generate()
        let service = try await Self.service(keys)
        let (token, claims) = try await service.issue(
            subject: "user-7", role: "doctor", scope: "user/*.rs openid", fhirUser: "Practitioner/9",
            sessionID: "family-1", clientID: nil, now: Self.start.addingTimeInterval(0.75))
        let verified = try await service.verify(token, now: Self.start.addingTimeInterval(10))
        #expect(verified == claims)
        #expect(verified.subject.value == "user-7")
        #expect(verified.role == "doctor")
        #expect(verified.scope == "user/*.rs openid")
        #expect(verified.fhirUser == "Practitioner/9")
        #expect(verified.sessionID == "family-1")
        #expect(verified.clientID == nil)
        #expect(verified.issuedAt.value == Self.start)
        #expect(verified.expiration.value == Self.start.addingTimeInterval(900))
        #expect(UUID(uuidString: verified.id.value) != nil)

        let parts = token.split(separator: ".")
        let header = try Self.decodeSegment(parts[0])
        #expect(header["alg"] as? String == "EdDSA")
        #expect(header["typ"] as? String == "at+jwt")
        #expect(header["kid"] as? String == keys.activeKid)
        let payload = try Self.decodeSegment(parts[1])
        #expect(Set(payload.keys) == ["iss", "aud", "sub", "exp", "iat", "nbf", "jti", "scope", "role", "fhirUser", "sid"])
        #expect(payload["exp"] as? Int == Int(Self.start.timeIntervalSince1970) + 900)
    }

    @Test func eachIssuedTokenHasItsOwnID() async throws {
        let service = try await Self.service(.generate())
        let first = try await service.issue(subject: "s", role: "r", scope: "", fhirUser: nil, sessionID: nil, clientID: "c1")
        let second = try await service.issue(subject: "s", role: "r", scope: "", fhirUser: nil, sessionID: nil, clientID: "c1")
        #expect(first.claims.id != second.claims.id)
        #expect(try await service.verify(first.token).clientID == "c1")
    }

    @Test func es256KeysSignAndVerify() async throws {
        let key = JWTSigningKeys.generatedKey(.es256)
        let keys = try JWTSigningKeys(json: JWTSigningKeys(activeKid: key.kid, keys: [key]).json())
        let service = try await Self.service(keys)
        let token = try await Self.issue(service)
        #expect(try Self.decodeSegment(token.split(separator: ".")[0])["alg"] as? String == "ES256")
        #expect(try await service.verify(token, now: Self.start).role == "doctor")
        let jwk = try #require(
            try JSONSerialization.jsonObject(with: Data(service.jwks())) as? [String: [[String: String]]])["keys"]?.first
        #expect(jwk?["kty"] == "EC")
        #expect(jwk?["crv"] == "P-256")
        #expect(jwk?["y"] != nil)
        #expect(jwk?["d"] == nil)
    }

    @Test func expiryAllowsSixtySecondsOfSkewAndNoMore() async throws {
        let service = try await Self.service(.generate())
        let token = try await Self.issue(service)
        let expiry = Self.start.addingTimeInterval(900)
        #expect(try await service.verify(token, now: expiry.addingTimeInterval(59)).role == "doctor")
        await Self.expectRejected(token, by: service, now: expiry.addingTimeInterval(61), because: "expired")
        await Self.expectRejected(token, by: service, now: expiry.addingTimeInterval(3600), because: "expired")
    }

    @Test func notBeforeAllowsSixtySecondsOfSkewAndNoMore() async throws {
        let service = try await Self.service(.generate())
        // Issued by a replica whose clock runs ahead.
        let token = try await Self.issue(service, now: Self.start.addingTimeInterval(120))
        #expect(try await service.verify(token, now: Self.start.addingTimeInterval(61)).role == "doctor")
        await Self.expectRejected(token, by: service, now: Self.start, because: "not yet valid (nbf)")
    }

    @Test func wrongAudienceOrIssuerIsRejected() async throws {
        let keys = JWTSigningKeys.generate()
        let token = try await Self.issue(Self.service(keys))
        await Self.expectRejected(
            token, by: try await Self.service(keys, audience: "https://other.example.org/fhir"), because: "wrong aud")
        await Self.expectRejected(
            token, by: try await Self.service(keys, issuer: "https://other.example.org"), because: "wrong iss")
    }

    @Test func unsignedTokensAreRejected() async throws {
        let keys = JWTSigningKeys.generate()
        let service = try await Self.service(keys)
        let payload = String(try await Self.issue(service).split(separator: ".")[1])
        let header = try Self.segment(["alg": "none", "typ": "at+jwt", "kid": keys.activeKid])
        await Self.expectRejected("\(header).\(payload).", by: service, because: "not a signed JWT")
        await Self.expectRejected(
            "\(header).\(payload).AAAA", by: service, because: "alg does not match the key's algorithm EdDSA")
        let noneWithoutKid = try Self.segment(["alg": "none", "typ": "at+jwt"])
        await Self.expectRejected("\(noneWithoutKid).\(payload).AAAA", by: service, because: "no kid in the header")
    }

    /// The classic confusion attack: HS256 keyed with the server's public key, which anyone can fetch from the JWKS.
    @Test func hmacKeyedWithThePublicKeyIsRejected() async throws {
        let keys = JWTSigningKeys.generate()
        let service = try await Self.service(keys)
        let payload = String(try await Self.issue(service).split(separator: ".")[1])
        let publicKey = keys.keys[0].x
        let header = try Self.segment(["alg": "HS256", "typ": "at+jwt", "kid": keys.activeKid])
        let input = "\(header).\(payload)"
        for secret in [publicKey, Array(Base64URL.encode(publicKey).utf8), service.jwks()] {
            let mac = HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: SymmetricKey(data: secret))
            await Self.expectRejected(
                "\(input).\(Base64URL.encode(mac))", by: service, because: "alg does not match the key's algorithm EdDSA")
        }
    }

    @Test func unknownKidIsRejected() async throws {
        let service = try await Self.service(.generate())
        let stranger = try await Self.service(.generate())
        await Self.expectRejected(try await Self.issue(stranger), by: service, because: "unknown kid")
    }

    @Test func anotherKeyUnderTheSameKidIsRejected() async throws {
        let keys = JWTSigningKeys.generate()
        let service = try await Self.service(keys)
        let impostorKey = JWTSigningKeys.generatedKey(.edDSA, kid: keys.activeKid)
        let impostor = try await Self.service(JWTSigningKeys(activeKid: keys.activeKid, keys: [impostorKey]))
        await Self.expectRejected(try await Self.issue(impostor), by: service, because: "signature does not verify")
    }

    @Test func typeMustBeAccessTokenJWT() async throws {
        let keys = JWTSigningKeys.generate()
        let service = try await Self.service(keys)
        let payload = String(try await Self.issue(service).split(separator: ".")[1])
        let key = keys.keys[0]
        for typ in ["JWT", "jwt", "at+JWT+x", "id_token"] {
            let token = try Self.signed(header: ["alg": "EdDSA", "kid": key.kid, "typ": typ], payload: payload, key: key)
            await Self.expectRejected(token, by: service, because: "typ is not at+jwt")
        }
        let untyped = try Self.signed(header: ["alg": "EdDSA", "kid": key.kid], payload: payload, key: key)
        await Self.expectRejected(untyped, by: service, because: "typ is not at+jwt")
        for typ in ["AT+JWT", "application/at+jwt"] {
            let token = try Self.signed(header: ["alg": "EdDSA", "kid": key.kid, "typ": typ], payload: payload, key: key)
            #expect(try await service.verify(token, now: Self.start).subject.value == "user-7")
        }
    }

    @Test func tamperedPayloadIsRejected() async throws {
        let service = try await Self.service(.generate())
        let parts = try await Self.issue(service).split(separator: ".")
        var claims = try Self.decodeSegment(parts[1])
        claims["role"] = "admin"
        let tampered = "\(parts[0]).\(try Self.segment(claims)).\(parts[2])"
        await Self.expectRejected(tampered, by: service, because: "signature does not verify")
    }

    @Test func garbageIsRejectedWithoutEchoingIt() async throws {
        let service = try await Self.service(.generate())
        await Self.expectRejected("not-a-token", by: service, because: "not a signed JWT")
        await Self.expectRejected("a.b.c.d", by: service, because: "not a signed JWT")
        await Self.expectRejected("!!!.e30.AAAA", by: service, because: "malformed header")
    }

    @Test func jwksPublishesPublicKeysOnly() async throws {
        let keys = JWTSigningKeys.generate()
        let service = try await Self.service(keys)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(service.jwks())) as? [String: Any])
        let jwks = try #require(document["keys"] as? [[String: String]])
        #expect(jwks.count == 1)
        #expect(
            jwks[0] == [
                "kty": "OKP", "crv": "Ed25519", "x": Base64URL.encode(keys.keys[0].x), "kid": keys.activeKid,
                "alg": "EdDSA", "use": "sig",
            ])
        #expect(!String(decoding: service.jwks(), as: UTF8.self).contains(Base64URL.encode(keys.keys[0].privateKey)))
    }

    @Test func keyFileIsCreatedPrivateAndReloaded() async throws {
        let directory = try TemporaryDirectory.make(prefix: "jwt-keys") + "/data"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let created = try JWTSigningKeys.loadOrCreate(inDirectory: directory)
        let path = directory + "/jwt-signing-keys.json"
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let reloaded = try JWTSigningKeys.loadOrCreate(inDirectory: directory)
        #expect(reloaded.activeKid == created.activeKid)
        #expect(reloaded.json() == created.json())

        // A token from the first load verifies under the reloaded keys.
        let token = try await Self.issue(Self.service(created))
        #expect(try await Self.service(reloaded).verify(token, now: Self.start).role == "doctor")

        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        #expect(throws: JWTSigningKeysError.self) { try JWTSigningKeys.loadOrCreate(inDirectory: directory) }
    }

    @Test func keyDocumentsAreValidated() throws {
        let keys = JWTSigningKeys.generate()
        let json = String(decoding: keys.json(), as: UTF8.self)
        #expect(try JWTSigningKeys(json: keys.json()).activeKid == keys.activeKid)
        let other = Base64URL.encode(JWTSigningKeys.generatedKey(.edDSA).x)
        let mismatched = json.replacingOccurrences(of: Base64URL.encode(keys.keys[0].x), with: other)
        #expect(throws: JWTSigningKeysError.self) { try JWTSigningKeys(json: Array(mismatched.utf8)) }
        let wrongActive = json.replacingOccurrences(of: "\"activeKid\" : \"\(keys.activeKid)\"", with: "\"activeKid\" : \"nope\"")
        #expect(wrongActive != json)
        #expect(throws: JWTSigningKeysError.self) { try JWTSigningKeys(json: Array(wrongActive.utf8)) }
        #expect(throws: JWTSigningKeysError.self) { try JWTSigningKeys(json: Array("{}".utf8)) }
        // Error messages never quote the private key.
        do {
            _ = try JWTSigningKeys(json: Array(mismatched.utf8))
        } catch let error as JWTSigningKeysError {
            #expect(!error.message.contains(Base64URL.encode(keys.keys[0].privateKey)))
        }
    }

    @Test func retiringKeysStillVerify() async throws {
        let old = JWTSigningKeys.generatedKey(.edDSA)
        let new = JWTSigningKeys.generatedKey(.es256)
        let before = try await Self.service(JWTSigningKeys(activeKid: old.kid, keys: [old]))
        let after = try await Self.service(JWTSigningKeys(activeKid: new.kid, keys: [old, new]))
        let oldToken = try await Self.issue(before)
        #expect(try await after.verify(oldToken, now: Self.start).role == "doctor")
        let newToken = try await Self.issue(after)
        #expect(try Self.decodeSegment(newToken.split(separator: ".")[0])["kid"] as? String == new.kid)
        await Self.expectRejected(newToken, by: before, because: "unknown kid")
    }
}

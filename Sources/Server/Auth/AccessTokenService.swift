import Crypto
import Foundation
import JWTKit

/// Issues and verifies the server's access tokens: JWTs in the RFC 9068 profile, hardened per RFC 8725.
///
/// Verification decides the algorithm and key from our own key set, never from the token: the header is decoded
/// here first, and a token whose `alg` is not its `kid`'s algorithm (`none`, `HS256` keyed with a public key, ...)
/// or whose `kid` we do not know is refused before jwt-kit sees it.
public struct AccessTokenService: Sendable {
    /// How far `exp` and `nbf` may be off to allow for clock skew between replicas.
    public static let leeway: TimeInterval = 60

    public let issuer: String
    public let audience: String
    public let lifetime: TimeInterval
    private let activeKid: String
    private let algorithms: [String: JWTSigningKeys.Algorithm]
    private let collection: JWTKeyCollection
    private let publicKeySet: [UInt8]
    private let verified = VerifiedTokenCache()

    public init(keys: JWTSigningKeys, issuer: String, audience: String, lifetime: TimeInterval = 900) async throws {
        precondition(lifetime > 0, "an access token lifetime must be positive")
        let collection = JWTKeyCollection()
        var algorithms: [String: JWTSigningKeys.Algorithm] = [:]
        for key in keys.keys {
            let kid = JWKIdentifier(string: key.kid)
            switch key.algorithm {
            case .edDSA:
                let privateKey = try EdDSA.PrivateKey(backing: Curve25519.Signing.PrivateKey(rawRepresentation: key.privateKey))
                await collection.add(eddsa: privateKey, kid: kid)
            case .es256:
                let privateKey = try ES256PrivateKey(backing: P256.Signing.PrivateKey(rawRepresentation: key.privateKey))
                await collection.add(ecdsa: privateKey, kid: kid)
            }
            algorithms[key.kid] = key.algorithm
        }
        self.issuer = issuer
        self.audience = audience
        self.lifetime = lifetime
        self.activeKid = keys.activeKid
        self.algorithms = algorithms
        self.collection = collection
        self.publicKeySet = Self.publicKeySet(of: keys)
    }

    /// Signs a new token with the active key; header `alg`, `kid` and `typ: at+jwt` (RFC 9068 §2.1).
    public func issue(
        subject: String, role: String, scope: String, fhirUser: String?, sessionID: String?, clientID: String?,
        now: Date = Date()
    ) async throws -> (token: String, claims: AccessTokenClaims) {
        // NumericDate is whole seconds; truncating here makes the returned claims equal the verified ones.
        let issued = Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down))
        let claims = AccessTokenClaims(
            issuer: IssuerClaim(value: issuer),
            audience: AudienceClaim(value: [audience]),
            subject: SubjectClaim(value: subject),
            expiration: ExpirationClaim(value: issued.addingTimeInterval(lifetime.rounded(.down))),
            issuedAt: IssuedAtClaim(value: issued),
            notBefore: NotBeforeClaim(value: issued),
            id: IDClaim(value: UUID().uuidString.lowercased()),
            scope: scope, role: role, fhirUser: fhirUser, sessionID: sessionID, clientID: clientID)
        let header: JWTHeader = [
            "alg": .string(algorithms[activeKid]!.rawValue),
            "kid": .string(activeKid),
            "typ": .string("at+jwt"),
        ]
        let token = try await collection.sign(claims, kid: JWKIdentifier(string: activeKid), header: header)
        return (token, claims)
    }

    /// The claims of a token this service issued and that is still valid at `now` (± `leeway`).
    public func verify(_ token: String, now: Date = Date()) async throws(AccessTokenError) -> AccessTokenClaims {
        if let claims = verified.claims(for: token) {
            try Self.checkTimes(claims, now: now)
            return claims
        }
        let header = try Self.header(of: token)
        guard let kid = header.kid else { throw AccessTokenError("no kid in the header") }
        guard let algorithm = algorithms[kid] else { throw AccessTokenError("unknown kid") }
        guard header.alg == algorithm.rawValue else {
            throw AccessTokenError("alg does not match the key's algorithm \(algorithm.rawValue)")
        }
        guard let type = header.typ?.lowercased(), type == "at+jwt" || type == "application/at+jwt" else {
            throw AccessTokenError("typ is not at+jwt")
        }
        guard header.crit == nil else { throw AccessTokenError("unsupported crit header") }

        let claims: AccessTokenClaims
        do {
            claims = try await collection.verify(token, as: AccessTokenClaims.self)
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw AccessTokenError("signature does not verify")
        } catch {
            // jwt-kit's messages can quote the decoding error, which may echo claim values: keep them out.
            throw AccessTokenError("malformed token or claims")
        }

        guard claims.issuer.value == issuer else { throw AccessTokenError("wrong iss") }
        guard claims.audience.value.contains(audience) else { throw AccessTokenError("wrong aud") }
        try Self.checkTimes(claims, now: now)
        verified.remember(token, claims, now: now)
        return claims
    }

    /// `exp` and `nbf`, with the leeway: checked on every use, cached or not.
    private static func checkTimes(_ claims: AccessTokenClaims, now: Date) throws(AccessTokenError) {
        guard now < claims.expiration.value.addingTimeInterval(Self.leeway) else {
            throw AccessTokenError("expired")
        }
        if let notBefore = claims.notBefore, now < notBefore.value.addingTimeInterval(-Self.leeway) {
            throw AccessTokenError("not yet valid (nbf)")
        }
    }

    /// The public JWK Set for `/.well-known/jwks.json`, every key (active or retiring), no private members.
    public func jwks() -> [UInt8] {
        publicKeySet
    }

    /// The header members verification depends on, decoded from the token's first segment.
    /// Also read by `ClientAuthenticationService` for client assertions, before any key is chosen.
    struct Header: Decodable {
        var alg: String?
        var kid: String?
        var typ: String?
        var crit: [String]?
    }

    static func header(of token: String) throws(AccessTokenError) -> Header {
        let segments = token.split(separator: ".", omittingEmptySubsequences: false)
        guard segments.count == 3, !segments[2].isEmpty else { throw AccessTokenError("not a signed JWT") }
        guard let bytes = Base64URL.decode(segments[0]),
            let header = try? JSONDecoder().decode(Header.self, from: Data(bytes))
        else { throw AccessTokenError("malformed header") }
        return header
    }

    private struct PublicJWK: Encodable {
        var kty: String
        var crv: String
        var x: String
        var y: String?
        var kid: String
        var alg: String
        var use = "sig"
    }

    private static func publicKeySet(of keys: JWTSigningKeys) -> [UInt8] {
        let jwks = keys.keys.map { key in
            PublicJWK(
                kty: key.algorithm == .edDSA ? "OKP" : "EC", crv: key.algorithm.curve, x: Base64URL.encode(key.x),
                y: key.y.map(Base64URL.encode), kid: key.kid, alg: key.algorithm.rawValue)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Strings only: encoding cannot fail.
        return Array(try! encoder.encode(["keys": jwks]))
    }
}

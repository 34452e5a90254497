import FHIRModels
import Foundation
import JWTKit

/// The public keys a system client registers for SMART Backend Services (`private_key_jwt`), checked
/// once when registered and again whenever a JWKS URL is fetched, and the one list of signature
/// algorithms its client assertions may use.
///
/// Only public RSA keys of at least 2048 bits (for RS384) and EC P-384 keys (for ES384) are
/// accepted; a set carrying any private member is refused outright, since whoever holds the set
/// would then hold the client's credential.
public struct ClientKeySet: Sendable {
    /// The `alg` values a client assertion may carry: what SMART Backend Services asks servers to
    /// support, and nothing else (no `none`, no HMAC, no RSA-PKCS1 with other digests).
    /// `/.well-known/smart-configuration` advertises this list.
    public static let algorithms = ["RS384", "ES384"]
    static let minimumRSABits = 2048
    static let maximumKeys = 32
    /// JWK members that only a private key has (RFC 7518 §6.2.2, §6.3.2, §6.4).
    static let privateMembers: Set<String> = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]

    /// Why a key set was refused; the message names keys by position and member, never quoting key material.
    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public let message: String
        init(_ message: String) { self.message = message }
        public var description: String { message }
    }

    /// Why no verifier could be made for an assertion's header.
    struct NoKey: Error, Sendable {
        let reason: String
    }

    let keys: JWKS
    /// The set as compact JSON, as stored in `system_client.jwks`.
    public let json: String

    /// Parses and checks a JWKS document (`{"keys": [...]}`).
    public init(json text: String) throws(Invalid) {
        let document: JSONValue
        do {
            document = try FHIRJSON.parse(text)
        } catch {
            throw Invalid("the JWKS is not valid JSON")
        }
        guard let keys = document["keys"]?.arrayValue else { throw Invalid("the JWKS has no \"keys\" array") }
        guard !keys.isEmpty else { throw Invalid("the JWKS has no keys") }
        guard keys.count <= Self.maximumKeys else { throw Invalid("the JWKS has more than \(Self.maximumKeys) keys") }
        var kids: Set<String> = []
        for (index, key) in keys.enumerated() {
            let name = "keys[\(index)]"
            guard let object = key.objectValue else { throw Invalid("\(name) is not an object") }
            for (member, _) in object where Self.privateMembers.contains(member) {
                throw Invalid("\(name) has the private member \"\(member)\": register public keys only")
            }
            guard let kid = object["kid"]?.stringValue, !kid.isEmpty, kid.utf8.count <= 256 else {
                throw Invalid("\(name) has no kid")
            }
            guard kids.insert(kid).inserted else { throw Invalid("\(name): kid is used by another key too") }
            if let use = object["use"], use.stringValue != "sig" { throw Invalid("\(name): use must be sig") }
            let algorithm = object["alg"].map { $0.stringValue ?? "" }
            switch object["kty"]?.stringValue {
            case "RSA":
                if let algorithm, algorithm != "RS384" { throw Invalid("\(name): an RSA key's alg must be RS384") }
                guard let n = object["n"]?.stringValue, let modulus = Base64URL.decode(n),
                      let e = object["e"]?.stringValue, let exponent = Base64URL.decode(e), !exponent.isEmpty
                else { throw Invalid("\(name): an RSA key needs base64url n and e") }
                guard Self.bitLength(modulus) >= Self.minimumRSABits else {
                    throw Invalid("\(name): RSA keys must have at least \(Self.minimumRSABits) bits")
                }
                do {
                    _ = try Insecure.RSA.PublicKey(modulus: n, exponent: e)
                } catch {
                    throw Invalid("\(name) is not a usable RSA public key")
                }
            case "EC":
                if let algorithm, algorithm != "ES384" { throw Invalid("\(name): an EC key's alg must be ES384") }
                guard object["crv"]?.stringValue == "P-384" else { throw Invalid("\(name): EC keys must be on curve P-384") }
                guard let x = object["x"]?.stringValue, let y = object["y"]?.stringValue,
                      Base64URL.decode(x)?.count == 48, Base64URL.decode(y)?.count == 48
                else { throw Invalid("\(name): a P-384 key needs 48-byte base64url x and y") }
                do {
                    _ = try ES384PublicKey(parameters: (x: x, y: y))
                } catch {
                    throw Invalid("\(name) is not a point on P-384")
                }
            default:
                throw Invalid("\(name): kty must be RSA (RS384) or EC (ES384)")
            }
        }
        let decoded: JWKS
        do {
            decoded = try JSONDecoder().decode(JWKS.self, from: Data(text.utf8))
        } catch {
            throw Invalid("the JWKS could not be read as a JSON Web Key Set")
        }
        self.keys = decoded
        self.json = FHIRJSON.string(document)
    }

    /// A key collection holding only the key `kid` names, fixed to `alg`, which must be one of
    /// `algorithms` and fit the key's type. The algorithm comes from this check, never from
    /// jwt-kit's reading of the header.
    func verifier(kid: String, alg: String) async throws(NoKey) -> JWTKeyCollection {
        guard Self.algorithms.contains(alg), let algorithm = JWK.Algorithm(rawValue: alg) else {
            throw NoKey(reason: "alg is not RS384 or ES384")
        }
        guard var key = keys.keys.first(where: { $0.keyIdentifier?.string == kid }) else { throw NoKey(reason: "unknown kid") }
        switch (alg, key.keyType) {
        case ("RS384", .rsa), ("ES384", .ecdsa): break
        default: throw NoKey(reason: "alg does not fit the key's type")
        }
        key.algorithm = algorithm
        let collection = JWTKeyCollection()
        do {
            try await collection.add(jwk: key)
        } catch {
            throw NoKey(reason: "the registered key is not usable")
        }
        return collection
    }

    /// Bits of a big-endian unsigned integer, leading zero bytes ignored.
    static func bitLength(_ bytes: [UInt8]) -> Int {
        guard let first = bytes.firstIndex(where: { $0 != 0 }) else { return 0 }
        return (bytes.count - first - 1) * 8 + (8 - bytes[first].leadingZeroBitCount)
    }
}

/// Where the server may fetch from, for every outbound fetch a client can name: a client's JWKS
/// URL (`medrec.auth.jwksUrlAllowlist`) and a bulk `$import` input (`medrec.bulk.importUrlAllowlist`),
/// comma-separated URL prefixes. A URL is allowed when it is http(s) without user info and starts
/// with a prefix at a boundary (`https://keys.example.org` allows `https://keys.example.org/a.json`
/// but not `https://keys.example.org.evil.net/` nor `https://keys.example.org@evil.net/`). The
/// fetches themselves follow no redirect (`OutboundFetch`), so an allowed host cannot send the
/// server elsewhere, and before each fetch the host's addresses must be public or inside
/// `privateNetworks` (`OutboundDestination`), so an allowed name cannot point inside either.
public struct URLAllowlist: Sendable, Equatable, ExpressibleByArrayLiteral {
    public let prefixes: [String]
    /// Non-public networks an allowed host may resolve to (`medrec.outbound.privateNetworks`, one
    /// setting for both allowlists): empty, only public addresses.
    public var privateNetworks: [IPNetwork] = []

    public init(prefixes: [String]) {
        self.prefixes = prefixes.filter { !$0.isEmpty }
    }

    public init(arrayLiteral prefixes: String...) {
        self.init(prefixes: prefixes)
    }

    /// From the setting's text: comma-separated, blanks ignored.
    public init(setting: String?) {
        self.init(prefixes: (setting ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
    }

    /// Refuses `url` unless its host resolves only to addresses this allowlist may reach (call
    /// after `permits`, right before fetching).
    func checkDestination(_ url: URL) async throws(OutboundDestination.Refused) {
        try await OutboundDestination.check(url, permitted: privateNetworks)
    }

    public func permits(_ url: String) -> Bool {
        guard let parsed = URLComponents(string: url), let scheme = parsed.scheme?.lowercased(), scheme == "https" || scheme == "http",
              parsed.host?.isEmpty == false, parsed.user == nil, parsed.password == nil
        else { return false }
        return prefixes.contains { prefix in
            guard url.hasPrefix(prefix) else { return false }
            if prefix.hasSuffix("/") || url.count == prefix.count { return true }
            let next = url[url.index(url.startIndex, offsetBy: prefix.count)]
            return next == "/" || next == "?" || next == "#"
        }
    }
}

/// The claims of a client assertion (RFC 7523 §3, SMART Backend Services). Every member is
/// optional here so that a missing one is refused by name by `ClientAuthenticationService`, not
/// by a decoding error.
struct ClientAssertionClaims: JWTPayload {
    var iss: IssuerClaim?
    var sub: SubjectClaim?
    var aud: AudienceClaim?
    var exp: ExpirationClaim?
    var nbf: NotBeforeClaim?
    var iat: IssuedAtClaim?
    var jti: IDClaim?

    /// The service checks the claims itself, against its own clock and accepted audiences.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

import Crypto
import Foundation

/// The private keys that sign access tokens, one of them active; the others stay for verification during a rollover.
///
/// The on-disk form is a JSON document holding private material, so it is written with mode 0600:
/// `{"activeKid": "...", "keys": [{"kid": "...", "alg": "EdDSA", "crv": "Ed25519", "d": "...", "x": "..."}]}`
/// (ES256 keys: `"alg": "ES256", "crv": "P-256"` with `d`, `x` and `y`). `d`, `x` and `y` are base64url as in JWK.
public struct JWTSigningKeys: Sendable {
    /// The signature algorithm of a key, which is also the only `alg` a token under that key may claim.
    public enum Algorithm: String, Sendable, Codable {
        case edDSA = "EdDSA"
        case es256 = "ES256"

        var curve: String {
            switch self {
            case .edDSA: "Ed25519"
            case .es256: "P-256"
            }
        }
    }

    /// One key pair in raw form (RFC 8037 / RFC 7518 encodings): Ed25519 `d` and `x`, or P-256 `d`, `x` and `y`.
    struct Key: Sendable {
        let kid: String
        let algorithm: Algorithm
        let privateKey: [UInt8]
        let x: [UInt8]
        let y: [UInt8]?
    }

    public let activeKid: String
    let keys: [Key]

    /// All key ids, the active one included.
    public var kids: [String] { keys.map(\.kid) }

    init(activeKid: String, keys: [Key]) throws(JWTSigningKeysError) {
        guard !keys.isEmpty else { throw JWTSigningKeysError("the signing key document has no keys") }
        guard Set(keys.map(\.kid)).count == keys.count else {
            throw JWTSigningKeysError("the signing key document repeats a kid")
        }
        guard keys.contains(where: { $0.kid == activeKid }) else {
            throw JWTSigningKeysError("activeKid \(activeKid) is not one of the keys")
        }
        self.activeKid = activeKid
        self.keys = keys
    }

    /// Keys from the JSON document described on the type. Each public part must match its private key, so a
    /// hand-edited file cannot publish a JWKS that does not verify our own tokens.
    public init(json: [UInt8]) throws {
        let document: Document
        do {
            document = try JSONDecoder().decode(Document.self, from: Data(json))
        } catch {
            throw JWTSigningKeysError(
                "the signing key document must be JSON {\"activeKid\": kid, \"keys\": [{\"kid\", \"alg\", \"crv\", \"d\", \"x\"}]}")
        }
        var keys: [Key] = []
        for entry in document.keys {
            keys.append(try Self.key(from: entry))
        }
        try self.init(activeKid: document.activeKid, keys: keys)
    }

    /// Generates one Ed25519 key with a random kid.
    public static func generate() -> JWTSigningKeys {
        let key = generatedKey(.edDSA)
        // One fresh key with a fresh kid always satisfies the invariants.
        return try! JWTSigningKeys(activeKid: key.kid, keys: [key])
    }

    /// A fresh key with a random kid, for tests and rollovers.
    static func generatedKey(_ algorithm: Algorithm, kid: String? = nil) -> Key {
        let kid = kid ?? OpaqueToken.generate(bytes: 12)
        switch algorithm {
        case .edDSA:
            let privateKey = Curve25519.Signing.PrivateKey()
            return Key(
                kid: kid, algorithm: .edDSA, privateKey: Array(privateKey.rawRepresentation),
                x: Array(privateKey.publicKey.rawRepresentation), y: nil)
        case .es256:
            let privateKey = P256.Signing.PrivateKey()
            let point = Array(privateKey.publicKey.x963Representation)
            return Key(
                kid: kid, algorithm: .es256, privateKey: Array(privateKey.rawRepresentation),
                x: Array(point[1...32]), y: Array(point[33...64]))
        }
    }

    /// The document described on the type, private material included: only for a 0600 key file.
    public func json() -> [UInt8] {
        let document = Document(
            activeKid: activeKid,
            keys: keys.map { key in
                Document.Entry(
                    kid: key.kid, alg: key.algorithm, crv: key.algorithm.curve, d: Base64URL.encode(key.privateKey),
                    x: Base64URL.encode(key.x), y: key.y.map(Base64URL.encode))
            })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Strings and arrays of them always encode.
        return Array(try! encoder.encode(document)) + [UInt8(ascii: "\n")]
    }

    private static func key(from entry: Document.Entry) throws(JWTSigningKeysError) -> Key {
        guard entry.crv == entry.alg.curve else {
            throw JWTSigningKeysError("signing key \(entry.kid): alg \(entry.alg.rawValue) needs crv \(entry.alg.curve)")
        }
        guard let d = Base64URL.decode(entry.d), let x = Base64URL.decode(entry.x) else {
            throw JWTSigningKeysError("signing key \(entry.kid): d and x must be base64url")
        }
        switch entry.alg {
        case .edDSA:
            guard let privateKey = try? Curve25519.Signing.PrivateKey(rawRepresentation: d) else {
                throw JWTSigningKeysError("signing key \(entry.kid): d is not an Ed25519 private key")
            }
            guard Array(privateKey.publicKey.rawRepresentation) == x else {
                throw JWTSigningKeysError("signing key \(entry.kid): x does not match d")
            }
            return Key(kid: entry.kid, algorithm: .edDSA, privateKey: d, x: x, y: nil)
        case .es256:
            guard let y = entry.y.flatMap(Base64URL.decode) else {
                throw JWTSigningKeysError("signing key \(entry.kid): an ES256 key needs a base64url y")
            }
            guard let privateKey = try? P256.Signing.PrivateKey(rawRepresentation: d) else {
                throw JWTSigningKeysError("signing key \(entry.kid): d is not a P-256 private key")
            }
            guard Array(privateKey.publicKey.x963Representation) == [0x04] + x + y else {
                throw JWTSigningKeysError("signing key \(entry.kid): x and y do not match d")
            }
            return Key(kid: entry.kid, algorithm: .es256, privateKey: d, x: x, y: y)
        }
    }

    struct Document: Codable {
        struct Entry: Codable {
            var kid: String
            var alg: Algorithm
            var crv: String
            var d: String
            var x: String
            var y: String?
        }

        var activeKid: String
        var keys: [Entry]
    }
}

import Crypto

/// Random bearer secrets (refresh tokens, client secrets) and the digest under which they are stored.
///
/// A plain SHA-256 is enough for storage: the secrets carry 256 bits of entropy, so unlike passwords they need no
/// slow hash, and a fast lookup by digest stays possible.
public enum OpaqueToken {
    /// `bytes` random bytes as unpadded base64url.
    public static func generate(bytes: Int = 32) -> String {
        precondition(bytes > 0, "an opaque token needs at least one byte")
        var generator = SystemRandomNumberGenerator()
        return Base64URL.encode((0..<bytes).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }

    /// Lowercase hex SHA-256 of the token's UTF-8 bytes.
    public static func hash(_ token: String) -> String {
        SHA256.hash(data: Array(token.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}

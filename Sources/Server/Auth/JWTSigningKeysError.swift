/// A signing key document or key file that cannot be used. Messages name the key id or path, never key material.
public struct JWTSigningKeysError: Error, Sendable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

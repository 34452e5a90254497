/// A problem with encryption configuration (policy, keys, key file), found at start-up.
/// Messages name files and settings, never key material.
public struct EncryptionConfigurationError: Error, Sendable, CustomStringConvertible {
    public let message: String

    init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

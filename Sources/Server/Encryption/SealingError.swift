/// Why a sealed payload could not be opened (or a resource not sealed). Fails closed: the
/// caller gets no data. Messages never contain resource content or key material.
public struct SealingError: Error, Sendable, Equatable, CustomStringConvertible {
    private enum Code: Sendable, Equatable {
        case authenticationFailed
        case unknownKey
        case unsupportedFormat
        case malformedPayload
        case contentMismatch
        case missingKey
    }

    private let code: Code

    private init(_ code: Code) {
        self.code = code
    }

    /// The ciphertext does not authenticate: tampered, or bound to another type/id/version, or the wrong key.
    public static let authenticationFailed = SealingError(.authenticationFailed)
    /// The row names a key id that is not in the keyring.
    public static let unknownKey = SealingError(.unknownKey)
    /// The payload's format-version byte is not one this server reads, or the payload is too short.
    public static let unsupportedFormat = SealingError(.unsupportedFormat)
    /// The payload decrypted but its contents are not a list of sealed elements.
    public static let malformedPayload = SealingError(.malformedPayload)
    /// The plain content does not have the places where sealed elements go back.
    public static let contentMismatch = SealingError(.contentMismatch)
    /// A sealed payload without a key id, or a key id without a payload.
    public static let missingKey = SealingError(.missingKey)

    public var description: String {
        switch code {
        case .authenticationFailed: "the sealed elements failed to authenticate (tampered, moved from another row, or wrong key)"
        case .unknownKey: "the sealed elements name a key id that is not in the keyring"
        case .unsupportedFormat: "the sealed elements use an unsupported format version"
        case .malformedPayload: "the sealed elements decrypted to an unreadable payload"
        case .contentMismatch: "the stored content does not match its sealed elements"
        case .missingKey: "the sealed elements and their key id must both be present or both absent"
        }
    }
}

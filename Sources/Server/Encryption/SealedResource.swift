import FHIRModels

/// A resource split for storage: the plain `content` (searchable, without the sealed elements)
/// and the encrypted payload that holds those elements.
public struct SealedResource: Sendable {
    /// The resource without its sealed elements (and their `_name` twins).
    public let content: JSONValue
    /// Format byte + nonce + AES-256-GCM ciphertext and tag; `nil` when nothing was sealed.
    public let sealed: [UInt8]?
    /// The key that sealed `sealed`; `nil` when nothing was sealed.
    public let keyID: String?
}

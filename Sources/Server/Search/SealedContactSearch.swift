import Foundation

/// Email and phone live in sealed `telecom` elements where the encryption policy seals them, so
/// the search index never holds them; they are found by exact match on their blind-index HMACs.
struct SealedContactSearch: Sendable {
    let blindIndex: BlindIndex
    let policy: EncryptionPolicy

    func isSealed(type: String) -> Bool {
        policy.paths(for: type).contains("telecom")
    }

    /// Base64 of the HMAC the store wrote for the same value.
    func hash(param: String, value: String) -> String {
        Data(blindIndex.hash(param: param, value: value, as: param == "phone" ? .phone : .text)).base64EncodedString()
    }
}

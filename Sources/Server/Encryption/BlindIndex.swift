import Crypto
import FHIRModels
import Foundation

/// Exact-match lookup values for sealed elements (email, phone, identifier): an HMAC-SHA256 of
/// the normalized value, so the database can find equal values without holding them.
///
/// The HMAC key is derived (HKDF-SHA256, info `medrec-blind-index-v1`) from the keyring's
/// dedicated blind-index key, never from an encryption key: rotating encryption keys leaves
/// every stored index value valid, and knowing an index value reveals nothing about the
/// encryption keys. The parameter name is part of the message, so an email and a phone
/// number with the same digits never share a value.
public struct BlindIndex: Sendable {
    /// How a value is normalized before hashing.
    public enum Normalization: Sendable {
        /// NFC, trimmed, lowercased.
        case text
        /// Digits only.
        case phone
    }

    /// One index row: the search parameter and the HMAC of the normalized value.
    public struct Entry: Sendable, Hashable {
        public let param: String
        public let hash: [UInt8]
    }

    private let key: SymmetricKey

    public init(keyring: Keyring) {
        key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: keyring.blindIndexKey, info: Array("medrec-blind-index-v1".utf8), outputByteCount: 32)
    }

    public static func normalize(_ value: String, as normalization: Normalization) -> String {
        switch normalization {
        case .text:
            value.trimmingCharacters(in: .whitespacesAndNewlines).lowercased().precomposedStringWithCanonicalMapping
        case .phone:
            String(value.unicodeScalars.filter { $0.properties.numericType == .decimal }.compactMap { scalar in
                scalar.properties.numericValue.map { Character(String(Int($0))) }
            })
        }
    }

    /// The index value for `value` as a `param` search would compute it.
    public func hash(param: String, value: String, as normalization: Normalization) -> [UInt8] {
        var message = Array(param.utf8)
        message.append(0x1F)
        message.append(contentsOf: Self.normalize(value, as: normalization).utf8)
        return Array(HMAC<SHA256>.authenticationCode(for: message, using: key))
    }

    /// Index rows for a resource's sealed searchable elements: `email` and `phone` from `telecom`
    /// (system `email`; `phone` or `sms`) when the policy seals `telecom` for this type, and
    /// `identifier` values when it seals `identifier`. Empty values are skipped; duplicates appear once.
    public func values(type: String, resource: JSONValue, policy: EncryptionPolicy) -> [Entry] {
        var entries: [Entry] = []
        func add(_ entry: Entry) {
            if !entries.contains(entry) { entries.append(entry) }
        }
        if policy.seals(element: "telecom", in: type) {
            for contact in resource["telecom"]?.arrayValue ?? [] {
                guard let value = contact["value"]?.stringValue else { continue }
                switch contact["system"]?.stringValue {
                case "email":
                    guard !Self.normalize(value, as: .text).isEmpty else { continue }
                    add(Entry(param: "email", hash: hash(param: "email", value: value, as: .text)))
                case "phone", "sms":
                    guard !Self.normalize(value, as: .phone).isEmpty else { continue }
                    add(Entry(param: "phone", hash: hash(param: "phone", value: value, as: .phone)))
                default:
                    continue
                }
            }
        }
        if policy.seals(element: "identifier", in: type) {
            for identifier in resource["identifier"]?.arrayValue ?? [] {
                guard let value = identifier["value"]?.stringValue, !Self.normalize(value, as: .text).isEmpty
                else { continue }
                add(Entry(param: "identifier", hash: hash(param: "identifier", value: value, as: .text)))
            }
        }
        return entries
    }
}

import Crypto
import Foundation

/// The encryption keys this server holds. Every key can open what it sealed; only the active
/// one seals new writes, so a rotation adds a key, makes it active, and re-seals old rows.
///
/// The blind-index key is separate and stable: rotating encryption keys must not change
/// blind-index values, or every stored index row would have to be recomputed.
/// Keys come from configuration (environment or a 0600 key file), never from the database.
public struct Keyring: Sendable {
    public let activeKeyID: String
    /// Key ids in the order they were configured.
    public let keyIDs: [String]
    private let keys: [String: SymmetricKey]
    /// The root of the blind-index key (see `BlindIndex`), not used for encryption.
    let blindIndexKey: SymmetricKey

    /// - Parameters:
    ///   - keys: id and 32 bytes of key material each; ids are unique, non-empty, without `:` or `,`.
    ///   - activeKeyID: the id that seals new writes; `nil` means the last key.
    ///   - blindIndexKey: 32 bytes.
    public init(keys: [(id: String, material: [UInt8])], activeKeyID: String? = nil, blindIndexKey: [UInt8])
        throws(EncryptionConfigurationError)
    {
        guard !keys.isEmpty else { throw EncryptionConfigurationError("the keyring has no encryption keys") }
        var table: [String: SymmetricKey] = [:]
        var ids: [String] = []
        for (id, material) in keys {
            guard !id.isEmpty, id.count <= 64, !id.contains(":"), !id.contains(","),
                  id.allSatisfy({ $0.isASCII && !$0.isWhitespace })
            else {
                throw EncryptionConfigurationError(
                    "encryption key ids must be 1-64 printable ASCII characters without ':' or ','")
            }
            guard table[id] == nil else { throw EncryptionConfigurationError("encryption key id \(id) appears twice") }
            guard material.count == 32 else {
                throw EncryptionConfigurationError("encryption key \(id) must be 32 bytes (256 bits), not \(material.count)")
            }
            table[id] = SymmetricKey(data: material)
            ids.append(id)
        }
        let active = activeKeyID ?? ids[ids.count - 1]
        guard table[active] != nil else {
            throw EncryptionConfigurationError("the active encryption key \(active) is not in the keyring")
        }
        guard blindIndexKey.count == 32 else {
            throw EncryptionConfigurationError("the blind-index key must be 32 bytes (256 bits), not \(blindIndexKey.count)")
        }
        self.keys = table
        self.keyIDs = ids
        self.activeKeyID = active
        self.blindIndexKey = SymmetricKey(data: blindIndexKey)
    }

    func key(id: String) -> SymmetricKey? {
        keys[id]
    }

    var activeKey: SymmetricKey {
        keys[activeKeyID]!  // checked in init
    }

    /// A copy with `id` as the active key, e.g. while rotating.
    public func activating(_ id: String) throws(EncryptionConfigurationError) -> Keyring {
        guard keys[id] != nil else { throw EncryptionConfigurationError("encryption key \(id) is not in the keyring") }
        var copy = self
        copy.setActive(id)
        return copy
    }

    private mutating func setActive(_ id: String) {
        self = Keyring(unchecked: keys, ids: keyIDs, active: id, blindIndexKey: blindIndexKey)
    }

    private init(unchecked keys: [String: SymmetricKey], ids: [String], active: String, blindIndexKey: SymmetricKey) {
        self.keys = keys
        self.keyIDs = ids
        self.activeKeyID = active
        self.blindIndexKey = blindIndexKey
    }

    /// 32 random bytes from the system CSPRNG, for new keys.
    public static func randomKeyMaterial() -> [UInt8] {
        SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
    }
}

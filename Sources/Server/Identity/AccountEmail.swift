import Crypto
import Foundation

/// An account's email as the database holds it: a blind-index HMAC for lookup and uniqueness
/// (after normalization: trimmed, lowercased, NFC) and an AES-256-GCM box, bound to the user id,
/// for showing it to admins. The clear address never reaches the database.
struct AccountEmail: Sendable {
    let keyring: Keyring
    let blindIndex: BlindIndex

    init(keyring: Keyring) {
        self.keyring = keyring
        self.blindIndex = BlindIndex(keyring: keyring)
    }

    static func normalize(_ email: String) -> String {
        BlindIndex.normalize(email, as: .text)
    }

    /// A plausible address: one "@", something on each side, a dot in the domain, no spaces.
    static func isPlausible(_ email: String) -> Bool {
        let normalized = normalize(email)
        let parts = normalized.split(separator: "@", omittingEmptySubsequences: false)
        guard normalized.count <= 254, parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
              !parts[1].hasPrefix("."), !parts[1].hasSuffix(".") else { return false }
        return !normalized.contains(where: { $0.isWhitespace || $0.isNewline })
    }

    func lookup(_ email: String) -> [UInt8] {
        blindIndex.hash(param: "account-email", value: email, as: .text)
    }

    func seal(_ email: String, userID: String) throws -> (box: [UInt8], keyID: String) {
        let box = try AES.GCM.seal(
            Array(Self.normalize(email).utf8), using: keyring.activeKey, nonce: AES.GCM.Nonce(),
            authenticating: Array("medrec-account-email|\(userID)".utf8))
        return (Array(box.combined!), keyring.activeKeyID)
    }

    /// The address, or nil when the box does not open (wrong key, tampered, moved between users).
    func open(_ box: [UInt8], keyID: String, userID: String) -> String? {
        guard let key = keyring.key(id: keyID), let sealed = try? AES.GCM.SealedBox(combined: box),
              let plain = try? AES.GCM.open(sealed, using: key, authenticating: Array("medrec-account-email|\(userID)".utf8))
        else { return nil }
        return String(decoding: plain, as: UTF8.self)
    }
}

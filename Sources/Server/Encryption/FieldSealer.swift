import Crypto
import FHIRModels
import Foundation

/// Moves the policy's elements out of a resource into one AES-256-GCM payload, and back.
///
/// The payload is bound to its row: the associated data is `medrec-seal-v1|type|id|versionID`,
/// so a payload copied to another resource or version fails to open. Every seal draws a fresh
/// random nonce. Unsealing does not consult the policy: the payload records where each element
/// was, so a policy change never makes stored rows unreadable.
public struct FieldSealer: Sendable {
    public let policy: EncryptionPolicy
    public let keyring: Keyring

    /// The first byte of every payload; bump it when the layout changes.
    static let formatVersion: UInt8 = 1
    static let nonceSize = 12
    static let tagSize = 16

    public init(policy: EncryptionPolicy, keyring: Keyring) {
        self.policy = policy
        self.keyring = keyring
    }

    /// Removes the sealed elements from `resource` (and from resources nested in it, such as
    /// `contained`) and encrypts them under the active key.
    public func seal(resource: JSONValue, type: String, id: String, versionID: Int) throws -> SealedResource {
        var content = resource
        var removals = SealedElements()
        removals.sealResource(&content, prefix: [], policy: policy)
        guard !removals.entries.isEmpty else { return SealedResource(content: content, sealed: nil, keyID: nil) }
        let plaintext = FHIRJSON.serialize(removals.payload())
        let box = try AES.GCM.seal(
            plaintext, using: keyring.activeKey, nonce: AES.GCM.Nonce(),
            authenticating: Self.associatedData(type: type, id: id, versionID: versionID))
        var sealed: [UInt8] = []
        sealed.reserveCapacity(1 + Self.nonceSize + box.ciphertext.count + Self.tagSize)
        sealed.append(Self.formatVersion)
        sealed.append(contentsOf: box.nonce)
        sealed.append(contentsOf: box.ciphertext)
        sealed.append(contentsOf: box.tag)
        return SealedResource(content: content, sealed: sealed, keyID: keyring.activeKeyID)
    }

    /// Puts the sealed elements back into `content`. Throws `SealingError` (and returns nothing)
    /// when the payload does not authenticate for this type, id and version, names an unknown
    /// key, or does not fit `content`.
    public func unseal(
        content: JSONValue, sealed: [UInt8]?, keyID: String?, type: String, id: String, versionID: Int
    ) throws(SealingError) -> JSONValue {
        guard let sealed else {
            guard keyID == nil else { throw .missingKey }
            return content
        }
        guard let keyID else { throw .missingKey }
        let elements = try open(sealed: sealed, keyID: keyID, type: type, id: id, versionID: versionID)
        var restored = content
        try elements.restore(into: &restored)
        return restored
    }

    /// The fast path of a read: when every sealed element is a top-level member that the stored
    /// JSON text does not already name, the members are appended to that text, so the clear part
    /// is neither parsed nor re-encoded. Returns `nil` when that does not apply (nested elements,
    /// or a key that may already be present): callers then unseal the parsed content, which also
    /// fails closed on a mismatch. Authentication failures throw as in `unseal`.
    public func unsealSplicing(
        contentJSON: [UInt8], sealed: [UInt8], keyID: String, type: String, id: String, versionID: Int
    ) throws(SealingError) -> [UInt8]? {
        let plaintext = try openPlaintext(sealed: sealed, keyID: keyID, type: type, id: id, versionID: versionID)
        // The members' texts straight from the payload: no tree built, nothing re-encoded.
        guard let sealedMembers = TopLevelSealedMembers(payload: plaintext) else { return nil }
        // A stored text that names a sealed key anywhere (even nested) takes the careful path.
        let present = Self.memberNames(in: contentJSON)
        for (keyLiteral, _) in sealedMembers.members where present.contains(keyLiteral) { return nil }
        var end = contentJSON.count
        while end > 0, [0x20, 0x0A, 0x0D, 0x09].contains(contentJSON[end - 1]) { end -= 1 }
        guard end >= 2, contentJSON[end - 1] == UInt8(ascii: "}") else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(end + plaintext.count)
        output.append(contentsOf: contentJSON[..<(end - 1)])
        var needsComma = contentJSON[..<(end - 1)].contains { ![0x20, 0x0A, 0x0D, 0x09, UInt8(ascii: "{")].contains($0) }
        for (keyLiteral, value) in sealedMembers.members {
            if needsComma { output.append(UInt8(ascii: ",")) }
            output.append(contentsOf: keyLiteral)
            output.append(UInt8(ascii: ":"))
            output.append(contentsOf: value)
            needsComma = true
        }
        output.append(UInt8(ascii: "}"))
        return output
    }

    /// Every member name of a JSON text, at any depth, as its string literal (quotes
    /// included): one pass over the bytes, string literals skipped whole.
    static func memberNames(in json: [UInt8]) -> Set<ArraySlice<UInt8>> {
        var names = Set<ArraySlice<UInt8>>()
        var index = 0
        let count = json.count
        while index < count {
            guard json[index] == UInt8(ascii: "\"") else {
                index += 1
                continue
            }
            let start = index
            index += 1
            while index < count, json[index] != UInt8(ascii: "\"") {
                index += json[index] == UInt8(ascii: "\\") ? 2 : 1
            }
            index += 1
            let end = min(index, count)
            var next = end
            while next < count, json[next] == 0x20 || json[next] == 0x0A || json[next] == 0x0D || json[next] == 0x09 { next += 1 }
            if next < count, json[next] == UInt8(ascii: ":") { names.insert(json[start..<end]) }
        }
        return names
    }

    /// Authenticates and decrypts a payload for this row and returns what it sealed.
    private func open(sealed: [UInt8], keyID: String, type: String, id: String, versionID: Int) throws(SealingError) -> SealedElements {
        try SealedElements(payload: openPlaintext(sealed: sealed, keyID: keyID, type: type, id: id, versionID: versionID))
    }

    /// Authenticates and decrypts a payload for this row: its JSON text.
    private func openPlaintext(sealed: [UInt8], keyID: String, type: String, id: String, versionID: Int) throws(SealingError) -> [UInt8] {
        guard let key = keyring.key(id: keyID) else { throw .unknownKey }
        guard sealed.count >= 1 + Self.nonceSize + Self.tagSize, sealed[0] == Self.formatVersion else {
            throw .unsupportedFormat
        }
        let plaintext: Data
        do {
            // nonce ‖ ciphertext ‖ tag after the version byte: the "combined" layout, read in place.
            let box = try AES.GCM.SealedBox(combined: sealed[1...])
            plaintext = try AES.GCM.open(
                box, using: key, authenticating: Self.associatedData(type: type, id: id, versionID: versionID))
        } catch {
            throw .authenticationFailed
        }
        return Array(plaintext)
    }

    /// Opens a stored row and seals it again under the active key and the current policy, for
    /// key rotation (and for applying a changed policy to old rows). Same type, id and version.
    public func reseal(
        content: JSONValue, sealed: [UInt8]?, keyID: String?, type: String, id: String, versionID: Int
    ) throws -> SealedResource {
        let resource = try unseal(content: content, sealed: sealed, keyID: keyID, type: type, id: id, versionID: versionID)
        return try seal(resource: resource, type: type, id: id, versionID: versionID)
    }

    /// What the ciphertext is bound to: a payload opens only for the row and version it was sealed for.
    static func associatedData(type: String, id: String, versionID: Int) -> [UInt8] {
        Array("medrec-seal-v1|\(type)|\(id)|\(versionID)".utf8)
    }
}

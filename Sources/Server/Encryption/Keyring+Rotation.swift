import Foundation

extension Keyring {
    /// Adds a random key to a key file and makes it active, replacing the file atomically
    /// (a 0600 temporary file renamed over it). Returns the new key id.
    public static func addKey(toKeyFile url: URL) throws(EncryptionConfigurationError) -> String {
        _ = try load(keyFile: url)  // refuses unreadable or world-readable files
        let file: KeyFile
        do {
            file = try JSONDecoder().decode(KeyFile.self, from: Data(contentsOf: url))
        } catch {
            throw EncryptionConfigurationError("cannot read the encryption key file \(url.path)")
        }
        var keys: [String: [UInt8]] = [:]
        for (id, encoded) in file.keys {
            guard let material = Data(base64Encoded: encoded) else {
                throw EncryptionConfigurationError("encryption key \(id) in \(url.path) is not valid base64")
            }
            keys[id] = Array(material)
        }
        guard let blind = Data(base64Encoded: file.blindIndexKey) else {
            throw EncryptionConfigurationError("blindIndexKey in \(url.path) is not valid base64")
        }
        var id = "k\(Int(Date().timeIntervalSince1970))"
        while keys[id] != nil { id += "x" }
        keys[id] = randomKeyMaterial()
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString)")
        try writeKeyFile(at: temporary, activeKeyID: id, keys: keys, blindIndexKey: Array(blind))
        guard rename(temporary.path, url.path) == 0 else {
            unlink(temporary.path)
            throw EncryptionConfigurationError("cannot replace the encryption key file \(url.path)")
        }
        return id
    }
}

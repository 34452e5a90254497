import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the keyring comes from: `MEDREC_ENCRYPTION_KEYS` (`medrec.encryption.keys`), a key file,
/// or (embedded default) a development key file in the data directory.
extension Keyring {
    /// How the keyring was found, so the server can warn about a development key at every start.
    public enum Source: Sendable, Equatable {
        case environment
        case keyFile(String)
        case developmentKeyFile(String)
    }

    /// The keyring from the configured key list, else the key file, else the development key file
    /// in `dataDirectory` (created when absent; `nil` means no fallback, and no keys is an error).
    ///
    /// - `keys` (`MEDREC_ENCRYPTION_KEYS`): `id1:base64,id2:base64`; the last is active unless
    ///   `activeKey` (`MEDREC_ENCRYPTION_ACTIVE_KEY`) names another. Needs `blindIndexKey`
    ///   (`MEDREC_BLIND_INDEX_KEY`, base64).
    /// - `keyFile` (`MEDREC_ENCRYPTION_KEY_FILE`): a JSON key file (see `load(keyFile:)`), mode 0600.
    public static func configured(settings: EncryptionSettings, dataDirectory: URL?)
        throws(EncryptionConfigurationError) -> (keyring: Keyring, source: Source)
    {
        if let list = settings.keys {
            return (try fromList(list, settings: settings), .environment)
        }
        if let path = settings.keyFile {
            return (try load(keyFile: URL(fileURLWithPath: path)), .keyFile(path))
        }
        guard let dataDirectory else {
            throw EncryptionConfigurationError(
                "no encryption keys: set MEDREC_ENCRYPTION_KEYS and MEDREC_BLIND_INDEX_KEY, or MEDREC_ENCRYPTION_KEY_FILE")
        }
        let file = try developmentKeyFile(in: dataDirectory)
        return (try load(keyFile: file), .developmentKeyFile(file.path))
    }

    /// The keyring `medrec serve` and the command line use: `configured(settings:dataDirectory:)`,
    /// but a development key file is never made up where it would do harm.
    ///
    /// - In production mode no development key file is used or created: the keys must be
    ///   configured (`MEDREC_ENCRYPTION_KEY_FILE` or `MEDREC_ENCRYPTION_KEYS`).
    /// - A missing development key file is created only for an empty database. Once rows are
    ///   sealed (or accounts hold sealed emails), a new random key would make them unreadable and
    ///   seal new rows under a key the backups do not have: the start is refused and names the
    ///   file to restore (`scripts/fault-test.py --only keyring` found such a file silently
    ///   replaced).
    public static func forServer(
        settings: EncryptionSettings, mode: ServerSettings.Mode, dataDirectory: URL,
        databaseHoldsSealedData: () async throws -> Bool
    ) async throws -> (keyring: Keyring, source: Source) {
        if settings.keys != nil || settings.keyFile != nil {
            return try configured(settings: settings, dataDirectory: dataDirectory)
        }
        let file = developmentKeyFileLocation(in: dataDirectory)
        if mode == .production {
            throw EncryptionConfigurationError(
                "production mode needs encryption keys: set MEDREC_ENCRYPTION_KEY_FILE (or MEDREC_ENCRYPTION_KEYS and "
                    + "MEDREC_BLIND_INDEX_KEY); the development key file \(file.path) is not used in production "
                    + "(deploy/make-keys.sh makes a key file)")
        }
        if !FileManager.default.fileExists(atPath: file.path), try await databaseHoldsSealedData() {
            throw EncryptionConfigurationError(
                "the development key file \(file.path) is missing, but the database holds data sealed under it; "
                    + "restore that file from its backup (a new key could not open those rows), or configure the "
                    + "keys with MEDREC_ENCRYPTION_KEY_FILE")
        }
        return try configured(settings: settings, dataDirectory: dataDirectory)
    }

    /// Where the development key file of a data directory lives.
    static func developmentKeyFileLocation(in dataDirectory: URL) -> URL {
        dataDirectory.appendingPathComponent("encryption-keys.json")
    }

    /// The keyring the environment variables alone configure (see `configured(settings:dataDirectory:)`).
    public static func configured(environment: [String: String], dataDirectory: URL?)
        throws(EncryptionConfigurationError) -> (keyring: Keyring, source: Source)
    {
        try configured(settings: EncryptionSettings(environment: environment), dataDirectory: dataDirectory)
    }

    static func fromList(_ list: String, settings: EncryptionSettings) throws(EncryptionConfigurationError)
        -> Keyring
    {
        var keys: [(id: String, material: [UInt8])] = []
        for (position, entry) in list.split(separator: ",").enumerated() {
            let parts = entry.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else {
                throw EncryptionConfigurationError(
                    "MEDREC_ENCRYPTION_KEYS entry \(position + 1) is not id:base64key")
            }
            let id = parts[0].trimmingCharacters(in: .whitespaces)
            guard let material = decodeBase64(parts[1]) else {
                throw EncryptionConfigurationError("MEDREC_ENCRYPTION_KEYS key \(id) is not valid base64")
            }
            keys.append((id, material))
        }
        guard let blind = settings.blindIndexKey else {
            throw EncryptionConfigurationError(
                "MEDREC_BLIND_INDEX_KEY is not set: blind indexes need their own key, which stays the same across rotations")
        }
        guard let blindMaterial = decodeBase64(Substring(blind)) else {
            throw EncryptionConfigurationError("MEDREC_BLIND_INDEX_KEY is not valid base64")
        }
        return try Keyring(keys: keys, activeKeyID: settings.activeKey, blindIndexKey: blindMaterial)
    }

    /// The on-disk form: `{"active": "k2", "keys": {"k1": "base64", "k2": "base64"}, "blindIndexKey": "base64"}`.
    struct KeyFile: Codable {
        var active: String
        var keys: [String: String]
        var blindIndexKey: String
    }

    /// Loads a key file; refuses it unless only its owner can read it (mode 0600 or 0400).
    public static func load(keyFile url: URL) throws(EncryptionConfigurationError) -> Keyring {
        let path = url.path
        let data: Data
        switch OwnerOnlyFile.read(path, label: "encryption key file") {
        case .success(let bytes): data = bytes
        case .failure(let problem): throw EncryptionConfigurationError(problem.message)
        }
        let file: KeyFile
        do {
            file = try JSONDecoder().decode(KeyFile.self, from: data)
        } catch {
            throw EncryptionConfigurationError(
                "encryption key file \(path) must be JSON {\"active\": id, \"keys\": {id: base64}, \"blindIndexKey\": base64}")
        }
        var keys: [(id: String, material: [UInt8])] = []
        for id in file.keys.keys.sorted() {
            guard let material = decodeBase64(Substring(file.keys[id]!)) else {
                throw EncryptionConfigurationError("encryption key \(id) in \(path) is not valid base64")
            }
            keys.append((id, material))
        }
        guard let blind = decodeBase64(Substring(file.blindIndexKey)) else {
            throw EncryptionConfigurationError("blindIndexKey in \(path) is not valid base64")
        }
        return try Keyring(keys: keys, activeKeyID: file.active, blindIndexKey: blind)
    }

    /// Writes a key file with mode 0600, refusing to replace an existing file.
    public static func writeKeyFile(at url: URL, activeKeyID: String, keys: [String: [UInt8]], blindIndexKey: [UInt8])
        throws(EncryptionConfigurationError)
    {
        let file = KeyFile(
            active: activeKeyID,
            keys: keys.mapValues { Data($0).base64EncodedString() },
            blindIndexKey: Data(blindIndexKey).base64EncodedString())
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? encoder.encode(file) else {
            throw EncryptionConfigurationError("cannot encode the encryption key file")
        }
        // O_EXCL with mode 0600 at creation: the key is never readable by others, not even briefly.
        let descriptor = open(url.path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else {
            throw EncryptionConfigurationError("cannot create the encryption key file \(url.path)")
        }
        defer { close(descriptor) }
        let written = data.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == data.count, fsync(descriptor) == 0 else {
            throw EncryptionConfigurationError("cannot write the encryption key file \(url.path)")
        }
    }

    /// The development key file `encryption-keys.json` in `dataDirectory`, created with a random
    /// key and a random blind-index key when absent. For development only: the key sits next to the data.
    public static func developmentKeyFile(in dataDirectory: URL) throws(EncryptionConfigurationError) -> URL {
        let url = developmentKeyFileLocation(in: dataDirectory)
        if FileManager.default.fileExists(atPath: url.path) { return url }
        do {
            try FileManager.default.createDirectory(
                at: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw EncryptionConfigurationError("cannot create the data directory \(dataDirectory.path)")
        }
        do {
            // A key id of its own per file: rows sealed under another development key (a file
            // that was replaced) show under their own id in `medrec keys status`.
            let keyID = "dev-" + randomKeyMaterial().prefix(4).map { String(format: "%02x", $0) }.joined()
            try writeKeyFile(
                at: url, activeKeyID: keyID, keys: [keyID: randomKeyMaterial()], blindIndexKey: randomKeyMaterial())
        } catch {
            // Another process starting at the same moment created it first: use theirs.
            if FileManager.default.fileExists(atPath: url.path) { return url }
            throw error
        }
        return url
    }

    private static func decodeBase64(_ text: Substring) -> [UInt8]? {
        Data(base64Encoded: text.trimmingCharacters(in: .whitespaces)).map(Array.init)
    }
}

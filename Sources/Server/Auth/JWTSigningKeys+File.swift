import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension JWTSigningKeys {
    /// The key file's name inside the data directory.
    public static let fileName = "jwt-signing-keys.json"

    /// The embedded default: reads `<directory>/jwt-signing-keys.json`, or generates one Ed25519 key and writes it
    /// with mode 0600 (creating the directory, mode 0700, if missing). Refuses a key file that group or others can
    /// read, as anyone who reads it can mint tokens.
    public static func loadOrCreate(inDirectory directory: String) throws -> JWTSigningKeys {
        let path = (directory as NSString).appendingPathComponent(fileName)
        if FileManager.default.fileExists(atPath: path) {
            return try load(path: path)
        }
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw JWTSigningKeysError("cannot create the data directory \(directory)")
        }
        let keys = generate()
        if try writeNew(keys.json(), to: path) {
            return keys
        }
        // Another process created the file first: use theirs, so every replica signs with the same key.
        return try load(path: path)
    }

    /// Loads a key file, checking that only its owner can read it.
    public static func load(path: String) throws -> JWTSigningKeys {
        let data: Data
        switch OwnerOnlyFile.read(path, label: "signing key file") {
        case .success(let bytes): data = bytes
        case .failure(let problem): throw JWTSigningKeysError(problem.message)
        }
        do {
            return try JWTSigningKeys(json: Array(data))
        } catch let error as JWTSigningKeysError {
            throw JWTSigningKeysError("signing key file \(path): \(error.message)")
        }
    }

    /// Writes `bytes` to a private temporary file and links it into place, so readers never see a partial file and
    /// an existing file is never replaced. Returns false when `path` already exists.
    private static func writeNew(_ bytes: [UInt8], to path: String) throws -> Bool {
        let temporary = path + ".tmp-\(getpid())-\(OpaqueToken.generate(bytes: 6))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else {
            throw JWTSigningKeysError("cannot write the signing key file \(path): \(String(cString: strerror(errno)))")
        }
        defer { unlink(temporary) }
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor)
        close(descriptor)
        guard written == bytes.count, synced == 0 else {
            throw JWTSigningKeysError("cannot write the signing key file \(path)")
        }
        guard link(temporary, path) == 0 else {
            if errno == EEXIST { return false }
            throw JWTSigningKeysError("cannot write the signing key file \(path): \(String(cString: strerror(errno)))")
        }
        return true
    }
}

import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Files of secrets (encryption keys, signing keys) are used only when no one but their owner
/// can read them. Messages name the file, never its content.
enum OwnerOnlyFile {
    struct Problem: Error {
        let message: String
    }

    /// The bytes of `path`, or why it may not be used; `label` names the file in messages
    /// ("encryption key file", "signing key file").
    static func read(_ path: String, label: String) -> Result<Data, Problem> {
        var info = stat()
        guard stat(path, &info) == 0 else { return .failure(Problem(message: "cannot read the \(label) \(path)")) }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            return .failure(Problem(
                message: "\(label) \(path) has permissions \(String(mode, radix: 8)); it must be 600 (chmod 600 \(path))"))
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            return .failure(Problem(message: "cannot read the \(label) \(path)"))
        }
        return .success(data)
    }
}

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Fresh directories under the system temporary directory.
enum TemporaryDirectory {
    /// A new directory, mode 0755 so that the `postgres` user can reach a cluster inside it when
    /// tests run as root. Made with mkdir(2) and chmod(2) directly, so a failure says which errno.
    static func make(prefix: String) throws -> String {
        let base = FileManager.default.temporaryDirectory.path
        for _ in 0..<3 {
            let path = base + "/\(prefix)-\(UUID().uuidString.prefix(8))"
            if mkdir(path, 0o700) == 0 {
                guard chmod(path, 0o755) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
                return path
            }
            if errno != EEXIST { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        }
        throw POSIXError(.EEXIST)
    }
}

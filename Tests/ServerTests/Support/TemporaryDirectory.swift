import Foundation

/// Fresh directories under the system temporary directory.
enum TemporaryDirectory {
    /// A new directory, mode 0755 so that the `postgres` user can reach a cluster inside it when
    /// tests run as root.
    static func make(prefix: String) throws -> String {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(
            atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        return path
    }
}

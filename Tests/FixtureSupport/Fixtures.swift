import Foundation
import Testing

/// Finds the shared third-party fixtures (`../shared/fixtures` beside the repository, or
/// `MEDREC_FIXTURES`). Tests that need them are disabled, with this reason, when absent.
public enum Fixtures {
    public static let root: URL? = {
        let fileManager = FileManager.default
        if let configured = ProcessInfo.processInfo.environment["MEDREC_FIXTURES"],
           fileManager.fileExists(atPath: configured) {
            return URL(fileURLWithPath: configured)
        }
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        for _ in 0..<8 {
            let candidate = directory.appendingPathComponent("shared/fixtures")
            if fileManager.fileExists(atPath: candidate.appendingPathComponent("README.md").path) {
                return candidate
            }
            let sibling = directory.deletingLastPathComponent().appendingPathComponent("shared/fixtures")
            if fileManager.fileExists(atPath: sibling.appendingPathComponent("README.md").path) {
                return sibling
            }
            directory = directory.deletingLastPathComponent()
        }
        return nil
    }()

    public static var available: Bool { root != nil }
    public static let absentReason: Comment = "../shared/fixtures is absent: set MEDREC_FIXTURES to run fixture tests"

    public static func url(_ relativePath: String) -> URL {
        guard let root else { fatalError("fixtures absent; guard the test with .enabled(if: Fixtures.available)") }
        return root.appendingPathComponent(relativePath)
    }

    public static func data(_ relativePath: String) throws -> Data {
        try Data(contentsOf: url(relativePath))
    }

    /// Files in a fixture folder with the given extension, sorted by name.
    public static func files(in folder: String, withExtension ext: String) -> [URL] {
        guard available else { return [] }
        let directory = url(folder)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix("." + ext) }.sorted().map { directory.appendingPathComponent($0) }
    }
}

import Foundation
import Testing

/// Finds the third-party fixtures. In order:
///  1. `MEDREC_FIXTURES`, when set (a set but missing folder stops the run: it is a typo, not a
///     reason to test against other data);
///  2. `shared/fixtures` beside the repository or above it (`../shared/fixtures`): the full set,
///     which CI and long runs use;
///  3. `Tests/Fixtures`: the subset vendored in the repository (see its README.md), so that a
///     fresh clone runs every suite.
/// Figures that count a whole folder differ between the full set and the subset: a test names
/// both with `expected(full:vendored:)`.
public enum Fixtures {
    /// The vendored subset, `Tests/Fixtures` beside this file's folder.
    public static let vendoredRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// The file that marks a fixture folder as the vendored subset (wherever it is, so that
    /// `MEDREC_FIXTURES=Tests/Fixtures` pins the subset's figures too).
    public static let subsetMarker = "VENDORED-SUBSET"

    public static let root: URL? = {
        let fileManager = FileManager.default
        if let configured = ProcessInfo.processInfo.environment["MEDREC_FIXTURES"], !configured.isEmpty {
            guard fileManager.fileExists(atPath: configured) else {
                fatalError("MEDREC_FIXTURES=\(configured) does not exist; unset it to use ../shared/fixtures or Tests/Fixtures")
            }
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
        if fileManager.fileExists(atPath: vendoredRoot.appendingPathComponent(subsetMarker).path) {
            return vendoredRoot
        }
        return nil
    }()

    public static var available: Bool { root != nil }
    public static let absentReason: Comment =
        "no fixtures: neither MEDREC_FIXTURES, ../shared/fixtures nor the vendored Tests/Fixtures was found"

    /// Whether `root` is the vendored subset (it holds the marker file).
    public static let isVendored: Bool = {
        guard let root else { return false }
        return FileManager.default.fileExists(atPath: root.appendingPathComponent(subsetMarker).path)
    }()

    /// Whether `root` is the full shared set.
    public static var isFullSet: Bool { available && !isVendored }

    /// A figure pinned per fixture set: `full` for the shared set (../shared/fixtures), `vendored`
    /// for Tests/Fixtures. Both are counted from the files; Tests/Fixtures/README.md lists them.
    public static func expected<Value>(full: Value, vendored: Value) -> Value {
        isVendored ? vendored : full
    }

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

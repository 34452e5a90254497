import Foundation

/// The PostgreSQL server programs the embedded cluster is run with.
///
/// Debian/Ubuntu install them under `/usr/lib/postgresql/<major>/bin` (not on `PATH`);
/// Homebrew and most other systems put them on `PATH`. `MEDREC_PG_BIN` wins over both so an
/// operator can pin a version.
public struct PostgresBinaries: Sendable, Hashable {
    /// Directory holding `initdb`, `pg_ctl` and `postgres`.
    public let directory: String

    public var initdb: String { directory + "/initdb" }
    public var pgCtl: String { directory + "/pg_ctl" }
    public var postgres: String { directory + "/postgres" }

    /// The environment variable that names the binaries directory explicitly.
    public static let environmentKey = "MEDREC_PG_BIN"

    static let notFoundMessage =
        "PostgreSQL server binaries not found: install postgresql (Debian/Ubuntu: apt-get install postgresql; "
        + "macOS: brew install postgresql) or set MEDREC_PG_BIN to the directory holding initdb and pg_ctl"

    public init(directory: String) {
        self.directory = directory
    }

    /// Finds the binaries: `directory` (the configured `medrec.pgBin`), else `MEDREC_PG_BIN`, then
    /// `PATH`, then the highest version under `/usr/lib/postgresql/*/bin` and `/usr/pgsql-*/bin`.
    ///
    /// - Parameter preferringMajorVersion: the version an existing cluster was created with; a
    ///   packaged installation of that version wins over `PATH` and newer ones, since a cluster
    ///   only runs with its own major version.
    public static func locate(
        directory: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        preferringMajorVersion: Int? = nil
    ) throws(DatabaseError) -> PostgresBinaries {
        if let explicit = directory ?? environment[environmentKey], !explicit.isEmpty {
            let candidate = PostgresBinaries(directory: explicit)
            guard candidate.isComplete else {
                throw DatabaseError(
                    .binariesNotFound,
                    "PostgreSQL server binaries not found: MEDREC_PG_BIN is set but its directory has no "
                        + "executable initdb and pg_ctl; point it at the directory holding them, or unset it")
            }
            return candidate
        }
        let installations = versionedInstallations()
        if let preferringMajorVersion,
            let match = installations.first(where: { $0.version.first == preferringMajorVersion && $0.binaries.isComplete })
        {
            return match.binaries
        }
        for directory in (environment["PATH"] ?? "").split(separator: ":") where !directory.isEmpty {
            let candidate = PostgresBinaries(directory: String(directory))
            if candidate.isComplete { return candidate }
        }
        for candidate in installations where candidate.binaries.isComplete {
            return candidate.binaries
        }
        throw DatabaseError(.binariesNotFound, notFoundMessage)
    }

    /// Both programs the cluster needs are present and executable.
    var isComplete: Bool {
        FileManager.default.isExecutableFile(atPath: initdb) && FileManager.default.isExecutableFile(atPath: pgCtl)
    }

    /// Packaged installations, highest major version first.
    private static func versionedInstallations() -> [(version: [Int], binaries: PostgresBinaries)] {
        var found: [(version: [Int], binaries: PostgresBinaries)] = []
        let layouts: [(parent: String, prefix: String, suffix: String)] = [
            ("/usr/lib/postgresql", "", "/bin"),  // Debian, Ubuntu
            ("/usr", "pgsql-", "/bin"),  // RHEL, Fedora (PGDG)
            ("/opt/homebrew/opt", "postgresql@", "/bin"),  // Homebrew keg-only versions
            ("/usr/local/opt", "postgresql@", "/bin"),
        ]
        for layout in layouts {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: layout.parent)) ?? []
            for name in names where name.hasPrefix(layout.prefix) {
                let versionText = name.dropFirst(layout.prefix.count)
                let version = versionText.split(separator: ".").compactMap { Int($0) }
                guard !version.isEmpty else { continue }
                found.append((version, PostgresBinaries(directory: "\(layout.parent)/\(name)\(layout.suffix)")))
            }
        }
        return found.sorted { $1.version.lexicographicallyPrecedes($0.version) }
    }
}

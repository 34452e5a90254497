import Foundation

/// Where the embedded cluster and medrec's notes about it live.
///
/// medrec's own files sit in the data directory:
/// - `postgres.port`: the TCP port the cluster listens on (127.0.0.1 only);
/// - `postgres.password`: the generated superuser password, mode 0600;
/// - `postgres.location`: only when the cluster lives elsewhere (see below);
/// - `postgres.owner`: pid of the medrec process that started the server and will stop it;
/// - `postgres.lock`: serialises start and stop between medrec processes.
///
/// The cluster itself is `<data dir>/postgres` (`data/` is PGDATA, `run/` the private socket
/// directory, `postgres.log` the server log). When medrec runs as root the cluster belongs to the
/// `postgres` user, which must be able to traverse to the data directory; if it can't (e.g. the data
/// directory is under `/root`), the cluster goes to `~postgres/medrec-clusters/<name>-<hash>` and
/// `postgres.location` records that path. No existing directory's permissions are changed.
struct ClusterLayout: Sendable {
    let dataDirectory: String
    let root: String

    var pgdata: String { root + "/data" }
    var socketDirectory: String { root + "/run" }
    var logFile: String { root + "/postgres.log" }

    var portFile: String { Self.portFile(in: dataDirectory) }
    var passwordFile: String { dataDirectory + "/postgres.password" }
    var locationFile: String { Self.locationFile(in: dataDirectory) }
    var ownerFile: String { dataDirectory + "/postgres.owner" }
    var lockFile: String { dataDirectory + "/postgres.lock" }

    static func portFile(in dataDirectory: String) -> String { dataDirectory + "/postgres.port" }
    static func locationFile(in dataDirectory: String) -> String { dataDirectory + "/postgres.location" }

    /// The socket file clients use, or nil when its path would be too long for a unix socket
    /// (104 bytes on macOS, 108 on Linux); the cluster then listens on TCP only.
    func socketPath(port: Int) -> String? {
        let path = "\(socketDirectory)/.s.PGSQL.\(port)"
        return path.utf8.count < 100 ? path : nil
    }

    /// The layout already recorded for `dataDirectory`, without creating anything.
    static func existing(in dataDirectory: String) -> ClusterLayout? {
        if let recorded = try? String(contentsOfFile: locationFile(in: dataDirectory), encoding: .utf8) {
            let root = recorded.trimmingCharacters(in: .whitespacesAndNewlines)
            if !root.isEmpty { return ClusterLayout(dataDirectory: dataDirectory, root: root) }
        }
        let local = dataDirectory + "/postgres"
        guard FileManager.default.fileExists(atPath: local) else { return nil }
        return ClusterLayout(dataDirectory: dataDirectory, root: local)
    }

    /// A stable directory name under the cluster user's home for a data directory it cannot reach.
    static func relocatedName(for dataDirectory: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a: stable across runs, unlike Hasher
        for byte in dataDirectory.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        let base = (dataDirectory as NSString).lastPathComponent
            .filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }
        let hex = String(hash, radix: 16)
        return (base.isEmpty ? "medrec" : base) + "-" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The absolute, normalised form of a data directory path given on the command line.
    static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }
}

import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The operating-system user the embedded cluster's files belong to and its programs run as.
///
/// PostgreSQL refuses to run as root, so when medrec runs as root (containers, CI) the cluster is
/// run as the `postgres` user through `runuser`; otherwise it runs as whoever runs medrec.
struct ClusterUser: Sendable {
    let name: String
    let uid: uid_t
    let gid: gid_t
    /// The program that switches to this user, or nil when it is the current user.
    let switcher: String?
    /// The user's home directory, a place it can always write to.
    let home: String?

    var isCurrentUser: Bool { switcher == nil }

    /// The user to run the cluster as in this process.
    static func forCurrentProcess() throws(DatabaseError) -> ClusterUser {
        let euid = geteuid()
        guard euid == 0 else {
            let entry = getpwuid(euid)
            let name = entry.map { String(cString: $0.pointee.pw_name) } ?? "uid \(euid)"
            let home = entry.map { String(cString: $0.pointee.pw_dir) }
            return ClusterUser(name: name, uid: euid, gid: getegid(), switcher: nil, home: home)
        }
        guard let entry = getpwnam("postgres") else {
            throw DatabaseError(
                .unsupportedUser,
                "PostgreSQL refuses to run as root and there is no 'postgres' OS user to run the embedded cluster as: "
                    + "create one (useradd --system postgres), run medrec as a non-root user, or set MEDREC_DATABASE_URL")
        }
        let switchers = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser", "/bin/runuser"]
        guard let runuser = switchers.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw DatabaseError(
                .unsupportedUser,
                "running as root needs runuser (util-linux) to start PostgreSQL as the 'postgres' user: install "
                    + "util-linux, run medrec as a non-root user, or set MEDREC_DATABASE_URL")
        }
        return ClusterUser(
            name: "postgres", uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid, switcher: runuser,
            home: String(cString: entry.pointee.pw_dir))
    }

    /// The result of a finished program.
    struct Outcome: Sendable {
        let status: Int32
        /// Combined stdout and stderr.
        let output: String
        var succeeded: Bool { status == 0 }
        /// The last non-empty lines, for an error message.
        func tail(_ lines: Int = 3) -> String {
            output.split(whereSeparator: \.isNewline).suffix(lines).joined(separator: " | ")
        }
    }

    /// Runs a program as this user and waits for it without blocking a concurrency thread.
    func run(_ executable: String, _ arguments: [String], in directory: String? = nil) async throws -> Outcome {
        let outputPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("medrec-pg-\(UUID().uuidString).out").path
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let pid = try spawn(executable, arguments, in: directory, outputPath: outputPath)
        let status = await ChildProcess.exitStatus(of: pid)
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        return Outcome(status: status, output: text)
    }

    /// Like `run`, blocking the calling thread: for `atexit` handlers, where no async context is left.
    func runBlocking(_ executable: String, _ arguments: [String], in directory: String? = nil) -> Int32 {
        guard let pid = try? spawn(executable, arguments, in: directory, outputPath: "/dev/null") else { return -1 }
        return ChildProcess.waitForExit(pid)
    }

    private func spawn(_ executable: String, _ arguments: [String], in directory: String?, outputPath: String)
        throws(DatabaseError) -> pid_t
    {
        var environment = ProcessInfo.processInfo.environment
        // Settings that would redirect the tools away from the cluster we name explicitly.
        for key in ["PGDATA", "PGPORT", "PGHOST", "PGUSER", "PGDATABASE", "PGOPTIONS"] {
            environment[key] = nil
        }
        environment["LC_MESSAGES"] = "C"
        if let switcher {
            return try ChildProcess.spawn(
                switcher, ["-u", name, "--", executable] + arguments, environment: environment, directory: directory,
                outputPath: outputPath)
        }
        return try ChildProcess.spawn(
            executable, arguments, environment: environment, directory: directory, outputPath: outputPath)
    }

    /// Hands a path we created to this user, so the cluster can write to it.
    func takeOwnership(of path: String) throws(DatabaseError) {
        guard !isCurrentUser else { return }
        guard chown(path, uid, gid) == 0 else {
            throw DatabaseError(
                .clusterStartFailed, "cannot give \(path) to the '\(name)' user: \(String(cString: strerror(errno)))")
        }
    }

    /// Whether this user can reach (search) `directory`, i.e. every ancestor is traversable for it.
    func canTraverse(to directory: String) async -> Bool {
        guard !isCurrentUser else { return true }
        let outcome = try? await run("/bin/sh", ["-c", "test -x \"$0\"", directory])
        return outcome?.succeeded ?? false
    }
}

import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The server's `postmaster.pid`: whether a cluster is running, and on which port.
///
/// After a crash the file stays behind, and in a container its pid is often reused by an
/// unrelated process, which makes PostgreSQL refuse to start. So "running" means: the pid is
/// alive, is a postgres process, and (where /proc exists) works in this cluster's directory.
struct PostmasterPIDFile: Sendable {
    let path: String
    let pid: pid_t
    let port: Int?
    let socketDirectory: String?
    /// `starting`, `ready`, `stopping` or `standby` (PostgreSQL 10+).
    let status: String?

    static func read(pgdata: String) -> PostmasterPIDFile? {
        let path = pgdata + "/postmaster.pid"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        guard let first = lines.first, let pid = pid_t(first), pid > 0 else {
            // Written but not yet filled in, or garbage: treat as present with no live server.
            return PostmasterPIDFile(path: path, pid: 0, port: nil, socketDirectory: nil, status: nil)
        }
        func line(_ number: Int) -> String? {
            lines.count >= number && !lines[number - 1].isEmpty ? lines[number - 1] : nil
        }
        return PostmasterPIDFile(
            path: path, pid: pid, port: line(4).flatMap(Int.init), socketDirectory: line(5), status: line(8))
    }

    /// Whether the pid belongs to a live postgres server of the cluster at `pgdata`.
    func isLive(pgdata: String) -> Bool {
        guard pid > 0 else { return false }
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        let proc = "/proc/\(pid)"
        guard FileManager.default.fileExists(atPath: proc) else { return true }  // no /proc (macOS): trust kill
        let command = (try? String(contentsOfFile: proc + "/comm", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        guard command == "postgres" || command == "postmaster" else { return false }
        guard let cwd = try? FileManager.default.destinationOfSymbolicLink(atPath: proc + "/cwd") else {
            return true  // not allowed to look: the command name will do
        }
        let resolved = (try? FileManager.default.destinationOfSymbolicLink(atPath: pgdata)) ?? pgdata
        return URL(fileURLWithPath: cwd).standardizedFileURL.resolvingSymlinksInPath().path
            == URL(fileURLWithPath: resolved).standardizedFileURL.resolvingSymlinksInPath().path
    }
}

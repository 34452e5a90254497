import Foundation
@testable import Server
#if canImport(Glibc)
import Glibc
#endif

/// Runs the built `medrec` binary as a child process and reports its exit status, output and
/// peak memory (from `wait4`'s rusage), so tests can bound what hostile input costs.
enum MedrecProcess {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
        /// Peak resident set size of the child, in kilobytes.
        let maxRSSKilobytes: Int
    }

    static var medrecPath: String {
        get throws {
            let candidates = [
                URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("medrec").path,
                URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../.build/debug/medrec").standardized.path,
            ]
            guard let path = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
                throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: candidates.joined(separator: ", ")])
            }
            return path
        }
    }

    /// Forks in a small Python parent rather than `posix_spawn` from this process: a vfork-style
    /// spawn makes the kernel count the *parent's* peak memory as the child's `ru_maxrss`.
    /// Python's own footprint (about 10 MB) is the baseline of the measurement.
    private static let forkAndMeasure = """
        import os, sys
        pid = os.fork()
        if pid == 0:
            os.execv(sys.argv[2], sys.argv[2:])
        _, status, usage = os.wait4(pid, 0)
        open(sys.argv[1], "w").write(str(usage.ru_maxrss))
        sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
        """

    /// Async so that the wait for the child (a whole import or demo, tens of seconds) happens on a
    /// thread of its own: a blocking `waitpid` here held one of the two cooperative threads of this
    /// 2-core machine, and two of them at once stalled every other test of the parallel suite
    /// (seen on CI: a connection refusal took 51 s to be noticed).
    static func run(_ arguments: [String], environment extra: [String: String] = [:]) async throws -> Result {
        let executable = try medrecPath
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("medrec-child-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outPath = directory.appendingPathComponent("out").path
        let errPath = directory.appendingPathComponent("err").path
        let rssPath = directory.appendingPathComponent("rss").path
        let python = ["/usr/bin/python3", "/usr/local/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) }
            ?? "/usr/bin/env"

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)

        let launcher = python == "/usr/bin/env" ? ["/usr/bin/env", "python3"] : [python]
        let argv = (launcher + ["-c", forkAndMeasure, rssPath, executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in extra { environment[key] = value }
        let envp = environment.map { strdup("\($0)=\($1)") } + [nil]
        defer { envp.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, launcher[0], &actions, nil, argv, envp)
        guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EINVAL) }

        let exitStatus = await ChildProcess.exitStatus(of: pid)
        let rss = (try? String(contentsOfFile: rssPath, encoding: .utf8)).flatMap { Int($0) }
        return Result(
            status: exitStatus,
            stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "",
            maxRSSKilobytes: rss ?? Int.max)
    }
}

extension MedrecProcess {
    /// A `medrec` child left running (a server), with its output going to a file.
    final class Running: @unchecked Sendable {
        let pid: pid_t
        let outputPath: String

        init(pid: pid_t, outputPath: String) {
            self.pid = pid
            self.outputPath = outputPath
        }

        var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

        /// Waits until the output contains `text`, or fails after `timeout`.
        func waitForOutput(containing text: String, timeout: Duration) async throws -> String {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                let current = output
                if current.contains(text) { return current }
                if kill(pid, 0) != 0 { break }  // the process has exited
                try await Task.sleep(for: .milliseconds(100))
            }
            throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "timed out waiting for \(text); output: \(output)"])
        }

        private let lock = NSLock()
        private var reaper: Task<Int32, Never>?

        /// Sends SIGTERM and returns the exit status.
        func terminate() async -> Int32 { await reap(after: SIGTERM).value }

        /// Sends SIGKILL (a crash: no shutdown, no cleanup) and returns the exit status (137).
        func killHard() async -> Int32 { await reap(after: SIGKILL).value }

        /// For `defer` on a failure path: SIGTERM unless already signalled, reaped in the background.
        func stop() { _ = reap(after: SIGTERM) }

        /// Signals the process and reaps it, once: later calls get the first reaping and signal
        /// nothing (the pid may have been reused). The wait is `ChildProcess.exitStatus`, on a
        /// thread of its own: a graceful stop takes seconds, and a blocking wait here would hold
        /// a cooperative thread of the whole test process for that long.
        private func reap(after signal: Int32) -> Task<Int32, Never> {
            lock.lock()
            defer { lock.unlock() }
            if let reaper { return reaper }
            kill(pid, signal)
            let pid = self.pid
            let task = Task { await ChildProcess.exitStatus(of: pid) }
            reaper = task
            return task
        }
    }

    static func start(_ arguments: [String], environment extra: [String: String] = [:]) throws -> Running {
        let executable = try medrecPath
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("medrec-serve-\(UUID().uuidString).log").path
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in extra { environment[key] = value }
        let envp = environment.map { strdup("\($0)=\($1)") } + [nil]
        defer { envp.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EINVAL) }
        return Running(pid: pid, outputPath: outputPath)
    }
}

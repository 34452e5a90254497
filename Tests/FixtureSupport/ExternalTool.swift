import Foundation

/// Runs an outside tool (xmllint, pg_dump, python3) from a test without blocking a thread of
/// Swift's cooperative pool.
///
/// Why this exists: the test process's cooperative pool has one thread per core, two on CI. A
/// blocking `waitUntilExit()` or `readDataToEndOfFile()` holds one of them for as long as the
/// tool runs. When the OpenAPI schema check and the xmllint pass (each minutes long on a loaded
/// machine) ran at the same time, every other test in the process froze with them, the apps
/// under test included: CI saw a dozen tests pass their 3-minute limits at once and live clients
/// pass their read timeouts. Here the output goes to a file, and the exit is polled with
/// `Task.sleep`, which gives the thread back.
public enum ExternalTool {
    public struct Result: Sendable {
        /// The exit status, or the signal's status when the tool was stopped at its limit.
        public let status: Int32
        /// stdout and stderr, interleaved as the tool wrote them.
        public let output: String
        /// Whether the tool ran past `limit` and was terminated.
        public let timedOut: Bool
    }

    /// Runs `executable` with `arguments`; stdout and stderr both go into `Result.output`. A tool
    /// still running after `limit`, or when the calling task is cancelled, is terminated.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        directory: URL? = nil, limit: Duration = .seconds(900)
    ) async throws -> Result {
        let outputURL = FileManager.default.temporaryDirectory.appendingPathComponent("medrec-tool-\(UUID().uuidString).out")
        guard FileManager.default.createFile(atPath: outputURL.path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: outputURL.path])
        }
        defer { try? FileManager.default.removeItem(at: outputURL) }
        let output = try FileHandle(forWritingTo: outputURL)
        defer { try? output.close() }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let directory { process.currentDirectoryURL = directory }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = output
        try process.run()

        let deadline = ContinuousClock.now + limit
        var timedOut = false
        do {
            while process.isRunning {
                if ContinuousClock.now > deadline {
                    timedOut = true
                    process.terminate()
                    break
                }
                try await Task.sleep(for: .milliseconds(100))
            }
        } catch {
            process.terminate()
            throw error
        }
        // Returns at once unless the tool was just terminated (then within its signal handling).
        while process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
        process.waitUntilExit()
        let text = String(decoding: (try? Data(contentsOf: outputURL)) ?? Data(), as: UTF8.self)
        return Result(status: process.terminationStatus, output: text, timedOut: timedOut)
    }
}

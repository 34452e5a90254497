import ArgumentParser
import FHIRModels
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `medrec export` and `medrec import`: the same bulk jobs as `$export`/`$import`, run by this
/// process directly against the database (embedded or configured), for operators and first
/// loads. The job is created already claimed by this process, so no server takes it over
/// while it runs; it acts as the operator's system identity, audited like any client.
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Export resources as NDJSON files (one consistent snapshot).")
    @Option(help: "Resource types, comma-separated (default: all).") var type: String?
    @Option(help: "Only resources changed at or after this FHIR instant.") var since: String?
    @Option(name: .customLong("type-filter"), help: "A search per type, e.g. \"Observation?code=http://loinc.org|8867-4\"; repeatable.")
    var typeFilter: [String] = []
    @Option(help: "The directory the files are written to (created; must not hold files of the same names).") var out: String
    @OptionGroup var options: GlobalOptions

    func run() async throws {
        var items: [(key: String, value: String)] = []
        if let type { items.append(("_type", type)) }
        if let since { items.append(("_since", since)) }
        for filter in typeFilter { items.append(("_typeFilter", filter)) }
        let parameters: ExportParameters
        do {
            parameters = try BulkController.exportParameters(items, level: .system, lenient: false)
        } catch let error as FHIRHTTPError {
            throw ValidationError(error.issues.first?.diagnostics ?? "invalid export parameters")
        }
        let out = URL(fileURLWithPath: self.out)
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let failed = try await BulkCLI.run(options) { bulk, worker, caller, progress in
            let id = try await bulk.kickOffExport(parameters, request: "medrec export", as: caller, claimedBy: worker.id)
            let job = try require(try await bulk.jobs.job(id))
            progress.total = try await bulk.store.estimateCount(types: parameters.types.isEmpty ? nil : parameters.types)
            let outcome = await worker.runClaimed(job, progress: progress.update)
            guard case .completed = outcome else { return BulkCLI.describe(outcome) }
            let finished = try require(try await bulk.jobs.job(id))
            var counts: [String: Int64] = [:]
            var numbers: [String: Int] = [:]
            for file in try await bulk.files(of: finished) {
                let name = file.kind == "output" ? file.type : (file.kind == "deleted" ? "deleted" : "errors")
                numbers[name, default: 0] += 1
                let path = out.appendingPathComponent("\(name).\(String(format: "%03d", numbers[name]! - 1)).ndjson")
                guard FileManager.default.createFile(atPath: path.path, contents: nil, attributes: [.posixPermissions: 0o600]),
                      let handle = FileHandle(forWritingAtPath: path.path) else {
                    return "cannot write \(path.path)"
                }
                let (_, chunks) = try await bulk.download(id, file: file.fileNo, as: caller, compressed: false)
                for try await chunk in chunks { try handle.write(contentsOf: chunk.readableBytesView) }
                try handle.close()
                counts[name, default: 0] += file.count
            }
            progress.finish(summary: counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            return counts["errors"].map { "\($0) resources could not be exported (see errors.*.ndjson)" }
        }
        if let failed { throw BulkCLI.Failure(message: failed) }
    }
}

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", abstract: "Import NDJSON files (Type.*.ndjson, .gz too) keeping their ids.")
    @Argument(help: "NDJSON files, or directories of them; the type is the file name's first part (Patient.000.ndjson).")
    var paths: [String]
    @OptionGroup var options: GlobalOptions

    func run() async throws {
        var inputs: [ImportParameters.Input] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw ValidationError("\(path) does not exist") }
            let files = isDirectory.boolValue
                ? try FileManager.default.contentsOfDirectory(atPath: path).sorted().filter { $0.hasSuffix(".ndjson") || $0.hasSuffix(".ndjson.gz") }
                    .map { URL(fileURLWithPath: path).appendingPathComponent($0) }
                : [URL(fileURLWithPath: path)]
            for file in files {
                let type = String(file.lastPathComponent.split(separator: ".").first ?? "")
                guard FHIRMetadata.resource(named: type) != nil else { throw ValidationError("\(file.lastPathComponent): the name must start with a resource type") }
                inputs.append(.init(type: type, url: "file://" + file.standardizedFileURL.path))
            }
        }
        guard !inputs.isEmpty else { throw ValidationError("no .ndjson files given") }
        // For the ETA: the lines of the plain files (a quick scan; compressed ones are not counted).
        let plain = inputs.filter { !$0.url.hasSuffix(".gz") }.map { String($0.url.dropFirst("file://".count)) }
        let totalLines = plain.count == inputs.count ? BulkCLI.countLines(plain) : nil
        let parameters = ImportParameters(inputs: inputs)
        let failed = try await BulkCLI.run(options, allowFiles: true) { bulk, worker, caller, progress in
            let id = try await bulk.kickOffImport(parameters, request: "medrec import", as: caller, claimedBy: worker.id, checkLocations: false)
            progress.total = totalLines
            let job = try require(try await bulk.jobs.job(id))
            let outcome = await worker.runClaimed(job, progress: progress.update)
            guard case .completed = outcome else { return BulkCLI.describe(outcome) }
            let finished = try require(try await bulk.jobs.job(id))
            let types = Set(finished.cursor.created.keys).union(finished.cursor.updated.keys).sorted()
            var summary = types.map { "\($0) \(finished.cursor.created[$0] ?? 0) created, \(finished.cursor.updated[$0] ?? 0) updated" }
            summary.append("\(finished.cursor.errors) errors")
            progress.finish(summary: summary.joined(separator: "; "))
            guard finished.cursor.errors > 0 else { return nil }
            // The error lines, each naming its file and line, on stderr.
            for file in try await bulk.files(of: finished) where file.kind == "error" {
                let (_, chunks) = try await bulk.download(id, file: file.fileNo, as: caller, compressed: false)
                for try await chunk in chunks {
                    for line in chunk.readableBytesView.split(separator: 0x0A) {
                        let outcome = try? FHIRJSON.parse(Array(line))
                        BulkCLI.stderr("error: " + (outcome?["issue"]?.arrayValue?.first?["diagnostics"]?.stringValue ?? "unreadable error line"))
                    }
                }
            }
            return "\(finished.cursor.errors) lines were not imported"
        }
        if let failed { throw BulkCLI.Failure(message: failed) }
    }
}

/// What the two commands share: the database, the bulk service, the operator's identity and
/// the progress display.
enum BulkCLI {
    struct Failure: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    static func describe(_ outcome: BulkExporter.Outcome) -> String? {
        switch outcome {
        case .completed: nil
        case .failed(let message): "the job failed: \(message)"
        case .lostClaim: "the job was interrupted"
        }
    }

    /// Newlines in these files, read in 1 MiB blocks.
    static func countLines(_ paths: [String]) -> Int64? {
        var count: Int64 = 0
        for path in paths {
            guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
            defer { try? handle.close() }
            while let data = try? handle.read(upToCount: 1 << 20), !data.isEmpty {
                count += Int64(data.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) })
            }
        }
        return count
    }

    static func stderr(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// The subject prefix of the operator's identity (not a registered client).
    static let operatorPrefix = "medrec-cli:"

    /// The operator: a system identity with every system scope, named in the audit log.
    static func operatorCaller() throws -> Caller {
        let user = ProcessInfo.processInfo.environment["USER"] ?? "operator"
        let principal = Principal(
            subject: "\(operatorPrefix)\(user)", role: .system, fhirUser: nil, scopes: try ScopeSet(parsing: "system/*.cruds"),
            tokenID: "medrec-cli", tokenExpiry: .distantFuture, sessionID: nil)
        return Caller(principal: principal, clientAddress: "local")
    }

    static func run(
        _ options: GlobalOptions, allowFiles: Bool = false,
        _ body: @escaping @Sendable (BulkService, BulkWorker, Caller, Progress) async throws -> String?
    ) async throws -> String? {
        let box = ResultBox()
        try await CLIDatabase.run(options) { database in
            let settings = try await options.settings()
            let security = try await SecurityServices.make(
                settings: settings, client: database.store.client, keyring: database.store.sealer!.keyring, logger: database.logger)
            var bulkSettings = settings.bulk
            // The operator names files on their own machine: any readable path is theirs to import.
            if allowFiles { bulkSettings.importDirectory = "/" }
            let bulk = try BulkService(store: database.store, security: security, settings: bulkSettings)
            let progress = Progress()
            box.value = try await body(bulk, bulk.worker(id: "medrec-cli-\(ProcessInfo.processInfo.processIdentifier)"), try operatorCaller(), progress)
        }
        return box.value
    }

    final class ResultBox: @unchecked Sendable {
        var value: String?
    }

    /// Progress on stderr: a live counter with rate on a terminal, plain lines every few seconds
    /// otherwise (logs, CI).
    final class Progress: @unchecked Sendable {
        let started = Date()
        /// About how many resources the job will handle, for the ETA (nil: unknown).
        var total: Int64?
        let terminal = isatty(2) == 1
        private var lastPrinted = Date.distantPast
        private let lock = NSLock()

        func update(_ done: Int64) {
            lock.lock()
            defer { lock.unlock() }
            let now = Date()
            guard now.timeIntervalSince(lastPrinted) >= (terminal ? 0.2 : 5) else { return }
            lastPrinted = now
            let rate = Double(done) / max(0.001, now.timeIntervalSince(started))
            var line = "\(done) resources, \(Int(rate))/s, \(Int(now.timeIntervalSince(started)))s"
            if let total, total > 0, rate > 0 {
                let percent = min(100, Int(Double(done) * 100 / Double(total)))
                line = "\(done) of about \(total) resources (\(percent)%), \(Int(rate))/s, ETA \(Int(max(0, Double(total - done) / rate)))s"
            }
            if terminal {
                FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
            } else {
                BulkCLI.stderr(line)
            }
        }

        func finish(summary: String) {
            let seconds = Date().timeIntervalSince(started)
            if terminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            BulkCLI.stderr("done in \(String(format: "%.1f", seconds))s: \(summary)")
        }
    }
}

/// `#require` for the command line: a missing value is an internal error, not a crash.
func require<T>(_ value: T?) throws -> T {
    guard let value else { throw BulkCLI.Failure(message: "the job disappeared while it ran") }
    return value
}

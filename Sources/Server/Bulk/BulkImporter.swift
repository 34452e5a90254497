import FHIRModels
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import NIOCore

/// Runs an import job from its cursor to the end. Each batch of lines is parsed, checked
/// against its input's type, validated and written through `RecordWriter.importBatch` (the
/// same validation, sealing, indexing, compartments and audit as any write), and commits in one
/// transaction with the job's cursor and the batch's error lines: a restart resumes after the
/// last committed batch, so nothing is lost or written twice.
struct BulkImporter: Sendable {
    let records: RecordService
    let jobs: BulkJobStore
    let codec: BulkChunkCodec
    let settings: BulkSettings
    let logger: Logger
    let validator = FHIRValidator()

    /// A line that became a resource to write.
    struct Item: Sendable {
        let line: Int64
        let resource: NewResource
    }

    func run(_ job: BulkJob, worker: String, progress: (@Sendable (Int64) -> Void)? = nil) async throws -> BulkExporter.Outcome {
        guard let parameters = job.parameters.import else { return .failed("the job has no import parameters") }
        let caller = try job.owner.caller()
        var cursor = job.cursor
        var done = job.doneCount
        var conditionalCache: [String: String] = [:]
        while cursor.inputIndex < parameters.inputs.count {
            let input = parameters.inputs[cursor.inputIndex]
            var opened = try await openInput(input, job: job)
            var lineNumber: Int64 = 0
            while lineNumber < cursor.lineOffset, try await opened.next() != nil { lineNumber += 1 }
            // Read and parse the next batch while this one is written: the database and this
            // process work at the same time.
            let first = lineNumber
            var next: Task<(Batch, InputLines), Error>? = Task { [opened] in
                var lines = opened
                let batch = try await readBatch(&lines, after: first, type: input.type)
                return (batch, lines)
            }
            defer { next?.cancel() }
            while let pending = next {
                let (batch, rest) = try await pending.value
                next = batch.finished ? nil : Task { [rest] in
                    var lines = rest
                    let following = try await readBatch(&lines, after: batch.lastLine, type: input.type)
                    return (following, lines)
                }
                // Conditional references (`Practitioner?identifier=…`) name resources already
                // stored; inputs are ordered so that directory types come first.
                let resolved = try await resolveReferences(batch.items, caller: caller, cache: &conditionalCache)
                var batchCursor = cursor
                batchCursor.lineOffset = batch.lastLine
                if batch.finished {
                    batchCursor.inputIndex += 1
                    batchCursor.lineOffset = 0
                }
                do {
                    cursor = try await commit(
                        resolved.items, errors: (batch.errors + resolved.errors).sorted { $0.line < $1.line }, input: input, job: job,
                        worker: worker, cursor: batchCursor, caller: caller)
                } catch is LostClaim {
                    return .lostClaim
                }
                let before = done
                done = cursor.created.values.reduce(0, +) + cursor.updated.values.reduce(0, +)
                BulkMetrics.current?.committed(Int(done - before), .import)
                progress?(done)
            }
        }
        return .completed
    }

    /// A batch of lines, parsed.
    struct Batch: Sendable {
        var items: [Item] = []
        var errors: [(line: Int64, message: String)] = []
        /// The number of the batch's last line.
        var lastLine: Int64
        /// The input has no more lines.
        var finished = false
    }

    /// Reads up to `batchSize` lines after line `after` and parses them, in parallel slices.
    func readBatch(_ lines: inout InputLines, after: Int64, type: String) async throws -> Batch {
        var raw: [LineSplitter<AnyBlockSource>.Line] = []
        raw.reserveCapacity(settings.batchSize)
        var batch = Batch(lastLine: after)
        while raw.count < settings.batchSize {
            guard let line = try await lines.next() else {
                batch.finished = true
                break
            }
            raw.append(line)
        }
        batch.lastLine = after + Int64(raw.count)
        let lines = raw
        let parsed = try await ConcurrentSlices.map(count: lines.count) { range in
            lines[range].map { parse($0, type: type) }
        }.flatMap { $0 }
        for (offset, result) in parsed.enumerated() {
            let line = after + Int64(offset) + 1
            switch result {
            case .skip: continue
            case .error(let message): batch.errors.append((line, message))
            case .resource(let id, let resource):
                var item = NewResource(type: type, id: id, resource: resource, method: .put)
                item.validated = true
                batch.items.append(Item(line: line, resource: item))
            }
        }
        return batch
    }

    enum Parsed: Sendable {
        case skip
        case error(String)
        case resource(id: String, JSONValue)
    }

    /// One line: JSON, of the input's type, with a valid (or no) id, valid FHIR. Messages name
    /// what is wrong, never the content.
    func parse(_ line: LineSplitter<AnyBlockSource>.Line, type: String) -> Parsed {
        switch line {
        case .tooLong(let bytes):
            return .error("the line is \(bytes) bytes long; the limit is \(settings.maxLineBytes)")
        case .line(let bytes):
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return .skip }
            let resource: JSONValue
            do {
                resource = try FHIRJSON.parse(bytes)
            } catch {
                return .error("the line is not valid JSON")
            }
            guard let declared = resource["resourceType"]?.stringValue else { return .error("the line has no resourceType") }
            guard declared == type else { return .error("the line holds a \(declared), but the input is declared as \(type)") }
            var object = resource.objectValue ?? JSONObject()
            let id: String
            if let given = resource["id"] {
                guard let text = given.stringValue, FHIRLexical.isID(text) else { return .error("the resource id is not a valid FHIR id") }
                id = text
            } else {
                id = RandomUUID.v4()
                object["id"] = .string(id)
            }
            let issues = validator.validate(.object(object))
            if issues.hasErrors {
                let first = issues.first { $0.severity == .error || $0.severity == .fatal }
                return .error("the resource is not valid FHIR R4" + (first?.expression.map { " at \($0)" } ?? ""))
            }
            return .resource(id: id, .object(object))
        }
    }

    /// Rewrites conditional references to literal ones; an item whose reference matches no
    /// resource or several becomes an error line.
    func resolveReferences(
        _ items: [Item], caller: Caller, cache: inout [String: String]
    ) async throws -> (items: [Item], errors: [(line: Int64, message: String)]) {
        var pending = Set<String>()
        for item in items { Self.collectConditional(item.resource.resource, into: &pending) }
        let unknown = pending.filter { cache[$0] == nil }
        if !unknown.isEmpty {
            let parser = SearchQueryParser(baseURL: "", strict: true, defaultCount: 2, maxCount: 2)
            let found = try await records.inTransaction(caller) { writer in
                var found: [String: String] = [:]
                for reference in unknown {
                    guard let question = reference.firstIndex(of: "?") else { continue }
                    let type = String(reference[..<question])
                    guard let criteria = try? parser.parse(
                        types: [type], items: FHIRRequest.queryItems(reference[reference.index(after: question)...])) else { continue }
                    var query = criteria
                    query.count = 2
                    let matches = try await writer.find(query)
                    if matches.count == 1 { found[reference] = ResourceReference.literal(type: type, id: matches[0].id) }
                }
                return found
            }
            cache.merge(found) { $1 }
        }
        var kept: [Item] = []
        var errors: [(line: Int64, message: String)] = []
        for item in items {
            var references = Set<String>()
            Self.collectConditional(item.resource.resource, into: &references)
            if references.contains(where: { cache[$0] == nil }) {
                errors.append((item.line, "a conditional reference matches no stored resource, or more than one"))
            } else {
                let rewritten = references.isEmpty ? item.resource.resource : item.resource.resource.replacingReferences(cache)
                var resource = NewResource(type: item.resource.type, id: item.resource.id, resource: rewritten, method: .put)
                resource.validated = true
                kept.append(Item(line: item.line, resource: resource))
            }
        }
        return (kept, errors)
    }

    static func collectConditional(_ value: JSONValue, into set: inout Set<String>) {
        switch value {
        case .object(let object):
            for (key, child) in object {
                if key == "reference", let text = child.stringValue {
                    // Most references are literal: only one with a `?` can be conditional.
                    if text.utf8.contains(UInt8(ascii: "?")), ResourceReference(text).isConditional { set.insert(text) }
                } else {
                    collectConditional(child, into: &set)
                }
            }
        case .array(let array):
            for child in array { collectConditional(child, into: &set) }
        default: break
        }
    }

    /// Writes a batch with its error lines and the cursor in one transaction. If the batch is
    /// refused as a whole (one resource the validator let through fails in the store), each item
    /// is written on its own, so one bad line costs only itself. nil: the claim was lost.
    func commit(
        _ items: [Item], errors: [(line: Int64, message: String)], input: ImportParameters.Input, job: BulkJob, worker: String,
        cursor: BulkCursor, caller: Caller
    ) async throws -> BulkCursor {
        do {
            return try await commitOnce(items, errors: errors, input: input, job: job, worker: worker, cursor: cursor, caller: caller)
        } catch let error as RecordWriter.BatchItemError {
            throw error.underlying
        } catch let error as StoreError where (error.code == .invalid || error.code == .badRequest) && items.count > 1 {
            // Find the bad ones one at a time; the good ones go in with the last commit.
            var good: [Item] = []
            var allErrors = errors
            for item in items {
                do {
                    try await records.inTransaction(caller) { writer in
                        _ = try await writer.importBatch([item.resource])
                        throw ProbeRollback()
                    }
                } catch is ProbeRollback {
                    good.append(item)
                } catch let error as StoreError {
                    allErrors.append((item.line, error.message))
                }
            }
            return try await commitOnce(good, errors: allErrors.sorted { $0.line < $1.line }, input: input, job: job, worker: worker, cursor: cursor, caller: caller)
        }
    }

    /// Thrown to roll back a probe write.
    struct ProbeRollback: Error {}

    private func commitOnce(
        _ items: [Item], errors: [(line: Int64, message: String)], input: ImportParameters.Input, job: BulkJob, worker: String,
        cursor: BulkCursor, caller: Caller
    ) async throws -> BulkCursor {
        var next = cursor
        var errorChunk: BulkJobStore.ChunkWrite?
        if !errors.isEmpty {
            if next.errorFileNo == nil {
                next.errorFileNo = next.nextFileNo
                next.nextFileNo += 1
            }
            let fileNo = next.errorFileNo!
            var lines = ByteBuffer()
            for error in errors {
                lines.writeBytes(Self.outcome(input: input, line: error.line, message: error.message))
                lines.writeInteger(UInt8(ascii: "\n"))
            }
            var file = next.openFiles["error"] ?? BulkCursor.OpenFile(fileNo: fileNo, count: 0, chunks: 0)
            errorChunk = BulkJobStore.ChunkWrite(
                fileNo: fileNo, kind: "error", type: "OperationOutcome", chunkNo: file.chunks, count: errors.count,
                bytes: lines.readableBytes, sealed: try codec.seal(lines: lines, job: job.id, file: fileNo, chunk: file.chunks))
            file.chunks += 1
            file.count += errors.count
            next.openFiles["error"] = file
            next.errors += Int64(errors.count)
        }
        let resources = items.map(\.resource)
        let chunks = errorChunk.map { [$0] } ?? []
        let jobs = self.jobs
        let prepared = next
        return try await records.inTransaction(caller) { writer in
            var cursor = prepared
            if !resources.isEmpty {
                let counts = try await writer.importBatch(resources)
                cursor.created.merge(counts.created, uniquingKeysWith: +)
                cursor.updated.merge(counts.updated, uniquingKeysWith: +)
            }
            let done = cursor.created.values.reduce(0, +) + cursor.updated.values.reduce(0, +)
            guard try await jobs.commitBatch(job: job.id, worker: worker, cursor: cursor, done: done, chunks: chunks, on: writer.connection) else {
                throw LostClaim()
            }
            return cursor
        }
    }

    struct LostClaim: Error {}

    /// An error line: an OperationOutcome naming the input and the line, not the content.
    static func outcome(input: ImportParameters.Input, line: Int64, message: String) -> [UInt8] {
        FHIRJSON.serialize(.object([
            "resourceType": "OperationOutcome",
            "issue": .array([.object([
                "severity": "error", "code": "invalid",
                "diagnostics": .string("\(input.url) line \(line): \(message)"),
                "expression": .array([.string("\(input.type)")]),
            ])]),
        ]))
    }

    // MARK: - Inputs

    /// The lines of an input: a posted body (stored with the job), a file under the import
    /// directory, or an allowlisted URL; gzip is inflated as it is read.
    func openInput(_ input: ImportParameters.Input, job: BulkJob) async throws -> InputLines {
        if input.url.hasPrefix("bulk-input:"), let fileNo = Int(input.url.dropFirst("bulk-input:".count)) {
            var blocks: [[UInt8]] = []
            for try await (chunkNo, keyID, data) in try await jobs.chunks(job: job.id, fileNo: fileNo) {
                let lines = try codec.open(Array(data.readableBytesView), keyID: keyID, job: job.id, file: fileNo, chunk: chunkNo)
                blocks.append(Array(lines.readableBytesView))
            }
            return InputLines(LineSplitter(AnyBlockSource(MemoryBlockSource(blocks: blocks)), maxLineBytes: settings.maxLineBytes))
        }
        let path = try await BulkInputLocation.localPath(for: input.url, settings: settings)
        let source = try FileBlockSource(path: path)
        let gzip = Self.isGzip(path: path)
        let any = gzip ? AnyBlockSource(GunzipBlockSource(source)) : AnyBlockSource(source)
        return InputLines(LineSplitter(any, maxLineBytes: settings.maxLineBytes))
    }

    static func isGzip(path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let magic = (try? handle.read(upToCount: 2)) ?? Data()
        return magic.count == 2 && magic[magic.startIndex] == 0x1F && magic[magic.startIndex + 1] == 0x8B
    }
}

/// A type-erased block source.
struct AnyBlockSource: ByteBlockSource {
    private var nextBlock: () async throws -> [UInt8]?

    init<Source: ByteBlockSource>(_ source: Source) {
        let box = SourceBox(source)
        nextBlock = { try await box.next() }
    }

    mutating func next() async throws -> [UInt8]? { try await nextBlock() }

    private final class SourceBox<Source: ByteBlockSource> {
        var source: Source
        init(_ source: Source) { self.source = source }
        func next() async throws -> [UInt8]? { try await source.next() }
    }
}

/// An input's lines. Read by one task at a time (a batch's reader hands it on to the next),
/// hence `@unchecked Sendable`.
struct InputLines: @unchecked Sendable {
    var splitter: LineSplitter<AnyBlockSource>

    init(_ splitter: LineSplitter<AnyBlockSource>) {
        self.splitter = splitter
    }

    mutating func next() async throws -> LineSplitter<AnyBlockSource>.Line? {
        try await splitter.next()
    }
}

/// Where an import may read from: `file://` under the configured import directory, or an
/// `http(s)` URL starting with an allowlisted prefix (downloaded to a private temporary file).
/// Nothing else: no other scheme, no path outside the directory, no other host (no SSRF).
enum BulkInputLocation {
    static func check(_ url: String, settings: BulkSettings) async throws {
        if url.hasPrefix("file://") {
            guard let directory = settings.importDirectory else {
                throw BulkError(.forbiddenInput, "file inputs are not enabled on this server (medrec.bulk.importDirectory)", expression: "input.url")
            }
            let path = URL(fileURLWithPath: String(url.dropFirst("file://".count))).standardizedFileURL.resolvingSymlinksInPath().path
            let root = URL(fileURLWithPath: directory).standardizedFileURL.resolvingSymlinksInPath().path
            guard path.hasPrefix(root.hasSuffix("/") ? root : root + "/") else {
                throw BulkError(.forbiddenInput, "the input file is outside the import directory", expression: "input.url")
            }
            return
        }
        if url.hasPrefix("https://") || url.hasPrefix("http://") {
            guard settings.importURLAllowlist.permits(url), let remote = URL(string: url) else {
                throw BulkError(.forbiddenInput, "the input URL is not on the server's allowlist", expression: "input.url")
            }
            do {
                try await settings.importURLAllowlist.checkDestination(remote)
            } catch {
                throw BulkError(.forbiddenInput, "the input URL is refused: \(error.reason)", expression: "input.url")
            }
            return
        }
        throw BulkError(.forbiddenInput, "an input URL must be file:// under the import directory or an allowlisted http(s) URL", expression: "input.url")
    }

    /// A local file holding the input (checked again: the settings may have changed since kick-off).
    static func localPath(for url: String, settings: BulkSettings) async throws -> String {
        try await check(url, settings: settings)
        if url.hasPrefix("file://") {
            return URL(fileURLWithPath: String(url.dropFirst("file://".count))).standardizedFileURL.resolvingSymlinksInPath().path
        }
        guard let remote = URL(string: url) else { throw BulkError(.forbiddenInput, "the input URL is not valid", expression: "input.url") }
        return try await withCheckedThrowingContinuation { continuation in
            let task = OutboundFetch.session.downloadTask(with: remote) { location, response, error in
                guard let location, error == nil, let http = response as? HTTPURLResponse, (200..<300).contains(http.statusCode) else {
                    continuation.resume(throwing: BulkInputError(message: "the input URL could not be fetched"))
                    return
                }
                let directory = FileManager.default.temporaryDirectory.appendingPathComponent("medrec-import-\(UUID().uuidString)")
                do {
                    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                    let target = directory.appendingPathComponent("input")
                    try FileManager.default.moveItem(at: location, to: target)
                    continuation.resume(returning: target.path)
                } catch {
                    continuation.resume(throwing: BulkInputError(message: "the downloaded input could not be kept"))
                }
            }
            task.resume()
        }
    }
}

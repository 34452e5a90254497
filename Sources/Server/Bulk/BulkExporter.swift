import FHIRModels
import Foundation
import Logging
import NIOCore

/// Runs an export job from its cursor to the end: snapshot batches → NDJSON lines per type →
/// sealed gzip chunks, each batch committed with the cursor (so a restart resumes after the last
/// committed batch, never duplicating a line).
struct BulkExporter: Sendable {
    let store: PostgresResourceStore
    let jobs: BulkJobStore
    let codec: BulkChunkCodec
    let settings: BulkSettings
    let logger: Logger

    enum Outcome: Sendable {
        case completed
        /// The job was cancelled, or another worker took it over.
        case lostClaim
        case failed(String)
    }

    /// `_typeFilter` queries parsed the way a search parses them (strictly: a filter the server
    /// cannot run was refused at kick-off).
    static func parseTypeFilters(_ filters: [String: [String]], sealedContact: SealedContactSearch?) throws -> [String: [SearchQuery]] {
        var parser = SearchQueryParser(baseURL: "", strict: true, maxCount: 1)
        parser.sealedContact = sealedContact
        var parsed: [String: [SearchQuery]] = [:]
        for (type, queries) in filters {
            parsed[type] = try queries.map { text in
                try parser.parse(types: [type], items: FHIRRequest.queryItems(Substring(text)))
            }
        }
        return parsed
    }

    func run(_ job: BulkJob, worker: String, progress: (@Sendable (Int64) -> Void)? = nil) async throws -> Outcome {
        guard let parameters = job.parameters.export, let snapshot = job.snapshot, let maxKey = job.snapshotMaxKey else {
            return .failed("the job has no export parameters")
        }
        var selection = SnapshotSelection(snapshot: snapshot, maxHistoryKey: maxKey)
        selection.types = parameters.types.isEmpty ? nil : parameters.types
        selection.patients = parameters.patients
        selection.since = parameters.since
        selection.typeFilters = try Self.parseTypeFilters(parameters.typeFilters, sealedContact: store.sealedContactSearch)
        if job.totalEstimate == nil {
            try await jobs.setEstimate(job: job.id, total: try await store.estimateCount(types: selection.types))
        }
        var cursor = job.cursor
        var done = job.doneCount
        var outputBytes = try await jobs.files(job: job.id).reduce(Int64(0)) { $0 + $1.bytes }
        let elements = ElementsFilter(parameters.elements)
        // Read the next batch while this one is sealed and committed: the database and this
        // process work at the same time.
        var next: Task<[SnapshotResource], Error>? = Task { [store, selection, cursor, settings] in
            try await store.snapshotBatch(selection, after: cursor.afterKey, limit: settings.batchSize)
        }
        defer { next?.cancel() }
        while let pending = next {
            let rows = try await pending.value
            guard let last = rows.last else { break }
            next = Task { [store, selection, settings] in
                try await store.snapshotBatch(selection, after: last.key, limit: settings.batchSize)
            }
            var groups: [String: (kind: String, type: String, lines: ByteBuffer, count: Int)] = [:]
            func append(_ key: String, kind: String, type: String, line: some Collection<UInt8>) {
                var group = groups[key] ?? (kind, type, ByteBuffer(), 0)
                group.lines.writeBytes(line)
                group.lines.writeInteger(UInt8(ascii: "\n"))
                group.count += 1
                groups[key] = group
            }
            for row in rows {
                if row.deleted {
                    append("deleted", kind: "deleted", type: "Bundle", line: Self.deletionBundle(type: row.type, id: row.id))
                } else if let json = row.json {
                    append("output:\(row.type)", kind: "output", type: row.type, line: try elements.apply(json, type: row.type))
                }
            }
            // Which chunk of which file each group's lines go to (cheap, in order), then the
            // gzip and sealing of the chunks on every core.
            var planned: [(slice: ByteBuffer, kind: String, type: String, fileNo: Int, chunkNo: Int, count: Int)] = []
            for key in groups.keys.sorted() {
                let group = groups[key]!
                var remaining = group.lines
                var linesLeft = group.count
                while linesLeft > 0 {
                    var file = cursor.openFiles[key] ?? BulkCursor.OpenFile(fileNo: 0, count: 0, chunks: 0)
                    if file.fileNo == 0 || file.count >= parameters.maxResourcesPerFile {
                        file = BulkCursor.OpenFile(fileNo: cursor.nextFileNo, count: 0, chunks: 0)
                        cursor.nextFileNo += 1
                    }
                    let take = min(linesLeft, parameters.maxResourcesPerFile - file.count)
                    let slice = take == linesLeft ? remaining : Self.takeLines(take, from: &remaining)
                    planned.append((slice, group.kind, group.type, file.fileNo, file.chunks, take))
                    outputBytes += Int64(slice.readableBytes)
                    file.count += take
                    file.chunks += 1
                    cursor.openFiles[key] = file
                    linesLeft -= take
                }
            }
            let codec = self.codec
            let jobID = job.id
            let chunks = planned
            let writes = try await ConcurrentSlices.map(count: chunks.count, minimumForParallel: 2) { range in
                try chunks[range].map { chunk in
                    BulkJobStore.ChunkWrite(
                        fileNo: chunk.fileNo, kind: chunk.kind, type: chunk.type, chunkNo: chunk.chunkNo, count: chunk.count,
                        bytes: chunk.slice.readableBytes,
                        sealed: try codec.seal(lines: chunk.slice, job: jobID, file: chunk.fileNo, chunk: chunk.chunkNo))
                }
            }.flatMap { $0 }
            if outputBytes > settings.maxOutputBytes {
                return .failed("the export exceeds the server's maximum output size")
            }
            cursor.afterKey = last.key
            done += Int64(rows.count)
            let batchCursor = cursor
            let batchDone = done
            let batchWrites = writes
            let committed = try await jobs.transaction { connection in
                try await jobs.commitBatch(
                    job: job.id, worker: worker, cursor: batchCursor, done: batchDone, chunks: batchWrites, on: connection)
            }
            guard committed else { return .lostClaim }
            BulkMetrics.current?.committed(rows.count, .export)
            progress?(done)
            if rows.count < settings.batchSize {
                next?.cancel()
                next = nil
            }
        }
        return .completed
    }

    /// Splits the first `count` lines off `buffer`.
    static func takeLines(_ count: Int, from buffer: inout ByteBuffer) -> ByteBuffer {
        let view = buffer.readableBytesView
        var seen = 0
        var end = view.startIndex
        for index in view.indices where view[index] == UInt8(ascii: "\n") {
            seen += 1
            if seen == count {
                end = index + 1
                break
            }
        }
        let length = end - view.startIndex
        return buffer.readSlice(length: length) ?? ByteBuffer()
    }

    /// A deletion as the Bulk Data IG writes it: a transaction Bundle with one DELETE entry.
    static func deletionBundle(type: String, id: String) -> [UInt8] {
        FHIRJSON.serialize(.object([
            "resourceType": "Bundle", "type": "transaction",
            "entry": .array([.object(["request": .object(["method": "DELETE", "url": .string("\(type)/\(id)")])])]),
        ]))
    }
}

/// `_elements` applied to exported resources: the listed elements (bare, or `Type.element` for
/// one type) plus the mandatory `resourceType`, `id` and `meta`, marked SUBSETTED as the spec asks.
struct ElementsFilter: Sendable {
    let common: Set<String>
    let perType: [String: Set<String>]

    init(_ elements: [String]) {
        var common = Set<String>()
        var perType: [String: Set<String>] = [:]
        for element in elements {
            let parts = element.split(separator: ".", maxSplits: 1).map(String.init)
            if parts.count == 2 { perType[parts[0], default: []].insert(parts[1]) } else { common.insert(element) }
        }
        self.common = common
        self.perType = perType
    }

    var isEmpty: Bool { common.isEmpty && perType.isEmpty }

    func apply(_ json: [UInt8], type: String) throws -> [UInt8] {
        guard !isEmpty else { return json }
        let keep = common.union(perType[type] ?? [])
        // A type with no element named for it, while others have some, is exported whole.
        if keep.isEmpty { return json }
        guard case .object(let object) = try FHIRJSON.parse(json) else { return json }
        var result = JSONObject()
        for (key, value) in object where key == "resourceType" || key == "id" || key == "meta" || keep.contains(key) {
            result[key] = value
        }
        var meta = result["meta"]?.objectValue ?? JSONObject()
        var tags = meta["tag"]?.arrayValue ?? []
        tags.append(.object([
            "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED",
        ]))
        meta["tag"] = .array(tags)
        result["meta"] = .object(meta)
        return FHIRJSON.serialize(.object(result))
    }
}

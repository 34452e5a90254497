import CompressNIO
import FHIRModels
import Foundation
import Logging
import NIOCore

/// Bulk data for every face (FHIR `$export`/`$import`, the command line): kick-off with access
/// checks, limits and audit; status and manifest; files; cancel. HTTP-free: the faces parse
/// and render. Only the owner of a job sees it: anyone else is told it does not exist.
public struct BulkService: Sendable {
    let records: RecordService
    let store: PostgresResourceStore
    let security: SecurityServices
    let jobs: BulkJobStore
    let codec: BulkChunkCodec
    let settings: BulkSettings

    init(store: PostgresResourceStore, security: SecurityServices, settings: BulkSettings) throws {
        guard let keyring = store.sealer?.keyring else {
            throw EncryptionConfigurationError("bulk data needs the encryption keyring: its files hold PHI and are sealed at rest")
        }
        self.records = RecordService(store: store, security: security)
        self.store = store
        self.security = security
        self.jobs = BulkJobStore(client: store.client, logger: store.logger)
        self.codec = BulkChunkCodec(keyring: keyring)
        self.settings = settings
    }

    /// A worker over the same pieces, for `medrec serve` and the command line.
    func worker(id: String = "medrec-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))") -> BulkWorker {
        BulkWorker(service: self, id: id)
    }

    var exporter: BulkExporter {
        BulkExporter(store: store, jobs: jobs, codec: codec, settings: settings, logger: store.logger)
    }

    var importer: BulkImporter {
        BulkImporter(records: records, jobs: jobs, codec: codec, settings: settings, logger: store.logger)
    }

    // MARK: - Kick-off

    /// Starts an export. The caller must be a system client whose scopes let it read every
    /// exported type, or an admin (whose clinical reads are refused, audited, like any other).
    /// `claimedBy`: the command line runs the job itself, so no server process takes it.
    public func kickOffExport(
        _ parameters: ExportParameters, request: String, as caller: Caller, claimedBy: String? = nil
    ) async throws -> UUID {
        let access = try await records.access(caller)
        var parameters = parameters
        guard access.principal.role == .system || access.principal.role == .admin else {
            try await refuse(access, .exportKickOff, "only system clients and administrators may export in bulk", query: request)
        }
        if parameters.types.isEmpty {
            // No `_type`: every type the scopes allow (all of them for `system/*.read`). An
            // admin's reads are refused by role, whatever the type.
            let allowed = FHIRMetadata.resourceTypeNames.filter { access.access.scopeAllows(.search, on: $0) && $0 != "AuditEvent" }
            let probe = try await access.access.decideRead(type: allowed.first ?? "Patient", patients: [], permission: .search)
            guard !allowed.isEmpty, probe.isAllowed else {
                try await refuse(access, .exportKickOff, "the caller may not read clinical data in bulk", query: request, decision: probe)
            }
            parameters.types = allowed.count == FHIRMetadata.resourceTypeNames.count - 1 ? [] : allowed
        } else {
            for type in parameters.types {
                let decision = try await access.access.decideRead(type: type, patients: [], permission: .search)
                guard decision.isAllowed else {
                    try await refuse(access, .exportKickOff, "the caller may not read \(type) in bulk", query: request, type: type, decision: decision)
                }
            }
        }
        if case .group(let id) = parameters.level {
            let group = try await records.read(type: "Group", id: id, as: caller)
            let members = (try group.resource()?["member"]?.arrayValue ?? []).compactMap {
                $0["entity"]?["reference"]?.stringValue.flatMap { ResourceReference($0).id(ofType: "Patient") }
            }
            parameters.patients = Array(Set(members).union(parameters.patients ?? [])).sorted()
        }
        _ = try BulkExporter.parseTypeFilters(parameters.typeFilters, sealedContact: store.sealedContactSearch)
        parameters.maxResourcesPerFile = settings.resourcesPerFile
        try await checkLimits(access.principal)
        let id = UUID()
        try await jobs.create(
            id: id, kind: .export, owner: BulkOwner(caller: caller), request: request, parameters: BulkParameters(export: parameters),
            takeSnapshot: true, claimedBy: claimedBy)
        try await security.audit.record(access.record(.exportKickOff, entityID: id, query: request))
        return id
    }

    /// Starts an import. Only system clients with create and update scope on every input type.
    /// `body`: NDJSON posted with the kick-off (one type), stored sealed with the job.
    public func kickOffImport(
        _ parameters: ImportParameters, request: String, as caller: Caller, body: (type: String, bytes: ByteBuffer)? = nil,
        claimedBy: String? = nil, checkLocations: Bool = true
    ) async throws -> UUID {
        let access = try await records.access(caller)
        guard access.principal.role == .system else {
            try await refuse(access, .importKickOff, "only system clients may import in bulk", query: request)
        }
        var parameters = parameters
        if let body { parameters.inputs = [ImportParameters.Input(type: body.type, url: "bulk-input:1")] }
        guard !parameters.inputs.isEmpty else { throw BulkError(.invalid, "an import needs at least one input", expression: "input") }
        for input in parameters.inputs {
            guard FHIRMetadata.resource(named: input.type) != nil, input.type != "AuditEvent" else {
                throw BulkError(.invalid, "the input type is not a supported resource type", expression: "input.type")
            }
            guard access.access.mayEverWrite(.create, on: input.type), access.access.scopeAllows(.update, on: input.type) else {
                try await refuse(
                    access, .importKickOff, "the caller may not write \(input.type)", query: request, type: input.type, decision: .deny("scope"))
            }
            if checkLocations, !input.url.hasPrefix("bulk-input:") || body == nil { try await BulkInputLocation.check(input.url, settings: settings) }
        }
        parameters.inputs = Self.dependencyOrder(parameters.inputs)
        try await checkLimits(access.principal)
        let id = UUID()
        let owner = BulkOwner(caller: caller)
        var stored: [(lines: Int, bytes: Int, sealed: BulkChunkCodec.Sealed)] = []
        if let body {
            var rest = body.bytes
            var chunkNo = 0
            while rest.readableBytes > 0 {
                // About 4 MiB per chunk, cut after a newline.
                let view = rest.readableBytesView
                var length = min(view.count, 4 << 20)
                if length < view.count, let newline = view[(view.startIndex + length)...].firstIndex(of: 0x0A) {
                    length = newline - view.startIndex + 1
                } else if length < view.count {
                    length = view.count
                }
                let slice = rest.readSlice(length: length)!
                let lines = slice.readableBytesView.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
                stored.append((lines, slice.readableBytes, try codec.seal(lines: slice, job: id, file: 1, chunk: chunkNo)))
                chunkNo += 1
            }
        }
        let jobs = self.jobs
        let kickOff = parameters
        let inputs = stored
        let bodyType = body?.type
        try await jobs.transaction { connection in
            try await jobs.create(
                id: id, kind: .import, owner: owner, request: request, parameters: BulkParameters(import: kickOff),
                takeSnapshot: false, claimedBy: claimedBy, on: connection)
            if let bodyType { try await jobs.storeInput(job: id, fileNo: 1, type: bodyType, chunks: inputs, on: connection) }
        }
        try await security.audit.record(access.record(.importKickOff, entityID: id, query: request))
        return id
    }

    /// Directory resources first (what the rest reference, conditionally or not), then patients,
    /// then everything else, each group in the order given.
    static func dependencyOrder(_ inputs: [ImportParameters.Input]) -> [ImportParameters.Input] {
        let first = ["Organization", "Location", "Practitioner", "PractitionerRole", "Device", "Medication", "Group", "Patient"]
        return inputs.enumerated().sorted { left, right in
            let l = first.firstIndex(of: left.element.type) ?? first.count
            let r = first.firstIndex(of: right.element.type) ?? first.count
            return l == r ? left.offset < right.offset : l < r
        }.map(\.element)
    }

    private func checkLimits(_ principal: Principal) async throws {
        if try await jobs.kickOffs(by: principal.subject, since: Date().addingTimeInterval(-60)) >= settings.kickOffsPerMinute {
            throw BulkError(.tooMany(retryAfter: 60), "too many bulk kick-offs from this client; try again later")
        }
        if try await jobs.activeCount() >= settings.maxActiveJobs {
            throw BulkError(.tooMany(retryAfter: 30), "the server is running as many bulk jobs as it allows; try again later")
        }
    }

    private func refuse(
        _ access: AuditedAccess, _ interaction: AuditedInteraction, _ message: String, query: String, type: String? = nil,
        decision: AccessDecision = .deny("role")
    ) async throws -> Never {
        try await security.audit.record(access.record(interaction, type: type, decision: decision, query: query))
        throw AccessDenied(.forbidden, message)
    }

    // MARK: - Status, files, cancel

    /// A job as its owner sees it; anyone else is told it does not exist.
    public func job(_ id: UUID, as caller: Caller) async throws -> BulkJob {
        let confirmed = try await security.confirmed(caller)
        guard let job = try await jobs.job(id), job.status != .cancelled, job.owner.owns(confirmed.principal) else {
            throw BulkError(.notFound, "no such bulk job")
        }
        return job
    }

    public struct FileEntry: Sendable {
        public let fileNo: Int
        public let kind: String
        public let type: String
        public let count: Int64
    }

    public func files(of job: BulkJob) async throws -> [FileEntry] {
        try await jobs.files(job: job.id).filter { $0.kind != "input" }.map {
            FileEntry(fileNo: $0.fileNo, kind: $0.kind, type: $0.type, count: $0.count)
        }
    }

    /// The manifest of a completed job (Bulk Data IG v2 export manifest; the import proposal
    /// adds per-type counts as extensions of each output entry).
    public func manifest(_ job: BulkJob, fileURL: (Int) -> String) async throws -> JSONValue {
        let files = try await self.files(of: job)
        func entries(_ kind: String) -> JSONValue {
            .array(files.filter { $0.kind == kind }.map {
                .object(["type": .string($0.type), "url": .string(fileURL($0.fileNo)), "count": .number(String($0.count))])
            })
        }
        var manifest: JSONObject = [
            "transactionTime": .string(StoreTimestamp.string(job.transactionTime ?? job.createdAt)),
            "request": .string(job.request),
            "requiresAccessToken": true,
            "output": entries("output"),
            "error": entries("error"),
        ]
        if job.kind == .export {
            manifest["deleted"] = entries("deleted")
        } else {
            let types = Set(job.cursor.created.keys).union(job.cursor.updated.keys).sorted()
            manifest["output"] = .array(types.map { type in
                .object([
                    "type": .string(type), "inputUrl": .string(job.parameters.import?.inputs.first { $0.type == type }?.url ?? ""),
                    "count": .number(String((job.cursor.created[type] ?? 0) + (job.cursor.updated[type] ?? 0))),
                    "created": .number(String(job.cursor.created[type] ?? 0)),
                    "updated": .number(String(job.cursor.updated[type] ?? 0)),
                ])
            })
        }
        return .object(manifest)
    }

    /// A file's chunks for its owner, audited as a download: `compressed` streams the lines as
    /// one gzip member (for a client that accepts gzip), otherwise the NDJSON lines.
    public func download(
        _ id: UUID, file fileNo: Int, as caller: Caller, compressed: Bool
    ) async throws -> (entry: FileEntry, chunks: AsyncThrowingStream<ByteBuffer, Error>) {
        let job = try await self.job(id, as: caller)
        guard job.status == .completed || job.status == .failed,
              let entry = try await files(of: job).first(where: { $0.fileNo == fileNo }) else {
            throw BulkError(.notFound, "no such file")
        }
        let access = AuditedAccess(try await security.confirmed(caller), security: security)
        try await security.audit.record(access.record(.exportDownload, type: entry.type, entityID: id, query: "file=\(fileNo)"))
        let rows = try await jobs.chunks(job: id, fileNo: fileNo)
        let codec = self.codec
        let stream = AsyncThrowingStream<ByteBuffer, Error> { continuation in
            let task = Task {
                do {
                    // Compressed, the file is ONE gzip member, deflated as it streams. The stored
                    // chunks are gzip members of their own, but a body of several members (valid
                    // RFC 1952) is inflated only up to the end of the first by common clients
                    // (Python httpx, so smart-fetch; libcurl 7.x), which then drop the rest
                    // without an error: 1000 of 1215 Encounters.
                    let gzip = compressed ? BulkChunkCodec.fastGzip.compressor : nil
                    try gzip?.startStream()
                    for try await (chunkNo, keyID, data) in rows {
                        var lines = try codec.open(Array(data.readableBytesView), keyID: keyID, job: id, file: fileNo, chunk: chunkNo)
                        if let gzip {
                            guard lines.readableBytes > 0 else { continue }  // a sync flush of nothing is a zlib error
                            continuation.yield(try lines.compressStream(with: gzip, flush: .sync))
                        } else {
                            continuation.yield(lines)
                        }
                    }
                    if let gzip {
                        var end = ByteBuffer()
                        continuation.yield(try end.compressStream(with: gzip, flush: .finish))
                        try gzip.finishStream()
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
        return (entry, stream)
    }

    /// Cancels a job and deletes its files (the owner only); afterwards it does not exist.
    public func cancel(_ id: UUID, as caller: Caller) async throws {
        let job = try await self.job(id, as: caller)
        guard try await jobs.cancel(job: job.id) else { throw BulkError(.notFound, "no such bulk job") }
        let access = AuditedAccess(try await security.confirmed(caller), security: security)
        try await security.audit.record(access.record(.bulkCancel, entityID: id, query: job.request))
    }
}

extension AuditedAccess {
    /// A bulk job's record: the job id as the entity, the request as the query.
    func record(_ interaction: AuditedInteraction, type: String? = nil, entityID: UUID, query: String) -> AuditRecord {
        record(interaction, type: type ?? "Bundle", id: entityID.uuidString.lowercased(), query: String(query.prefix(2048)))
    }
}

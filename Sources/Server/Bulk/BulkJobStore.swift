import Foundation
import Logging
import NIOCore
import PostgresNIO

/// The SQL of the bulk tables (`bulk_job`, `bulk_file`, `bulk_chunk`, migration 0005): jobs,
/// their claim and heartbeat, their files and chunks. Resource reads and writes stay in `Store/`.
struct BulkJobStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        // Dates as seconds since 1970 (the default): `.iso8601` would drop the milliseconds of `_since`.
        encoder.outputFormatting = .sortedKeys
        return encoder
    }()

    static let decoder = JSONDecoder()

    static func json<T: Encodable>(_ value: T) -> String {
        String(decoding: (try? encoder.encode(value)) ?? Data("{}".utf8), as: UTF8.self)
    }

    // MARK: - Jobs

    /// Inserts a queued job. An export's snapshot is taken in the same statement, so its
    /// transactionTime is the instant the job came to exist.
    func create(
        id: UUID, kind: BulkJob.Kind, owner: BulkOwner, request: String, parameters: BulkParameters,
        takeSnapshot: Bool, claimedBy: String? = nil, on connection: PostgresConnection? = nil
    ) async throws {
        let parametersJSON = Self.json(parameters)
        let role = owner.role.rawValue
        let query: PostgresQuery = """
            INSERT INTO bulk_job (id, kind, status, owner_subject, owner_role, owner_scopes, owner_fhir_user, client_address,
                request, parameters, transaction_time, snapshot, snapshot_max_key, worker, heartbeat_at, attempts)
            SELECT \(id), \(kind.rawValue), CASE WHEN \(claimedBy)::text IS NULL THEN 'queued' ELSE 'running' END, \(owner.subject), \(role), \(owner.scopes), \(owner.fhirUser),
                \(owner.clientAddress), \(request), \(parametersJSON)::jsonb,
                CASE WHEN \(takeSnapshot) THEN clock_timestamp() END,
                CASE WHEN \(takeSnapshot) THEN pg_current_snapshot()::text END,
                CASE WHEN \(takeSnapshot) THEN (SELECT coalesce(max(history_key), 0) FROM resource_history) END,
                \(claimedBy)::text, CASE WHEN \(claimedBy)::text IS NULL THEN NULL ELSE clock_timestamp() END,
                CASE WHEN \(claimedBy)::text IS NULL THEN 0 ELSE 1 END
            """
        if let connection {
            try await connection.rows(query, logger: logger)
        } else {
            try await client.rows(query, logger: logger)
        }
    }

    /// Jobs queued or running, server-wide (the concurrency limit).
    func activeCount() async throws -> Int {
        let rows = try await client.rows("SELECT count(*) FROM bulk_job WHERE status IN ('queued', 'running')", logger: logger)
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }

    /// Jobs by status, server-wide (the admins' status page).
    func countsByStatus() async throws -> [BulkJob.Status: Int] {
        let rows = try await client.rows("SELECT status, count(*) FROM bulk_job GROUP BY status", logger: logger)
        var counts: [BulkJob.Status: Int] = [:]
        for try await (status, count) in rows.decode((String, Int64).self) {
            if let status = BulkJob.Status(rawValue: status) { counts[status] = Int(count) }
        }
        return counts
    }

    /// Kick-offs by one owner since an instant (the rate limit).
    func kickOffs(by subject: String, since: Date) async throws -> Int {
        let rows = try await client.rows(
            "SELECT count(*) FROM bulk_job WHERE owner_subject = \(subject) AND created_at >= \(since)", logger: logger)
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }

    static let jobColumns = """
        id, kind, status, owner_subject, owner_role, owner_scopes, owner_fhir_user, client_address, request, parameters::text,
        created_at, transaction_time, snapshot, snapshot_max_key, cursor::text, done_count, total_estimate, error, completed_at
        """

    func job(_ id: UUID) async throws -> BulkJob? {
        let rows = try await client.rows(
            PostgresQuery(unsafeSQL: "SELECT \(Self.jobColumns) FROM bulk_job WHERE id = $1", binds: bindings(id)), logger: logger)
        for try await row in rows { return try Self.decodeJob(row) }
        return nil
    }

    private func bindings(_ id: UUID) -> PostgresBindings {
        var bindings = PostgresBindings()
        bindings.append(id)
        return bindings
    }

    static func decodeJob(_ row: PostgresRow) throws -> BulkJob {
        let cells = row.makeRandomAccess()
        func cell<T: PostgresDecodable>(_ index: Int, _ type: T.Type) throws -> T {
            try cells[index].decode(T.self, context: .default)
        }
        let parameters = try decoder.decode(BulkParameters.self, from: Data(try cell(9, String.self).utf8))
        let cursor = try decoder.decode(BulkCursor.self, from: Data(try cell(14, String.self).utf8))
        let owner = BulkOwner(
            subject: try cell(3, String.self), role: Principal.Role(rawValue: try cell(4, String.self)) ?? .system,
            scopes: try cell(5, String.self), fhirUser: try cell(6, String?.self), clientAddress: try cell(7, String?.self))
        return BulkJob(
            id: try cell(0, UUID.self), kind: BulkJob.Kind(rawValue: try cell(1, String.self)) ?? .export,
            status: BulkJob.Status(rawValue: try cell(2, String.self)) ?? .failed, owner: owner, request: try cell(8, String.self),
            parameters: parameters, createdAt: try cell(10, Date.self), transactionTime: try cell(11, Date?.self),
            snapshot: try cell(12, String?.self), snapshotMaxKey: try cell(13, Int64?.self), cursor: cursor,
            doneCount: try cell(15, Int64.self), totalEstimate: try cell(16, Int64?.self), error: try cell(17, String?.self),
            completedAt: try cell(18, Date?.self))
    }

    /// Claims the oldest job that is queued, or running with a heartbeat older than `staleAfter`
    /// (its process died), for `worker`. `FOR UPDATE SKIP LOCKED`: two processes never claim
    /// the same job, and neither waits for the other.
    func claim(worker: String, staleAfter: TimeInterval, kind: BulkJob.Kind? = nil, id: UUID? = nil) async throws -> BulkJob? {
        let stale = "\(Int(staleAfter * 1000)) milliseconds"
        let kindText = kind?.rawValue
        let rows = try await client.rows(
            PostgresQuery(
                unsafeSQL: """
                    UPDATE bulk_job SET status = 'running', worker = $1, heartbeat_at = clock_timestamp(), attempts = attempts + 1
                    WHERE id = (
                        SELECT id FROM bulk_job
                        WHERE (status = 'queued' OR (status = 'running' AND heartbeat_at < clock_timestamp() - $2::interval))
                            AND ($3::text IS NULL OR kind = $3) AND ($4::uuid IS NULL OR id = $4)
                        ORDER BY created_at FOR UPDATE SKIP LOCKED LIMIT 1)
                    RETURNING \(Self.jobColumns)
                    """,
                binds: {
                    var bindings = PostgresBindings()
                    bindings.append(worker)
                    bindings.append(stale)
                    bindings.append(kindText)
                    bindings.append(id)
                    return bindings
                }()),
            logger: logger)
        for try await row in rows { return try Self.decodeJob(row) }
        return nil
    }

    /// One chunk of a file, sealed, to store with a batch.
    struct ChunkWrite: Sendable {
        var fileNo: Int
        var kind: String
        var type: String
        var chunkNo: Int
        var count: Int
        var bytes: Int
        var sealed: BulkChunkCodec.Sealed
    }

    /// Commits a batch's chunks and the job's new cursor in one transaction, if the job is
    /// still this worker's and still running (a cancel or a second claim makes it false).
    func commitBatch(
        job: UUID, worker: String, cursor: BulkCursor, done: Int64, chunks: [ChunkWrite], on connection: PostgresConnection
    ) async throws -> Bool {
        let cursorJSON = Self.json(cursor)
        let rows = try await connection.rows(
            """
            UPDATE bulk_job SET cursor = \(cursorJSON)::jsonb, done_count = \(done), heartbeat_at = clock_timestamp()
            WHERE id = \(job) AND worker = \(worker) AND status = 'running' RETURNING id
            """, logger: logger)
        var owned = false
        for try await _ in rows.decode(UUID.self) { owned = true }
        guard owned else { return false }
        guard !chunks.isEmpty else { return true }
        try await connection.rows(
            """
            INSERT INTO bulk_file (job_id, file_no, kind, type, count, byte_count)
            SELECT \(job), f, k, t, c, b
            FROM unnest(\(chunks.map { $0.fileNo })::int[], \(chunks.map(\.kind))::text[], \(chunks.map(\.type))::text[],
                \(chunks.map { Int64($0.count) })::bigint[], \(chunks.map { Int64($0.bytes) })::bigint[]) AS u(f, k, t, c, b)
            ON CONFLICT (job_id, file_no) DO UPDATE SET count = bulk_file.count + excluded.count,
                byte_count = bulk_file.byte_count + excluded.byte_count
            """, logger: logger)
        try await connection.rows(
            """
            INSERT INTO bulk_chunk (job_id, file_no, chunk_no, key_id, data)
            SELECT \(job), f, c, k, decode(d, 'base64')
            FROM unnest(\(chunks.map { $0.fileNo })::int[], \(chunks.map { $0.chunkNo })::int[], \(chunks.map(\.sealed.keyID))::text[],
                \(chunks.map { Data($0.sealed.data).base64EncodedString() })::text[]) AS u(f, c, k, d)
            """, logger: logger)
        return true
    }

    /// Runs `body` in a transaction of its own (the export's batches).
    func transaction<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await client.inTransaction(logger: logger) { connection in try await body(connection) }
    }

    /// Ends a job: completed (files kept until `expiresAt`) or failed.
    func finish(job: UUID, worker: String, status: BulkJob.Status, error: String?, expiresAt: Date) async throws -> Bool {
        let rows = try await client.rows(
            """
            UPDATE bulk_job SET status = \(status.rawValue), error = \(error), completed_at = clock_timestamp(),
                expires_at = \(expiresAt), heartbeat_at = clock_timestamp()
            WHERE id = \(job) AND worker = \(worker) AND status = 'running' RETURNING id
            """, logger: logger)
        for try await _ in rows.decode(UUID.self) { return true }
        return false
    }

    func setEstimate(job: UUID, total: Int64) async throws {
        try await client.rows("UPDATE bulk_job SET total_estimate = \(total) WHERE id = \(job)", logger: logger)
    }

    /// Keeps a claim alive while a long batch runs.
    func heartbeat(job: UUID, worker: String) async throws {
        try await client.rows(
            "UPDATE bulk_job SET heartbeat_at = clock_timestamp() WHERE id = \(job) AND worker = \(worker) AND status = 'running'",
            logger: logger)
    }

    /// Cancels a job and deletes its files; the row stays (status `cancelled`) so that a worker
    /// mid-batch sees it, and is swept later.
    func cancel(job: UUID) async throws -> Bool {
        try await transaction { connection in
            let rows = try await connection.rows(
                """
                UPDATE bulk_job SET status = 'cancelled', completed_at = clock_timestamp(), expires_at = clock_timestamp()
                WHERE id = \(job) AND status IN ('queued', 'running', 'completed', 'failed') RETURNING id
                """, logger: logger)
            var found = false
            for try await _ in rows.decode(UUID.self) { found = true }
            if found { try await connection.rows("DELETE FROM bulk_file WHERE job_id = \(job)", logger: logger) }
            return found
        }
    }

    /// Deletes jobs (and so their files) past their expiry; returns how many.
    func sweepExpired() async throws -> Int {
        let rows = try await client.rows(
            "DELETE FROM bulk_job WHERE expires_at < clock_timestamp() RETURNING id", logger: logger)
        var count = 0
        for try await _ in rows.decode(UUID.self) { count += 1 }
        return count
    }

    // MARK: - Files

    struct FileRow: Sendable {
        let fileNo: Int
        let kind: String
        let type: String
        let count: Int64
        let bytes: Int64
    }

    func files(job: UUID) async throws -> [FileRow] {
        let rows = try await client.rows(
            "SELECT file_no, kind, type, count, byte_count FROM bulk_file WHERE job_id = \(job) ORDER BY file_no", logger: logger)
        var files: [FileRow] = []
        for try await (fileNo, kind, type, count, bytes) in rows.decode((Int, String, String, Int64, Int64).self) {
            files.append(FileRow(fileNo: fileNo, kind: kind, type: type, count: count, bytes: bytes))
        }
        return files
    }

    /// A file's chunks in order, read as the consumer asks for them: one query per chunk, so
    /// memory stays at about one chunk whatever the file's size, and each query holds its pooled
    /// connection only while it runs (a row stream held open across the download would keep one
    /// leased for as long as the client reads, and postgres-nio's streamed queries can leak their
    /// lease on an early error: `PostgresClient+Leased.swift`).
    func chunks(job: UUID, fileNo: Int) -> ChunkSequence {
        ChunkSequence(client: client, logger: logger, job: job, fileNo: fileNo)
    }

    struct ChunkSequence: AsyncSequence, Sendable {
        typealias Element = (Int, String, ByteBuffer)
        let client: PostgresClient
        let logger: Logger
        let job: UUID
        let fileNo: Int

        struct AsyncIterator: AsyncIteratorProtocol {
            let sequence: ChunkSequence
            var last = -1
            var done = false

            mutating func next() async throws -> Element? {
                guard !done else { return nil }
                let rows = try await sequence.client.rows(
                    """
                    SELECT chunk_no, key_id, data FROM bulk_chunk
                    WHERE job_id = \(sequence.job) AND file_no = \(sequence.fileNo) AND chunk_no > \(last)
                    ORDER BY chunk_no LIMIT 1
                    """,
                    logger: sequence.logger)
                guard let row = rows.elements.first else {
                    done = true
                    return nil
                }
                let chunk = try row.decode((Int, String, ByteBuffer).self)
                last = chunk.0
                return chunk
            }
        }

        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(sequence: self) }
    }

    /// Stores a posted NDJSON body as the job's input file (sealed chunks, like any file), in
    /// the kick-off's transaction.
    func storeInput(job: UUID, fileNo: Int, type: String, chunks: [(lines: Int, bytes: Int, sealed: BulkChunkCodec.Sealed)], on connection: PostgresConnection) async throws {
        let total = chunks.reduce(0) { $0 + $1.lines }
        let bytes = chunks.reduce(0) { $0 + $1.bytes }
        try await connection.rows(
            """
            INSERT INTO bulk_file (job_id, file_no, kind, type, count, byte_count)
            VALUES (\(job), \(fileNo), 'input', \(type), \(Int64(total)), \(Int64(bytes)))
            """, logger: logger)
        guard !chunks.isEmpty else { return }
        try await connection.rows(
            """
            INSERT INTO bulk_chunk (job_id, file_no, chunk_no, key_id, data)
            SELECT \(job), \(fileNo), c, k, decode(d, 'base64')
            FROM unnest(\(Array(0..<chunks.count))::int[], \(chunks.map(\.sealed.keyID))::text[],
                \(chunks.map { Data($0.sealed.data).base64EncodedString() })::text[]) AS u(c, k, d)
            """, logger: logger)
    }
}

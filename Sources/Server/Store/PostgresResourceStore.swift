import FHIRModels
import Foundation
import Logging
import PostgresNIO

/// `ResourceStore` over PostgreSQL: current rows in `resource`, every version in
/// `resource_history`, search index rows (`SearchIndexRows`), all written in one transaction.
public struct PostgresResourceStore: ResourceStore {
    let client: PostgresClient
    let logger: Logger
    let availability: DatabaseAvailability?
    /// Seals the policy's elements before they reach the database; `nil` stores resources whole.
    let sealer: FieldSealer?
    /// Exact-match hashes for sealed email and phone; present whenever sealing is.
    let blindIndex: BlindIndex?
    let validator = FHIRValidator()
    /// The standby for staleness-tolerant reads (`MEDREC_DATABASE_READ_URL`); nil: all on `client`.
    let replica: ReadReplica?

    public init(
        client: PostgresClient, logger: Logger, availability: DatabaseAvailability? = nil, sealer: FieldSealer? = nil,
        replica: ReadReplica? = nil
    ) {
        self.client = client
        self.logger = logger
        self.availability = availability
        self.replica = replica
        self.sealer = sealer
        self.blindIndex = sealer.map { BlindIndex(keyring: $0.keyring) }
    }

    public func read(
        type: String, id: String, caredForBy practitionerID: String?, check: TokenCheck?
    ) async throws -> StoredResource {
        let rows = try await run {
            try await client.rows(
                ReadCurrentStatement(type: type, id: id, practitionerID: practitionerID, check: check), logger: logger)
        }
        for try await (epoch, role, fhirUser, sessionExpiry, version, lastUpdated, deleted, content, sealed, keyID, caredFor, compartment)
            in rows {
            // The token's check comes first: nothing about the resource reaches a dead token.
            var confirmation: TokenConfirmation?
            if let check {
                confirmation = check.verdict(epoch: epoch, role: role, fhirUser: fhirUser, sessionExpiry: sessionExpiry)
                if confirmation == nil { throw TokenRejected() }
            }
            guard let version, let lastUpdated, let deleted else { break }
            if deleted { throw StoreError(.gone(version: version), "\(type)/\(id) was deleted") }
            var stored = StoredResource(
                type: type, id: id, versionID: version, lastUpdated: lastUpdated, deleted: false,
                json: try materialize(type: type, id: id, version: version, content: content, sealed: sealed, keyID: keyID),
                method: nil)
            stored.caredForPatients = caredFor.map(Set.init)
            stored.compartmentPatients = compartment.map(Set.init)
            stored.tokenConfirmation = confirmation
            return stored
        }
        throw StoreError(.notFound, "\(type)/\(id) is not known")
    }

    public func vread(type: String, id: String, version: Int) async throws -> StoredResource {
        let rows = try await run {
            try await client.rows(
                """
                SELECT last_updated, deleted, method, content::text, sealed, key_id FROM resource_history
                WHERE type = \(type) AND id = \(id) AND version_id = \(version)
                """, logger: logger)
        }
        for try await (lastUpdated, deleted, method, content, sealed, keyID)
            in rows.decode((Date, Bool, String, String?, ByteBuffer?, String?).self) {
            if deleted { throw StoreError(.gone(version: version), "\(type)/\(id) version \(version) is a deletion") }
            return StoredResource(
                type: type, id: id, versionID: version, lastUpdated: lastUpdated, deleted: false,
                json: try materialize(type: type, id: id, version: version, content: content, sealed: sealed, keyID: keyID),
                method: WriteMethod(rawValue: method))
        }
        throw StoreError(.notFound, "\(type)/\(id) has no version \(version)")
    }

    public func history(_ query: HistoryQuery) async throws -> HistoryPage {
        let limit = query.count + 1
        let before = query.before ?? Int64.max
        let since = query.since ?? Date(timeIntervalSince1970: 0)
        let rows: FetchedRows<PostgresRow> = try await run { try await tolerant { client in
            switch query.scope {
            case .system:
                return try await client.rows(
                    """
                    SELECT history_key, type, id, version_id, last_updated, deleted, method, content::text,
                        sealed, key_id
                    FROM resource_history WHERE history_key < \(before) AND last_updated >= \(since)
                    ORDER BY history_key DESC LIMIT \(limit)
                    """, logger: logger)
            case .type(let type):
                return try await client.rows(
                    """
                    SELECT history_key, type, id, version_id, last_updated, deleted, method, content::text,
                        sealed, key_id
                    FROM resource_history WHERE type = \(type) AND history_key < \(before) AND last_updated >= \(since)
                    ORDER BY history_key DESC LIMIT \(limit)
                    """, logger: logger)
            case .instance(let type, let id):
                return try await client.rows(
                    """
                    SELECT history_key, type, id, version_id, last_updated, deleted, method, content::text,
                        sealed, key_id
                    FROM resource_history WHERE type = \(type) AND id = \(id) AND history_key < \(before)
                    AND last_updated >= \(since)
                    ORDER BY history_key DESC LIMIT \(limit)
                    """, logger: logger)
            }
        } }
        var entries: [StoredResource] = []
        var keys: [Int64] = []
        for try await (key, type, id, version, lastUpdated, deleted, method, content, sealed, keyID)
            in rows.decode((Int64, String, String, Int, Date, Bool, String, String?, ByteBuffer?, String?).self) {
            keys.append(key)
            entries.append(StoredResource(
                type: type, id: id, versionID: version, lastUpdated: lastUpdated, deleted: deleted,
                json: try materialize(type: type, id: id, version: version, content: content, sealed: sealed, keyID: keyID),
                method: WriteMethod(rawValue: method)))
        }
        if entries.count > query.count {
            entries.removeLast()
            return HistoryPage(entries: entries, nextBefore: keys[query.count - 1])
        }
        return HistoryPage(entries: entries, nextBefore: nil)
    }

    public func create(_ items: [NewResource], context: WriteContext) async throws -> [StoredResource] {
        try await run {
            guard replica != nil, let writer = context.writer else { return try await insertNew(items, on: .client(client), context: context) }
            // With a read replica the caller's count commits with the write (read-your-writes).
            return try await client.inTransaction(logger: logger) { connection in
                let stored = try await insertNew(items, on: .connection(connection), context: context)
                try await connection.rows(ReadReplica.bump(writer), logger: logger)
                return stored
            }
        }
    }

    /// Inserts new resources with their history and token rows in one statement, so a plain
    /// create needs no BEGIN/COMMIT round trips and a whole Synthea bundle's creates are a single
    /// statement inside its transaction.
    func insertNew(_ items: [NewResource], on executor: Executor, context: WriteContext) async throws -> [StoredResource] {
        guard !items.isEmpty else { return [] }
        let now = StoreTimestamp.now()
        var statement = InsertNewStatement(lastUpdated: now)
        statement.audit = AuditRows(context.audit)
        statement.types.reserveCapacity(items.count)
        statement.ids.reserveCapacity(items.count)
        statement.contents.reserveCapacity(items.count)
        // Validating, sealing and indexing are pure CPU work per resource: large batches (bulk
        // imports, big transaction Bundles) do them on every core, in slices, then assemble.
        let rows = try await preparedRows(items, lastUpdated: now, author: context.authorPractitionerID)
        var stored: [StoredResource] = []
        stored.reserveCapacity(items.count)
        for row in rows {
            let item = row.item
            statement.types.append(item.type)
            statement.ids.append(item.id)
            statement.methods.append(item.method.rawValue)
            statement.contents.append(row.sealed.content)
            statement.sealed.append(row.sealed.sealedBase64)
            statement.keyIDs.append(row.sealed.keyID)
            for entry in row.blind {
                statement.blindOrdinals.append(Int64(row.ordinal))
                statement.blindParams.append(entry.param)
                statement.blindHashes.append(Data(entry.hash).base64EncodedString())
            }
            for patient in row.access.patientIDs {
                statement.patientOrdinals.append(Int64(row.ordinal))
                statement.patientIDs.append(patient)
            }
            for relationship in row.access.careRelationships {
                statement.careOrdinals.append(Int64(row.ordinal))
                statement.carePractitioners.append(relationship.practitionerID)
                statement.carePatients.append(relationship.patientID)
                statement.careKinds.append(relationship.kind.rawValue)
            }
            stored.append(StoredResource(
                type: item.type, id: item.id, versionID: 1, lastUpdated: now, deleted: false, json: row.json, method: item.method))
        }
        for slice in rows.indexSlices { statement.index.append(contentsOf: slice) }
        // A duplicate id fails the statement (unique violation → 412 at the edge); nothing is half-written.
        // The rows are read to the end: an error raised while executing arrives with them.
        switch executor {
        case .client(let client):
            _ = try await client.rows(statement, logger: logger)
        case .connection(let connection):
            try await connection.rows(statement, logger: logger)
        }
        return stored
    }

    /// One new resource, ready for `InsertNewStatement`.
    struct PreparedRow: Sendable {
        let item: NewResource
        let ordinal: Int
        let json: [UInt8]
        let sealed: RowContent
        let blind: [BlindIndex.Entry]
        let access: AccessIndex
    }

    /// Validates, stamps, seals and indexes `items` (ordinals 1…n): one slice per core for
    /// batches of 64 or more, in order. The search index rows come back per slice.
    func preparedRows(_ items: [NewResource], lastUpdated: Date, author: String?) async throws -> PreparedRows {
        let parts = try await ConcurrentSlices.map(count: items.count) { range in
            try prepareSlice(items[range], offset: range.lowerBound, lastUpdated: lastUpdated, author: author)
        }
        return PreparedRows(rows: parts.flatMap(\.rows), indexSlices: parts.flatMap(\.indexSlices))
    }

    struct PreparedRows: Sendable, Sequence {
        var rows: [PreparedRow]
        var indexSlices: [SearchIndexRows]
        func makeIterator() -> IndexingIterator<[PreparedRow]> { rows.makeIterator() }
    }

    private func prepareSlice(_ items: ArraySlice<NewResource>, offset: Int, lastUpdated now: Date, author: String?) throws -> PreparedRows {
        var rows: [PreparedRow] = []
        rows.reserveCapacity(items.count)
        var index = SearchIndexRows()
        for (position, item) in items.enumerated() {
            let ordinal = offset + position + 1
            let prepared = try prepare(
                type: item.type, id: item.id, version: 1, lastUpdated: now, resource: item.resource, validate: !item.validated)
            let sealed = try seal(prepared, type: item.type, id: item.id, version: 1)
            // Index what is stored in the clear only, so the token table never mirrors a sealed value.
            index.append(type: item.type, resource: sealed.plain, ordinal: ordinal)
            rows.append(PreparedRow(
                item: item, ordinal: ordinal, json: FHIRJSON.serialize(prepared), sealed: sealed,
                blind: blindEntries(type: item.type, resource: prepared),
                access: AccessIndex(type: item.type, id: item.id, resource: prepared, author: author)))
        }
        return PreparedRows(rows: rows, indexSlices: [index])
    }

    public func transaction<Result: Sendable>(
        author: String?, writer: WriterKey?, _ body: @Sendable (any ResourceTransaction) async throws -> Result
    ) async throws -> Result {
        let bump = replica == nil ? nil : writer
        return try await run {
            try await client.inTransaction(logger: logger) { connection in
                let result = try await body(PostgresResourceTransaction(connection: connection, store: self, author: author))
                // With a read replica the caller's count commits with the writes (read-your-writes).
                if let bump { try await connection.rows(ReadReplica.bump(bump), logger: logger) }
                return result
            }
        }
    }

    public func routingReads<Result: Sendable>(for writer: WriterKey?, _ body: () async throws -> Result) async throws -> Result {
        guard let replica else { return try await body() }
        let route = await replica.route(for: writer, primary: client)
        return try await ReadReplica.$route.withValue(route) { try await body() }
    }

    /// The pool of a staleness-tolerant read: the replica when this task's route says so (a
    /// replica failure reruns `body` on the primary), else the primary.
    func tolerant<T>(_ body: (PostgresClient) async throws -> T) async throws -> T {
        // A request's later reads skip a replica that failed meanwhile: one wait per outage, not one per read.
        guard ReadReplica.route == .replica, let replica, !replica.isCoolingDown else { return try await body(client) }
        return try await replica.run(primary: client, body)
    }

    /// Maps database failures to store errors the HTTP edge understands, and keeps
    /// outages from hanging requests.
    func run<T>(_ operation: () async throws -> T) async throws -> T {
        if availability?.isDown == true {
            throw StoreError(.unavailable, "the database is unavailable")
        }
        do {
            return try await operation()
        } catch let error as PSQLError {
            throw Self.storeError(from: error, logger: logger)
        } catch where !(error is StoreError) && availability?.isDown == true {
            // The pool's own errors (it gave up connecting) while the database is known to be down.
            throw StoreError(.unavailable, "the database is unavailable")
        }
    }

    static func storeError(from error: PSQLError, logger: Logger) -> Error {
        switch error.code {
        case .server:
            let state = error.serverInfo?[.sqlState] ?? ""
            if state == "57014" { return StoreError(.timeout, "the database statement timed out") }
            if state == "23505" { return StoreError(.versionConflict(current: nil), "a concurrent write changed this resource") }
            if state == "40001" || state == "40P01" {
                return StoreError(.versionConflict(current: nil), "a concurrent transaction conflicted with this one")
            }
            if state.hasPrefix("08") || state.hasPrefix("57") || state.hasPrefix("53") {
                return StoreError(.unavailable, "the database is unavailable")
            }
            logger.error("database error", metadata: ["sqlState": "\(state)"])
            return error
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .poolClosed, .uncleanShutdown:
            return StoreError(.unavailable, "the database is unavailable")
        default:
            logger.error("database error", metadata: ["code": "\(error.code)"])
            return error
        }
    }

    /// Where a query runs: the pool, or a connection inside a transaction.
    enum Executor {
        case client(PostgresClient)
        case connection(PostgresConnection)

        func query(_ query: PostgresQuery, logger: Logger) async throws -> FetchedRows<PostgresRow> {
            switch self {
            case .client(let client): return try await client.rows(query, logger: logger)
            case .connection(let connection): return try await connection.rows(query, logger: logger)
            }
        }
    }

    /// A resource as its row stores it: the clear part as JSON text, the sealed part as base64
    /// ("" when nothing is sealed) and its key id ("" likewise).
    struct RowContent {
        let plain: JSONValue
        let content: String
        let sealedBase64: String
        let keyID: String
    }

    func seal(_ resource: JSONValue, type: String, id: String, version: Int) throws -> RowContent {
        guard let sealer else {
            return RowContent(plain: resource, content: String(decoding: FHIRJSON.serialize(resource), as: UTF8.self), sealedBase64: "", keyID: "")
        }
        let sealed = try sealer.seal(resource: resource, type: type, id: id, versionID: version)
        return RowContent(
            plain: sealed.content, content: String(decoding: FHIRJSON.serialize(sealed.content), as: UTF8.self),
            sealedBase64: sealed.sealed.map { Data($0).base64EncodedString() } ?? "", keyID: sealed.keyID ?? "")
    }

    func blindEntries(type: String, resource: JSONValue) -> [BlindIndex.Entry] {
        guard let blindIndex, let sealer else { return [] }
        return blindIndex.values(type: type, resource: resource, policy: sealer.policy)
    }

    /// The resource a row holds, with its sealed elements restored. A row whose sealed part does
    /// not open (tampered, copied from another row, unknown key) fails closed: no partial data.
    /// The stored resource as the client sees it: the clear `content` with the `sealed`
    /// elements (bytea, selected as is: no base64 round trip) opened and put back.
    func materialize(type: String, id: String, version: Int, content: String?, sealed: ByteBuffer?, keyID: String?) throws -> [UInt8]? {
        guard let content else { return nil }
        guard let sealed else { return Array(content.utf8) }
        do {
            guard let sealer else { throw SealingError.missingKey }
            let payload = Array(sealed.readableBytesView)
            if let keyID, let spliced = try sealer.unsealSplicing(
                contentJSON: Array(content.utf8), sealed: Array(payload), keyID: keyID, type: type, id: id, versionID: version) {
                return spliced
            }
            let whole = try sealer.unseal(
                content: FHIRJSON.parse(content), sealed: Array(payload), keyID: keyID, type: type, id: id, versionID: version)
            return FHIRJSON.serialize(whole)
        } catch {
            logger.critical(
                "security: sealed data failed to open; refusing the row",
                metadata: ["type": "\(type)", "id": "\(id)", "version": "\(version)", "reason": "\(error)"])
            throw StoreError(.integrity, "the stored resource failed an integrity check")
        }
    }

    /// Validates and stamps a resource for writing: checks its type, sets `id` and `meta`.
    /// `validate: false` only for resources the caller validated with the same validator just
    /// before (a bulk import checks each line, to report a bad one without failing its batch).
    func prepare(type: String, id: String, version: Int, lastUpdated: Date, resource: JSONValue, validate: Bool = true) throws -> JSONValue {
        guard var object = resource.objectValue else {
            throw StoreError(.badRequest, "a resource must be a JSON object")
        }
        guard object["resourceType"]?.stringValue == type else {
            throw StoreError(.badRequest, "resourceType does not match the endpoint type \(type)")
        }
        var meta = object["meta"]?.objectValue ?? JSONObject()
        meta["versionId"] = .string(String(version))
        meta["lastUpdated"] = .string(StoreTimestamp.string(lastUpdated))
        var stamped = JSONObject(reservingCapacity: object.count + 2)
        stamped.append(key: "resourceType", value: .string(type))
        stamped.append(key: "id", value: .string(id))
        stamped.append(key: "meta", value: .object(meta))
        object["resourceType"] = nil
        object["id"] = nil
        object["meta"] = nil
        for (key, value) in object { stamped.append(key: key, value: value) }
        let result = JSONValue.object(stamped)
        guard validate else { return result }
        let issues = validator.validate(result)
        if issues.hasErrors {
            throw StoreError(.invalid, "the resource is not valid FHIR R4", issues: issues)
        }
        return result
    }
}

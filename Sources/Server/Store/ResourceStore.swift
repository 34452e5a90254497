import FHIRModels
import Foundation
import PostgresNIO

/// The one place that reads and writes resources. Both faces (FHIR and platform) call it;
/// nothing else writes SQL for resources.
public protocol ResourceStore: Sendable {
    /// The current version; with `caredForBy`, also which of its patients that practitioner cares
    /// for; with `check`, the caller's token is checked in the same statement (`TokenRejected`).
    func read(type: String, id: String, caredForBy practitionerID: String?, check: TokenCheck?) async throws -> StoredResource
    func vread(type: String, id: String, version: Int) async throws -> StoredResource
    func history(_ query: HistoryQuery) async throws -> HistoryPage
    /// One page of a search (`SearchQuery`): matches in order and the next page's cursor.
    func search(_ query: SearchQuery) async throws -> SearchPage
    /// How many resources match (`estimate`: the planner's guess, without counting).
    func count(_ query: SearchQuery, estimate: Bool) async throws -> Int
    /// `_include` / `_revinclude` of a page's resources.
    func included(_ includes: [SearchQuery.Include], reverse: Bool, from sources: [StoredResource], limit: Int) async throws -> [StoredResource]
    /// Creates resources whose ids are fixed, atomically, without a multi-statement transaction;
    /// the context's AuditEvents land in the same statement.
    func create(_ items: [NewResource], context: WriteContext) async throws -> [StoredResource]
    /// Runs `body` in one database transaction: all its writes land, or none do. `author` is the
    /// Practitioner id of a doctor writing, recorded as a care relationship with the patients
    /// whose compartments the writes touch.
    /// `writer`, with a read replica configured, has its `caller_write` count bumped in the same
    /// transaction (read-your-writes: `ReadReplica`).
    func transaction<Result: Sendable>(
        author: String?, writer: WriterKey?, _ body: @Sendable (any ResourceTransaction) async throws -> Result
    ) async throws -> Result
    /// Runs `body` with the staleness-tolerant reads it makes (search, count, `_include`,
    /// history) on the read replica when one is configured and has replayed `writer`'s last write.
    func routingReads<Result: Sendable>(for writer: WriterKey?, _ body: () async throws -> Result) async throws -> Result
}

extension ResourceStore {
    public func read(type: String, id: String) async throws -> StoredResource {
        try await read(type: type, id: id, caredForBy: nil, check: nil)
    }

    public func create(_ items: [NewResource]) async throws -> [StoredResource] {
        try await create(items, context: WriteContext())
    }

    public func transaction<Result: Sendable>(
        _ body: @Sendable (any ResourceTransaction) async throws -> Result
    ) async throws -> Result {
        try await transaction(author: nil, writer: nil, body)
    }

    public func transaction<Result: Sendable>(
        author: String?, _ body: @Sendable (any ResourceTransaction) async throws -> Result
    ) async throws -> Result {
        try await transaction(author: author, writer: nil, body)
    }
}

/// What a write carries beside the resources: who wrote (for care relationships) and the
/// AuditEvents that must commit with it.
public struct WriteContext: Sendable {
    public var authorPractitionerID: String?
    public var audit: [AuditRecord]
    /// Whose `caller_write` count the write bumps when a read replica is configured.
    public var writer: WriterKey?

    public init(authorPractitionerID: String? = nil, audit: [AuditRecord] = [], writer: WriterKey? = nil) {
        self.authorPractitionerID = authorPractitionerID
        self.audit = audit
        self.writer = writer
    }
}

/// Writes inside one database transaction. Each write validates, stamps `id` and `meta`,
/// indexes and records history.
public protocol ResourceTransaction: Sendable {
    /// Creates with the given id, or a server-assigned one when `id` is nil.
    func create(type: String, resource: JSONValue, id: String?) async throws -> StoredResource
    /// Creates many resources whose ids are already fixed, in a few statements.
    func createAll(_ items: [NewResource]) async throws -> [StoredResource]
    /// Updates, or creates when absent (update-as-create). `ifMatch` is the version the client expects.
    func update(type: String, id: String, resource: JSONValue, ifMatch: Int?, method: WriteMethod) async throws -> (StoredResource, created: Bool)
    /// Soft-deletes; returns the deletion version, or nil when there was nothing to delete.
    func delete(type: String, id: String) async throws -> StoredResource?
    /// Reads the current version, locking it until the transaction ends.
    func readForUpdate(type: String, id: String) async throws -> StoredResource?
    /// The first `query.count` matches of a search, seeing this transaction's writes
    /// (conditional interactions and conditional references).
    func find(_ query: SearchQuery) async throws -> [StoredResource]
    /// Stores AuditEvents in this transaction: they commit with its writes, or not at all.
    func appendAudit(_ records: [AuditRecord]) async throws
    /// Which of these resources exist now (deleted ones included), locking them until the
    /// transaction ends: a bulk import updates those and creates the rest in one batch.
    func lockExisting(_ keys: [(type: String, id: String)]) async throws -> Set<ResourceKey>
    /// The transaction's connection, for other stores' statements that must commit with its
    /// writes (a bulk import's cursor).
    var connection: PostgresConnection { get }
}

/// A resource's type and id, as a set member.
public struct ResourceKey: Hashable, Sendable {
    public let type: String
    public let id: String

    public init(type: String, id: String) {
        self.type = type
        self.id = id
    }
}

/// A resource to create with a known id, for batched creates.
public struct NewResource: Sendable {
    public let type: String
    public let id: String
    public let resource: JSONValue
    /// How history records the creation: a create, or an update that creates.
    public let method: WriteMethod
    /// Already validated by the caller with the store's validator (a bulk import's lines).
    public var validated = false

    public init(type: String, id: String, resource: JSONValue, method: WriteMethod = .post) {
        self.type = type
        self.id = id
        self.resource = resource
        self.method = method
    }
}

public struct HistoryQuery: Sendable {
    public enum Scope: Sendable {
        case system
        case type(String)
        case instance(type: String, id: String)
    }

    public var scope: Scope
    public var since: Date?
    public var count: Int
    /// Keyset cursor: only entries older than this history key.
    public var before: Int64?

    public init(scope: Scope, since: Date? = nil, count: Int = 50, before: Int64? = nil) {
        self.scope = scope
        self.since = since
        self.count = count
        self.before = before
    }
}

public struct HistoryPage: Sendable {
    public let entries: [StoredResource]
    /// The cursor for the next (older) page, if there is one.
    public let nextBefore: Int64?
}

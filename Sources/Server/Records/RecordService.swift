import FHIRModels
import Foundation

/// The record pipeline, once, for every face: reads, versions, history and writes, each
/// authorized (role ∩ scopes ∩ compartment or care relationship) and audited here, so the FHIR
/// API, the platform API, Bundle entries, bulk jobs and the web pages never repeat a security
/// step. Takes a `Caller`, returns stored versions or throws typed errors (`StoreError`,
/// `AccessDenied`, `TokenRejected`); knows nothing of HTTP.
public struct RecordService: Sendable {
    let store: any ResourceStore
    let security: SecurityServices

    public init(store: any ResourceStore, security: SecurityServices) {
        self.store = store
        self.security = security
    }

    /// What a write did: the version stored, and whether it created the resource.
    public struct WriteResult: Sendable {
        public let stored: StoredResource
        public let created: Bool
    }

    /// The same caller once the database has confirmed their access token, so that several
    /// service calls for one request ask it once.
    public func confirmed(_ caller: Caller) async throws -> Caller {
        try await security.confirmed(caller)
    }

    /// The caller's audited access, their token confirmed first.
    func access(_ caller: Caller) async throws -> AuditedAccess {
        AuditedAccess(try await confirmed(caller), security: security)
    }

    static func notKnown(_ type: String, _ id: String) -> StoreError {
        StoreError(.notFound, "\(type)/\(id) is not known")
    }

    // MARK: - Reads

    /// The current version as the caller may read it, with the read audited. A pending token
    /// check runs inside the read's own statement. A missing, denied or deleted resource throws
    /// (that it was deleted is told only to a caller who could read its last version).
    public func read(type: String, id: String, as caller: Caller) async throws -> StoredResource {
        let access = AuditedAccess(caller, security: security)
        let stored: StoredResource
        let check = security.confirmedTokens.prepared(caller.pendingTokenCheck)
        do {
            stored = try await store.read(type: type, id: id, caredForBy: access.principal.practitionerID, check: check)
            if let check, let confirmation = stored.tokenConfirmation { security.confirmedTokens.remember(check, confirmation) }
        } catch let error as StoreError {
            try await revealDeletion(error, type: type, id: id, access: access, .read)
            await access.auditFailure(.read, type: type, id: id, error: error)
            throw error
        }
        try await security.audit.record(try await access.readable(stored, .read))
        return try access.presented(stored)
    }

    /// A deletion has no content to decide on, so that it happened is told (410, a DELETE entry
    /// in history) only to a caller who could read the version before it. Anyone else gets
    /// "not known", as for an id that never existed, with the denial audited; without this an
    /// id of another patient's record could be probed by its deletion. Returns for any other
    /// error, and when the caller may see the deletion.
    private func revealDeletion(
        _ error: StoreError, type: String, id: String, access: AuditedAccess, _ interaction: AuditedInteraction
    ) async throws {
        guard case .gone(let version) = error.code, version > 1 else { return }
        _ = try await access.readable(try await store.vread(type: type, id: id, version: version - 1), interaction)
    }

    /// Throws as a read would when the caller may not read `type/id` (missing, deleted or
    /// denied: audited as `interaction`); the operation that follows audits what it returns.
    public func requireReadable(type: String, id: String, _ interaction: AuditedInteraction, as caller: Caller) async throws {
        let access = try await access(caller)
        do {
            _ = try await access.readable(try await store.read(type: type, id: id), interaction)
        } catch let error as StoreError {
            await access.auditFailure(interaction, type: type, id: id, error: error)
            throw error
        }
    }

    /// One version, audited as a vread.
    public func vread(type: String, id: String, version: Int, as caller: Caller) async throws -> StoredResource {
        let access = try await access(caller)
        let stored: StoredResource
        do {
            stored = try await store.vread(type: type, id: id, version: version)
        } catch {
            if let error = error as? StoreError {
                try await revealDeletion(error, type: type, id: id, access: access, .vread)
            }
            await access.auditFailure(.vread, type: type, id: id, error: error)
            throw error
        }
        try await security.audit.record(try await access.readable(stored, .vread))
        return try access.presented(stored)
    }

    /// A page of history with what the caller may see of it.
    public struct HistoryResult: Sendable {
        /// Each version with its resource (nil for a deletion).
        public let entries: [(stored: StoredResource, resource: JSONValue?)]
        public let nextBefore: Int64?
    }

    /// System, type or instance history. An instance the caller may not read is "not known";
    /// each version is checked on its own content; a deletion (no content) shows only to
    /// system clients, or in an instance's history the caller may read.
    public func history(_ query: HistoryQuery, queryText: String?, as caller: Caller) async throws -> HistoryResult {
        let access = try await access(caller)
        let interaction: AuditedInteraction
        var auditType: String? = nil
        var auditID: String? = nil
        switch query.scope {
        case .system: interaction = .historySystem
        case .type(let type): (interaction, auditType) = (.historyType, type)
        case .instance(let type, let id): (interaction, auditType, auditID) = (.historyInstance, type, id)
        }
        if case .instance(let type, let id) = query.scope {
            do {
                _ = try await access.readable(try await store.read(type: type, id: id), interaction)
            } catch let error as StoreError where error.code != .notFound {
                // Deleted: its history is still there to show, to a caller who could read it.
                try await revealDeletion(error, type: type, id: id, access: access, interaction)
            } catch {
                await access.auditFailure(interaction, type: type, id: id, error: error)
                throw error
            }
        }
        // Type and system history tolerate a replica's lag; an instance's stays with its read.
        let page: HistoryPage
        if case .instance = query.scope {
            page = try await store.history(query)
        } else {
            page = try await store.routingReads(for: WriterKey(access.principal)) { try await store.history(query) }
        }
        let (shown, records) = try await access.visible(
            page.entries, interaction, type: auditType, id: auditID, permission: auditID == nil ? .search : .read,
            showDeletions: access.principal.role == .system || auditID != nil, query: queryText)
        try await security.audit.record(records)
        return HistoryResult(entries: try access.presented(shown), nextBefore: page.nextBefore)
    }

    // MARK: - Writes

    /// A create; with `ifNoneExist`, a conditional create that returns the one existing match
    /// (the search and the create in one transaction).
    public func create(type: String, resource: JSONValue, ifNoneExist: SearchQuery? = nil, as caller: Caller) async throws -> WriteResult {
        let access = try await access(caller)
        return try await access.auditingDenials {
            // A conditional create searches and creates in one transaction; a patient's booking
            // checks the doctor's schedule and creates in one.
            if ifNoneExist != nil || AppointmentBooking.applies(to: type, for: access.principal) {
                return try await store.transaction(author: access.author, writer: WriterKey(access.principal)) { transaction in
                    try await writer(transaction, access).create(type: type, resource: resource, ifNoneExist: ifNoneExist)
                }
            }
            return WriteResult(stored: try await createNew(type: type, resource: resource, access: access), created: true)
        }
    }

    /// A plain create in one statement, with its AuditEvent. A client-supplied id is replaced.
    private func createNew(type: String, resource: JSONValue, access: AuditedAccess) async throws -> StoredResource {
        let id = RandomUUID.v4()
        var object = resource.objectValue ?? JSONObject()
        object["id"] = .string(id)
        let new = JSONValue.object(object)
        let write = try await access.authorizeWrite(.create, type: type, id: id, permission: .create, old: nil, new: new)
        let audit = access.written(.create, type: type, id: id, version: 1, write)
        return try await store.create(
            [NewResource(type: type, id: id, resource: new)], context: WriteContext(authorPractitionerID: access.author, audit: [audit], writer: WriterKey(access.principal)))[0]
    }

    /// An update (or update-as-create) of `type/id`.
    public func update(type: String, id: String, resource: JSONValue, ifMatch: Int?, as caller: Caller) async throws -> WriteResult {
        try await inTransaction(caller) { writer in
            try await writer.update(type: type, id: id, resource: resource, ifMatch: ifMatch, method: .put)
        }
    }

    /// An update computed from the current version (the platform's merge of a model over the
    /// stored resource). A missing or deleted record is "not known": this never creates.
    public func update(
        type: String, id: String, ifMatch: Int?, as caller: Caller, _ change: @escaping @Sendable (JSONValue) throws -> JSONValue
    ) async throws -> StoredResource {
        try await inTransaction(caller) { writer in
            guard let current = try await writer.transaction.readForUpdate(type: type, id: id), let old = try current.resource() else {
                throw Self.notKnown(type, id)
            }
            var object = try change(old).objectValue ?? JSONObject()
            object["id"] = .string(id)
            return try await writer.update(type: type, id: id, resource: .object(object), ifMatch: ifMatch, method: .put).stored
        }
    }

    /// A conditional update: the one match is updated, none creates, several are refused.
    public func update(type: String, resource: JSONValue, matching criteria: SearchQuery, as caller: Caller) async throws -> WriteResult {
        try await inTransaction(caller) { writer in
            try await writer.conditionalUpdate(type: type, resource: resource, criteria: criteria)
        }
    }

    /// A JSON Patch of the current version. A resource the caller may not read is "not known"
    /// to them, as on read.
    public func patch(type: String, id: String, with patch: JSONPatch, ifMatch: Int?, as caller: Caller) async throws -> WriteResult {
        try await inTransaction(caller) { writer in
            try await writer.patch(type: type, id: id, with: patch, ifMatch: ifMatch)
        }
    }

    /// A delete; nil when there was nothing to delete.
    public func delete(type: String, id: String, as caller: Caller) async throws -> StoredResource? {
        try await inTransaction(caller) { writer in try await writer.delete(type: type, id: id) }
    }

    /// A conditional delete: the one match is deleted, several are refused.
    public func delete(type: String, matching criteria: SearchQuery, as caller: Caller) async throws {
        try await inTransaction(caller) { writer in try await writer.conditionalDelete(type: type, criteria: criteria) }
    }

    /// Runs `body` in one database transaction with the caller's writer; a denial inside is
    /// audited after the rollback.
    public func inTransaction<T: Sendable>(_ caller: Caller, _ body: @escaping @Sendable (RecordWriter) async throws -> T) async throws -> T {
        let access = try await access(caller)
        return try await access.auditingDenials {
            try await store.transaction(author: access.author, writer: WriterKey(access.principal)) { transaction in
                try await body(writer(transaction, access))
            }
        }
    }

    /// The caller's writer in one transaction.
    private func writer(_ transaction: any ResourceTransaction, _ access: AuditedAccess) -> RecordWriter {
        RecordWriter(transaction: transaction, access: access, booking: AppointmentBooking(timeZone: security.scheduleTimeZone))
    }

    /// Audits a denial a caller of `inTransaction` caught itself (a batch entry): once the
    /// transaction it happened in has rolled back.
    func auditDenial(_ denied: AccessDenied) async throws -> AccessDenied {
        if let record = denied.record { try await security.audit.record(record) }
        return denied.audited
    }

    /// Whether the caller could make any write of this kind on `type` at all (role and scopes);
    /// when not, the denial is audited and thrown before anything is looked up, so no answer
    /// tells them whether a record exists. A patient's write is decided in full here, on the
    /// provisional content: their rules read nothing but the content, and deciding first keeps a
    /// patient from learning from a 422 whether another patient's record exists.
    public func refuseIfNeverWritable(_ permission: SMARTPermission, type: String, id: String?, provisional: JSONValue, as caller: Caller) async throws {
        let access = try await access(caller)
        if access.access.mayEverWrite(permission, on: type) {
            guard access.principal.role == .patient else { return }
            try await access.auditingDenials {
                _ = try await access.authorizeWrite(
                    permission == .create ? .create : .update, type: type, id: id ?? "-", permission: permission,
                    old: permission == .update ? provisional : nil, new: provisional)
            }
            return
        }
        try await access.auditingDenials {
            _ = try await access.authorizeWrite(
                permission == .create ? .create : .update, type: type, id: id ?? "-", permission: permission,
                old: permission == .update ? provisional : nil, new: provisional)
            throw AccessDenied(.forbidden, "this write of \(type) is not permitted")
        }
    }
}

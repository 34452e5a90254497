import FHIRModels
import Foundation
import PostgresNIO

/// The caller's authorized, audited operations inside one database transaction: what
/// `RecordService` runs for a single write and what a transaction Bundle runs for each of its
/// entries. Every write locks the current version, decides on the old and new content (an
/// update that moves a resource between compartments needs rights on both), and appends its
/// AuditEvent to the same transaction. A patient's new appointment is also checked against the
/// doctor's schedule here (`AppointmentBooking`), in the same transaction, whichever face wrote it.
public struct RecordWriter: Sendable {
    let transaction: any ResourceTransaction
    let access: AuditedAccess
    var booking = AppointmentBooking()

    /// Creates, or for a conditional create returns the one existing match (several are refused).
    /// `id` fixes the new resource's id (a Bundle assigns ids before rewriting references).
    public func create(type: String, resource: JSONValue, ifNoneExist: SearchQuery?, id: String? = nil) async throws -> RecordService.WriteResult {
        if let ifNoneExist, let match = try await existingMatch(type: type, ifNoneExist: ifNoneExist) {
            try await transaction.appendAudit([access.record(
                .create, type: type, id: match.stored.id, version: match.stored.versionID, patients: match.patients)])
            return RecordService.WriteResult(stored: match.stored, created: false)
        }
        let id = id ?? RandomUUID.v4()
        var object = resource.objectValue ?? JSONObject()
        object["id"] = .string(id)
        let write = try await access.authorizeWrite(.create, type: type, id: id, permission: .create, old: nil, new: .object(object))
        let booked = try await book(type: type, id: id, resource: .object(object))
        let stored = try await transaction.create(type: type, resource: .object(object), id: id)
        try await transaction.appendAudit([
            access.written(.create, type: type, id: id, version: stored.versionID, write, description: booked.description)
        ])
        return RecordService.WriteResult(stored: stored, created: true)
    }

    /// What a patient's new appointment books: the slot, refused unless the doctor's schedule has
    /// it (`AppointmentBooking`), and how its AuditEvent says what the patient did. Nothing for
    /// other writes. `pending`: slots booked earlier in the same batch.
    private func book(
        type: String, id: String, resource: JSONValue, pending: [AppointmentBooking.Slot] = []
    ) async throws -> (slot: AppointmentBooking.Slot?, description: String?) {
        guard AppointmentBooking.applies(to: type, for: access.principal) else { return (nil, nil) }
        guard let slot = try booking.requestedSlot(resource) else { return (nil, "appointment requested by the patient") }
        try await booking.check(slot, encounterID: id, in: transaction, pending: pending)
        return (slot, "appointment booked by the patient")
    }

    /// Whether the caller could make any write of this kind on `type` at all; when not, the
    /// denial is thrown before the conditional operation or patch looks at any record, so its
    /// answer (a match, a failed JSON Patch `test`) cannot tell them what a record holds.
    private func requireEverWritable(
        _ permissions: SMARTPermission..., type: String, id: String? = nil, _ interaction: AuditedInteraction
    ) throws {
        guard !permissions.contains(where: { access.access.mayEverWrite($0, on: type) }) else { return }
        let reason = permissions.contains(where: { access.access.scopeAllows($0, on: type) }) ? "role" : "scope"
        throw AccessDenied(
            .forbidden, "this \(interaction.subtype) of \(type) is not permitted",
            record: access.record(interaction, type: type, id: id, decision: .deny(reason)))
    }

    /// The matches of a conditional update or delete that the caller may see. A match they may
    /// not read is not counted: otherwise "several match" (412) against "one matches" tells them
    /// that records exist which a search of theirs would not show. When they see none, the write
    /// goes to the (first) hidden match and is refused there (403, audited), as a write naming
    /// that record by id is.
    private func visible(_ matches: [StoredResource], type: String) async throws -> [StoredResource] {
        guard access.principal.role != .system, !matches.isEmpty else { return matches }
        var shown: [StoredResource] = []
        for match in matches {
            guard let resource = try match.resource() else { continue }
            let decision = try await access.access.decideRead(type: type, id: match.id, resource: resource, permission: .search)
            if decision.isAllowed { shown.append(match) }
        }
        return shown
    }

    /// The one resource a conditional create's criteria match, when the caller may see it
    /// (naming it tells its id); nil when none matches, refused when several do.
    func existingMatch(type: String, ifNoneExist: SearchQuery) async throws -> (stored: StoredResource, patients: Set<String>)? {
        try requireEverWritable(.create, type: type, .create)
        let matches = try await transaction.find(ifNoneExist)
        if matches.count > 1 { throw StoreError(.multipleMatches, "the conditional create matched more than one resource") }
        guard let match = matches.first else { return nil }
        guard let existing = try match.resource() else { throw RecordService.notKnown(type, match.id) }
        let patients = access.access.patients(type: type, id: match.id, resource: existing)
        let decision = try await access.access.decideRead(type: type, id: match.id, resource: existing, permission: .search)
        guard decision.isAllowed else {
            throw AccessDenied(
                .forbidden, "this create of \(type) is not permitted",
                record: access.record(.create, type: type, id: match.id, patients: patients, decision: decision))
        }
        return (match, patients)
    }

    /// Creates many resources with fixed ids in one batch (a transaction Bundle's creates), each
    /// authorized on its own and all audited with the write.
    public func createAll(_ items: [NewResource]) async throws -> [StoredResource] {
        var writes: [AuditedAccess.WriteDecision] = []
        writes.reserveCapacity(items.count)
        var requested: [(offset: Int, slot: AppointmentBooking.Slot?)] = []
        var descriptions = [String?](repeating: nil, count: items.count)
        for (offset, item) in items.enumerated() {
            var object = item.resource.objectValue ?? JSONObject()
            object["id"] = .string(item.id)
            do {
                writes.append(try await access.authorizeWrite(.create, type: item.type, id: item.id, permission: .create, old: nil, new: .object(object)))
                if AppointmentBooking.applies(to: item.type, for: access.principal) {
                    requested.append((offset, try booking.requestedSlot(.object(object))))
                }
            } catch {
                throw BatchItemError(offset: offset, underlying: error)
            }
        }
        // A patient's bookings, doctor by doctor (so concurrent batches lock doctors in the same
        // order), each also against the batch's earlier ones.
        var booked: [AppointmentBooking.Slot] = []
        for (offset, slot) in requested.sorted(by: { ($0.slot?.doctorID ?? "", $0.offset) < ($1.slot?.doctorID ?? "", $1.offset) }) {
            guard let slot else {
                descriptions[offset] = "appointment requested by the patient"
                continue
            }
            do {
                try await booking.check(slot, encounterID: items[offset].id, in: transaction, pending: booked)
            } catch {
                throw BatchItemError(offset: offset, underlying: error)
            }
            booked.append(slot)
            descriptions[offset] = "appointment booked by the patient"
        }
        let stored = try await transaction.createAll(items)
        try await transaction.appendAudit(zip(stored, zip(writes, descriptions)).map { item, decided in
            access.written(.create, type: item.type, id: item.id, version: item.versionID, decided.0, description: decided.1)
        })
        return stored
    }

    /// A bulk import's batch, ids kept: resources that exist get a new version (the ordinary
    /// update path), the rest are created together in one statement (update-as-create). Each
    /// is authorized; the audit is one record per type for the batch, with its counts.
    /// Returns, per type, how many were created and how many updated.
    public func importBatch(_ items: [NewResource]) async throws -> (created: [String: Int64], updated: [String: Int64]) {
        for (offset, item) in items.enumerated() {
            let decision = try await access.access.decideWrite(
                type: item.type, id: item.id, permission: .create, old: nil, new: item.resource, patients: [])
            let updateAllowed = access.access.scopeAllows(.update, on: item.type)
            guard decision.isAllowed, updateAllowed else {
                throw BatchItemError(offset: offset, underlying: AccessDenied(
                    .forbidden, "this import of \(item.type) is not permitted",
                    record: access.record(.importWrite, type: item.type, decision: decision.isAllowed ? .deny("scope") : decision)))
            }
        }
        let existing = try await transaction.lockExisting(items.map { ($0.type, $0.id) })
        var created: [String: Int64] = [:]
        var updated: [String: Int64] = [:]
        // New resources are created together; a resource that exists, or that appears a second
        // time in the batch, takes the update path (after the create, so the later line wins).
        var seen = existing
        var fresh: [NewResource] = []
        var updates: [NewResource] = []
        for item in items {
            if seen.insert(ResourceKey(type: item.type, id: item.id)).inserted { fresh.append(item) } else { updates.append(item) }
        }
        _ = try await transaction.createAll(fresh)
        for item in fresh { created[item.type, default: 0] += 1 }
        for item in updates {
            var object = item.resource.objectValue ?? JSONObject()
            object["id"] = .string(item.id)
            let (_, wasCreated) = try await transaction.update(
                type: item.type, id: item.id, resource: .object(object), ifMatch: nil, method: .put)
            if wasCreated { created[item.type, default: 0] += 1 } else { updated[item.type, default: 0] += 1 }
        }
        let types = Set(created.keys).union(updated.keys).sorted()
        try await transaction.appendAudit(types.map { type in
            access.record(.importWrite, type: type, query: "created=\(created[type] ?? 0) updated=\(updated[type] ?? 0)")
        })
        return (created, updated)
    }

    /// The transaction's connection, for a bulk job's cursor that must commit with the writes.
    var connection: PostgresConnection { transaction.connection }

    /// Which of a batch's items failed, for the caller to say which entry it was.
    public struct BatchItemError: Error {
        public let offset: Int
        public let underlying: any Error
    }

    /// An update (or update-as-create, authorized as a create).
    public func update(type: String, id: String, resource: JSONValue, ifMatch: Int?, method: WriteMethod = .put) async throws -> RecordService.WriteResult {
        let current = try await transaction.readForUpdate(type: type, id: id)
        let old = try current?.resource()
        let interaction: AuditedInteraction = old == nil ? .create : (method == .patch ? .patch : .update)
        let write = try await access.authorizeWrite(
            interaction, type: type, id: id, permission: old == nil ? .create : .update, old: old, new: resource)
        var description: String?
        if old == nil {
            description = try await book(type: type, id: id, resource: resource).description
        } else if AppointmentBooking.applies(to: type, for: access.principal) {
            // The only change a patient may make to an appointment (`PatientAppointments`).
            description = "appointment cancelled by the patient"
        }
        let (stored, created) = try await transaction.update(type: type, id: id, resource: resource, ifMatch: ifMatch, method: method)
        try await transaction.appendAudit([
            access.written(created ? .create : interaction, type: type, id: id, version: stored.versionID, write, description: description)
        ])
        return RecordService.WriteResult(stored: stored, created: created)
    }

    /// A conditional update: the one match is updated, none creates (with the body's id, or a
    /// new one), several are refused.
    public func conditionalUpdate(type: String, resource: JSONValue, criteria: SearchQuery) async throws -> RecordService.WriteResult {
        // A conditional update that matches nothing creates.
        try requireEverWritable(.update, .create, type: type, .update)
        let matches = try await transaction.find(criteria)
        let counted = try await visible(matches, type: type)
        if counted.count > 1 { throw StoreError(.multipleMatches, "the conditional update matched more than one resource") }
        let bodyID = resource["id"]?.stringValue
        if let match = counted.first ?? matches.first {
            if let bodyID, bodyID != match.id {
                throw StoreError(.badRequest, "the resource id in the body differs from the matched resource")
            }
            var object = resource.objectValue ?? JSONObject()
            object["id"] = .string(match.id)
            return try await update(type: type, id: match.id, resource: .object(object), ifMatch: nil)
        }
        if let bodyID { return try await update(type: type, id: bodyID, resource: resource, ifMatch: nil) }
        return try await create(type: type, resource: resource, ifNoneExist: nil)
    }

    /// A JSON Patch of the current version; a resource the caller may not read is "not known".
    public func patch(type: String, id: String, with patch: JSONPatch, ifMatch: Int?) async throws -> RecordService.WriteResult {
        try requireEverWritable(.update, type: type, id: id, .patch)
        guard let current = try await transaction.readForUpdate(type: type, id: id), let resource = try current.resource() else {
            throw RecordService.notKnown(type, id)
        }
        let readable = try await access.access.decideRead(type: type, id: id, resource: resource, permission: .read)
        guard readable.isAllowed || access.principal.role == .system else {
            throw AccessDenied(
                .hidden, "\(type)/\(id) is not known",
                record: access.record(
                    .patch, type: type, id: id, patients: access.access.patients(type: type, id: id, resource: resource), decision: readable))
        }
        if let ifMatch, ifMatch != current.versionID {
            throw StoreError(.versionConflict(current: current.versionID), "If-Match names a stale version")
        }
        let patched = try patch.apply(to: resource)
        guard patched["id"]?.stringValue == id, patched["resourceType"]?.stringValue == type else {
            throw StoreError(.badRequest, "a patch may not change the resource id or type")
        }
        return try await update(type: type, id: id, resource: patched, ifMatch: current.versionID, method: .patch)
    }

    /// A delete; nil when there was nothing to delete.
    public func delete(type: String, id: String) async throws -> StoredResource? {
        guard let current = try await transaction.readForUpdate(type: type, id: id), let old = try current.resource() else {
            return nil
        }
        let write = try await access.authorizeWrite(.delete, type: type, id: id, permission: .delete, old: old, new: nil)
        guard let deleted = try await transaction.delete(type: type, id: id) else { return nil }
        try await transaction.appendAudit([access.written(.delete, type: type, id: id, version: deleted.versionID, write)])
        return deleted
    }

    /// A conditional delete: the one match is deleted, several are refused.
    public func conditionalDelete(type: String, criteria: SearchQuery) async throws {
        try requireEverWritable(.delete, type: type, .delete)
        let matches = try await transaction.find(criteria)
        let counted = try await visible(matches, type: type)
        if counted.count > 1 { throw StoreError(.multipleMatches, "the conditional delete matched more than one resource") }
        if let match = counted.first ?? matches.first { _ = try await delete(type: type, id: match.id) }
    }

    /// A read inside the transaction (a Bundle's GET entry), audited with it.
    public func read(type: String, id: String, version: Int?, from store: any ResourceStore) async throws -> (StoredResource, JSONValue?) {
        let stored: StoredResource
        if let version {
            stored = try await store.vread(type: type, id: id, version: version)
        } else {
            stored = try await store.read(type: type, id: id)
        }
        let record = try await access.readable(stored, version == nil ? .read : .vread)
        try await transaction.appendAudit([record])
        let shown = try access.presented(stored)
        return (shown, try shown.resource())
    }

    /// Rows found by a search inside this transaction (conditional references).
    public func find(_ query: SearchQuery) async throws -> [StoredResource] {
        try await transaction.find(query)
    }
}

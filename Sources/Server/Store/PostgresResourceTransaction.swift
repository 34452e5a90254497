import FHIRModels
import Foundation
import Logging
import PostgresNIO

/// Writes within one PostgreSQL transaction. Every write stores the current row,
/// a history row and the token rows together.
struct PostgresResourceTransaction: ResourceTransaction {
    let connection: PostgresConnection
    let store: PostgresResourceStore
    /// The practitioner whose doctor account writes in this transaction (author care relationships).
    let author: String?
    private var logger: Logger { store.logger }

    init(connection: PostgresConnection, store: PostgresResourceStore, author: String?) {
        self.connection = connection
        self.store = store
        self.author = author
    }

    func create(type: String, resource: JSONValue, id: String?) async throws -> StoredResource {
        let id = id ?? RandomUUID.v4()
        return try await createAll([NewResource(type: type, id: id, resource: resource)])[0]
    }

    func createAll(_ items: [NewResource]) async throws -> [StoredResource] {
        try await store.insertNew(items, on: .connection(connection), context: WriteContext(authorPractitionerID: author))
    }

    func appendAudit(_ records: [AuditRecord]) async throws {
        guard !records.isEmpty else { return }
        try await AuditLog.insert(AuditRows(records), on: connection, logger: logger)
    }

    func update(type: String, id: String, resource: JSONValue, ifMatch: Int?, method: WriteMethod) async throws -> (StoredResource, created: Bool) {
        if let bodyID = resource["id"]?.stringValue, bodyID != id {
            throw StoreError(.badRequest, "the resource id in the body differs from the id in the URL")
        }
        if resource["id"] == nil {
            throw StoreError(.badRequest, "an update must carry the resource id in the body")
        }
        guard let current = try await lockCurrent(type: type, id: id) else {
            if let ifMatch {
                throw StoreError(.versionConflict(current: nil), "If-Match names version \(ifMatch) of a resource that does not exist")
            }
            let created = try await createAll([NewResource(type: type, id: id, resource: resource, method: method)])[0]
            return (created, true)
        }
        if let ifMatch, ifMatch != current.version {
            throw StoreError(.versionConflict(current: current.version), "If-Match names version \(ifMatch) but the current version is \(current.version)")
        }
        let version = current.version + 1
        let now = StoreTimestamp.now()
        let prepared = try store.prepare(type: type, id: id, version: version, lastUpdated: now, resource: resource)
        let json = FHIRJSON.serialize(prepared)
        let row = try store.seal(prepared, type: type, id: id, version: version)
        try await connection.rows(
            """
            WITH updated AS (
                UPDATE resource SET version_id = \(version), last_updated = \(now), deleted = false,
                    index_version = \(SearchIndexRows.version),
                    content = \(row.content)::jsonb, sealed = decode(NULLIF(\(row.sealedBase64), ''), 'base64'),
                    key_id = NULLIF(\(row.keyID), '')
                WHERE resource_key = \(current.key) RETURNING resource_key, content, sealed, key_id
            )
            INSERT INTO resource_history (resource_key, type, id, version_id, last_updated, deleted, method, content, sealed, key_id)
            SELECT resource_key, \(type), \(id), \(version), \(now), false, \(method.rawValue), content, sealed, key_id FROM updated
            """, logger: logger)
        var index = SearchIndexRows()
        index.append(type: type, resource: row.plain, ordinal: 1)
        try await index.replace(keys: [current.key], on: connection, logger: logger)
        try await replaceBlindIndex(key: current.key, entries: store.blindEntries(type: type, resource: prepared))
        // Authorship comes from creating a resource, not from editing one.
        try await replaceAccessIndex(key: current.key, AccessIndex(type: type, id: id, resource: prepared, author: nil))
        let stored = StoredResource(
            type: type, id: id, versionID: version, lastUpdated: now, deleted: false, json: json, method: method)
        return (stored, current.deleted)
    }

    func delete(type: String, id: String) async throws -> StoredResource? {
        guard let current = try await lockCurrent(type: type, id: id), !current.deleted else { return nil }
        let version = current.version + 1
        let now = StoreTimestamp.now()
        try await connection.rows(
            """
            WITH updated AS (
                UPDATE resource SET version_id = \(version), last_updated = \(now), deleted = true, content = NULL,
                    sealed = NULL, key_id = NULL
                WHERE resource_key = \(current.key) RETURNING resource_key
            )
            INSERT INTO resource_history (resource_key, type, id, version_id, last_updated, deleted, method)
            SELECT resource_key, \(type), \(id), \(version), \(now), true, 'DELETE' FROM updated
            """, logger: logger)
        try await SearchIndexRows().replace(keys: [current.key], on: connection, logger: logger)
        try await replaceBlindIndex(key: current.key, entries: [])
        // A deleted resource is in no compartment and makes no relationship.
        try await connection.rows("DELETE FROM resource_patient WHERE resource_key = \(current.key)", logger: logger)
        try await connection.rows(
            "DELETE FROM care_relationship WHERE resource_key = \(current.key) AND kind <> 'author'", logger: logger)
        return StoredResource(type: type, id: id, versionID: version, lastUpdated: now, deleted: true, json: nil, method: .delete)
    }

    func readForUpdate(type: String, id: String) async throws -> StoredResource? {
        let rows = try await connection.rows(
            """
            SELECT version_id, last_updated, deleted, content::text, sealed, key_id FROM resource
            WHERE type = \(type) AND id = \(id) FOR UPDATE
            """, logger: logger)
        for try await (version, lastUpdated, deleted, content, sealed, keyID)
            in rows.decode((Int, Date, Bool, String?, ByteBuffer?, String?).self) {
            if deleted { return nil }
            return StoredResource(
                type: type, id: id, versionID: version, lastUpdated: lastUpdated, deleted: false,
                json: try store.materialize(type: type, id: id, version: version, content: content, sealed: sealed, keyID: keyID),
                method: nil)
        }
        return nil
    }

    func lockExisting(_ keys: [(type: String, id: String)]) async throws -> Set<ResourceKey> {
        guard !keys.isEmpty else { return [] }
        let rows = try await connection.rows(
            """
            SELECT r.type, r.id FROM resource r
            JOIN unnest(\(keys.map(\.type))::text[], \(keys.map(\.id))::text[]) AS k(type, id) ON r.type = k.type AND r.id = k.id
            ORDER BY r.resource_key FOR UPDATE OF r
            """, logger: logger)
        var existing = Set<ResourceKey>()
        for try await (type, id) in rows.decode((String, String).self) { existing.insert(ResourceKey(type: type, id: id)) }
        return existing
    }

    func find(_ query: SearchQuery) async throws -> [StoredResource] {
        try await store.search(query, on: .connection(connection)).entries
    }

    private func lockCurrent(type: String, id: String) async throws -> (key: Int64, version: Int, deleted: Bool)? {
        let rows = try await connection.rows(
            "SELECT resource_key, version_id, deleted FROM resource WHERE type = \(type) AND id = \(id) FOR UPDATE",
            logger: logger)
        for try await (key, version, deleted) in rows.decode((Int64, Int, Bool).self) {
            return (key, version, deleted)
        }
        return nil
    }

    private func replaceBlindIndex(key: Int64, entries: [BlindIndex.Entry]) async throws {
        try await connection.rows("DELETE FROM blind_index WHERE resource_key = \(key)", logger: logger)
        guard !entries.isEmpty else { return }
        let params = entries.map(\.param)
        let hashes = entries.map { Data($0.hash).base64EncodedString() }
        try await connection.rows(
            """
            INSERT INTO blind_index (resource_key, param, hash)
            SELECT \(key), p, decode(h, 'base64') FROM unnest(\(params)::text[], \(hashes)::text[]) AS u(p, h)
            """, logger: logger)
    }

    /// Rewrites the compartment rows and the relationships the resource states; 'author'
    /// relationships stay, since who wrote in a patient's record does not change.
    private func replaceAccessIndex(key: Int64, _ access: AccessIndex) async throws {
        try await connection.rows("DELETE FROM resource_patient WHERE resource_key = \(key)", logger: logger)
        try await connection.rows(
            "DELETE FROM care_relationship WHERE resource_key = \(key) AND kind <> 'author'", logger: logger)
        let patients = Array(access.patientIDs)
        if !patients.isEmpty {
            try await connection.rows(
                "INSERT INTO resource_patient (resource_key, patient_id) SELECT \(key), p FROM unnest(\(patients)::text[]) AS p",
                logger: logger)
        }
        let care = access.careRelationships
        guard !care.isEmpty else { return }
        let practitioners = care.map(\.practitionerID)
        let carePatients = care.map(\.patientID)
        let kinds = care.map(\.kind.rawValue)
        try await connection.rows(
            """
            INSERT INTO care_relationship (practitioner_id, patient_id, kind, resource_key)
            SELECT pr, pa, k, \(key) FROM unnest(\(practitioners)::text[], \(carePatients)::text[], \(kinds)::text[]) AS u(pr, pa, k)
            ON CONFLICT DO NOTHING
            """, logger: logger)
    }
}

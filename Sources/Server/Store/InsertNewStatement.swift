import Foundation
import PostgresNIO

/// Inserts new resources with their history, search index, compartment and audit rows in one statement (data-modifying
/// CTEs), prepared once per connection. Used by plain creates and by transaction Bundles.
struct InsertNewStatement: PostgresPreparedStatement {
    static let sql = """
        WITH input AS (
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $5::text[], $6::text[],
                $\(16 + SearchIndexRows.parameterCount + AuditRows.parameterCount)::text[])
                WITH ORDINALITY AS u(type, id, content, sealed, key_id, method, ord)
        ), inserted AS (
            INSERT INTO resource (type, id, version_id, last_updated, content, sealed, key_id, index_version)
            SELECT type, id, 1, $4, content::jsonb, decode(NULLIF(sealed, ''), 'base64'), NULLIF(key_id, ''),
                \(SearchIndexRows.version)
            FROM input ORDER BY ord
            RETURNING resource_key, type, id, content, sealed, key_id
        ), keyed AS (
            SELECT inserted.resource_key, inserted.type, inserted.id, inserted.content, inserted.sealed, inserted.key_id,
                input.method, input.ord
            FROM inserted JOIN input USING (type, id)
        ), history AS (
            INSERT INTO resource_history (resource_key, type, id, version_id, last_updated, deleted, method, content, sealed, key_id)
            SELECT resource_key, type, id, 1, $4, false, method, content, sealed, key_id FROM keyed ORDER BY ord
        ), blind AS (
            INSERT INTO blind_index (resource_key, param, hash)
            SELECT keyed.resource_key, b.param, decode(b.hash, 'base64')
            FROM unnest($7::bigint[], $8::text[], $9::text[]) AS b(ord, param, hash)
            JOIN keyed ON keyed.ord = b.ord
        ), patients AS (
            INSERT INTO resource_patient (resource_key, patient_id)
            SELECT keyed.resource_key, p.patient_id
            FROM unnest($10::bigint[], $11::text[]) AS p(ord, patient_id)
            JOIN keyed ON keyed.ord = p.ord
        ), care AS (
            INSERT INTO care_relationship (practitioner_id, patient_id, kind, resource_key)
            SELECT c.practitioner_id, c.patient_id, c.kind, keyed.resource_key
            FROM unnest($12::bigint[], $13::text[], $14::text[], $15::text[]) AS c(ord, practitioner_id, patient_id, kind)
            JOIN keyed ON keyed.ord = c.ord
            ON CONFLICT DO NOTHING
        )\(SearchIndexRows.insertCTEs(first: 16)), audit AS (
        \(AuditRows.insertSQL(first: 16 + SearchIndexRows.parameterCount))
        )
        SELECT count(*) FROM keyed
        """
    typealias Row = Int64

    var types: [String] = []
    var ids: [String] = []
    var contents: [String] = []
    /// The HTTP method that made each version 1: POST, or PUT for an update that creates.
    var methods: [String] = []
    var lastUpdated: Date
    /// Search index rows of every parameter (migration 0004).
    var index = SearchIndexRows()
    /// Base64 of each resource's sealed elements, "" when nothing was sealed.
    var sealed: [String] = []
    /// The sealing key of each resource, "" when nothing was sealed.
    var keyIDs: [String] = []
    /// Blind-index rows: the resource's ordinal, the parameter and the base64 HMAC.
    var blindOrdinals: [Int64] = []
    var blindParams: [String] = []
    var blindHashes: [String] = []
    /// Compartment rows: the resource's ordinal and a patient id.
    var patientOrdinals: [Int64] = []
    var patientIDs: [String] = []
    /// Care-relationship rows: ordinal, practitioner, patient, kind.
    var careOrdinals: [Int64] = []
    var carePractitioners: [String] = []
    var carePatients: [String] = []
    var careKinds: [String] = []
    /// AuditEvents committed with the write (one statement, so they land together or not at all).
    var audit = AuditRows()

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 16 + SearchIndexRows.parameterCount + AuditRows.parameterCount)
        bindings.append(types)
        bindings.append(ids)
        bindings.append(contents)
        bindings.append(lastUpdated)
        bindings.append(sealed)
        bindings.append(keyIDs)
        bindings.append(blindOrdinals)
        bindings.append(blindParams)
        bindings.append(blindHashes)
        bindings.append(patientOrdinals)
        bindings.append(patientIDs)
        bindings.append(careOrdinals)
        bindings.append(carePractitioners)
        bindings.append(carePatients)
        bindings.append(careKinds)
        index.appendBindings(to: &bindings)
        audit.appendBindings(to: &bindings)
        bindings.append(methods)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(Int64.self)
    }
}

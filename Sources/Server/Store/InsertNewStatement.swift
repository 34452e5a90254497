import Foundation
import PostgresNIO

/// Inserts new resources with their history, search index, compartment and audit rows in one statement (data-modifying
/// CTEs), prepared once per connection. Used by plain creates and by transaction Bundles.
struct InsertNewStatement: PostgresPreparedStatement {
    static let name = "medrec_insert_new"
    /// The text is the same for every batch (only the bound arrays differ), so it is rendered once
    /// from an empty one and prepared once per connection.
    static let sql = InsertNewStatement(lastUpdated: Date(timeIntervalSince1970: 0)).rendered().text

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
        rendered().parameters.bindings
    }

    /// The statement's text and this batch's values, bound in the order the text names them.
    private func rendered() -> (text: String, parameters: SQLParameters) {
        var parameters = SQLParameters()
        func p<Value: PostgresDynamicTypeEncodable>(_ values: Value, _ type: String) -> String {
            "\(parameters.bind(values))::\(type)"
        }
        let lastUpdated = parameters.bind(self.lastUpdated)
        let input = "unnest(\(p(types, "text[]")), \(p(ids, "text[]")), \(p(contents, "text[]")), \(p(sealed, "text[]")), "
            + "\(p(keyIDs, "text[]")), \(p(methods, "text[]")))"
        let blind = "unnest(\(p(blindOrdinals, "bigint[]")), \(p(blindParams, "text[]")), \(p(blindHashes, "text[]")))"
        let patients = "unnest(\(p(patientOrdinals, "bigint[]")), \(p(patientIDs, "text[]")))"
        let care = "unnest(\(p(careOrdinals, "bigint[]")), \(p(carePractitioners, "text[]")), \(p(carePatients, "text[]")), "
            + "\(p(careKinds, "text[]")))"
        let indexCTEs = index.insertCTEs(&parameters)
        let auditInsert = audit.insertSQL(&parameters)
        let text = """
            WITH input AS (
                SELECT * FROM \(input)
                    WITH ORDINALITY AS u(type, id, content, sealed, key_id, method, ord)
            ), inserted AS (
                INSERT INTO resource (type, id, version_id, last_updated, content, sealed, key_id, index_version)
                SELECT type, id, 1, \(lastUpdated), content::jsonb, decode(NULLIF(sealed, ''), 'base64'), NULLIF(key_id, ''),
                    \(SearchIndexRows.version)
                FROM input ORDER BY ord
                RETURNING resource_key, type, id, content, sealed, key_id
            ), keyed AS (
                SELECT inserted.resource_key, inserted.type, inserted.id, inserted.content, inserted.sealed, inserted.key_id,
                    input.method, input.ord
                FROM inserted JOIN input USING (type, id)
            ), history AS (
                INSERT INTO resource_history (resource_key, type, id, version_id, last_updated, deleted, method, content, sealed, key_id)
                SELECT resource_key, type, id, 1, \(lastUpdated), false, method, content, sealed, key_id FROM keyed ORDER BY ord
            ), blind AS (
                INSERT INTO blind_index (resource_key, param, hash)
                SELECT keyed.resource_key, b.param, decode(b.hash, 'base64')
                FROM \(blind) AS b(ord, param, hash)
                JOIN keyed ON keyed.ord = b.ord
            ), patients AS (
                INSERT INTO resource_patient (resource_key, patient_id)
                SELECT keyed.resource_key, p.patient_id
                FROM \(patients) AS p(ord, patient_id)
                JOIN keyed ON keyed.ord = p.ord
            ), care AS (
                INSERT INTO care_relationship (practitioner_id, patient_id, kind, resource_key)
                SELECT c.practitioner_id, c.patient_id, c.kind, keyed.resource_key
                FROM \(care) AS c(ord, practitioner_id, patient_id, kind)
                JOIN keyed ON keyed.ord = c.ord
                ON CONFLICT DO NOTHING
            )\(indexCTEs), audit AS (
            \(auditInsert)
            )
            SELECT count(*) FROM keyed
            """
        return (text, parameters)
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(Int64.self)
    }
}

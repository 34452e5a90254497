import PostgresNIO

/// The statements of the reindex (`Reindexer`, `medrec reindex`): which rows an older extraction
/// indexed, one batch's lock, and the access rows and version written back with its new index.
enum ReindexStatements {
    /// Locks up to `limit` rows indexed by an older extraction that no writer holds, returning
    /// `(resource_key, type, id, deleted, content)`. Run inside a transaction.
    static func lockStaleBatch(limit: Int) -> PostgresQuery {
        """
        SELECT resource_key, type, id, deleted, content::text FROM resource
        WHERE index_version < \(unescaped: String(SearchIndexRows.version))
        ORDER BY resource_key LIMIT \(Int64(limit)) FOR UPDATE SKIP LOCKED
        """
    }

    /// Replaces the compartment rows and stated care relationships of `keys` ('author'
    /// relationships are history and stay) and marks the rows as indexed by this version.
    static func replaceAccessRows(
        keys: [Int64], patientKeys: [Int64], patientIDs: [String],
        careKeys: [Int64], carePractitioners: [String], carePatients: [String], careKinds: [String]
    ) -> PostgresQuery {
        """
        WITH removed AS (DELETE FROM resource_patient WHERE resource_key = ANY(\(keys)::bigint[])),
        removed_care AS (DELETE FROM care_relationship WHERE resource_key = ANY(\(keys)::bigint[]) AND kind <> 'author'),
        patients AS (
            INSERT INTO resource_patient (resource_key, patient_id)
            SELECT * FROM unnest(\(patientKeys)::bigint[], \(patientIDs)::text[])
        ), care AS (
            INSERT INTO care_relationship (practitioner_id, patient_id, kind, resource_key)
            SELECT pr, pa, k, rk FROM unnest(\(carePractitioners)::text[], \(carePatients)::text[], \(careKinds)::text[],
                \(careKeys)::bigint[]) AS u(pr, pa, k, rk)
            ON CONFLICT DO NOTHING
        )
        UPDATE resource SET index_version = \(unescaped: String(SearchIndexRows.version)) WHERE resource_key = ANY(\(keys)::bigint[])
        """
    }

    /// One row: how many rows wait for the current extraction.
    static let pending: PostgresQuery =
        "SELECT count(*) FROM resource WHERE index_version < \(unescaped: String(SearchIndexRows.version))"

    /// Marks every row indexed by version 2 or later as version 2 (compartment rows current, search
    /// index stale), so the next reindex redoes the whole search index (`medrec reindex --all`).
    static let markAllStale: PostgresQuery = "UPDATE resource SET index_version = 2 WHERE index_version >= 2"
}

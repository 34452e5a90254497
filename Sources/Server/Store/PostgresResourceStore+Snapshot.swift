import FHIRModels
import Foundation
import PostgresNIO

/// One resource as a bulk export's snapshot sees it.
public struct SnapshotResource: Sendable {
    public let key: Int64
    public let type: String
    public let id: String
    public let versionID: Int
    public let lastUpdated: Date
    public let deleted: Bool
    /// The resource's JSON with its sealed elements restored; nil for a deletion.
    public let json: [UInt8]?
}

/// Which resources a snapshot read returns.
public struct SnapshotSelection: Sendable {
    /// `pg_current_snapshot()` as text, and the highest history key it could see.
    public var snapshot: String
    public var maxHistoryKey: Int64
    /// Only these types (nil: all).
    public var types: [String]?
    /// Only these patients' compartments and Patient resources (nil: everyone).
    public var patients: [String]?
    /// Only versions written at or after this instant; with it, deletions are returned too.
    public var since: Date?
    /// `_typeFilter`: for these types, only resources matching one of the queries.
    public var typeFilters: [String: [SearchQuery]] = [:]

    public init(snapshot: String, maxHistoryKey: Int64) {
        self.snapshot = snapshot
        self.maxHistoryKey = maxHistoryKey
    }
}

extension PostgresResourceStore {
    /// The next `limit` resources after `afterKey` (in `resource_key` order) as the snapshot saw
    /// them: per resource, the newest history row whose transaction the snapshot sees (`txid`,
    /// migration 0005), so versions written after the kick-off are not seen, and a resource
    /// created after it is skipped. Deleted versions come back only with `since`.
    public func snapshotBatch(_ selection: SnapshotSelection, after afterKey: Int64, limit: Int) async throws -> [SnapshotResource] {
        var sql = SearchSQL()
        let snapshot = sql.bind(selection.snapshot)
        let maxKey = sql.bind(selection.maxHistoryKey)
        var conditions = ["r.resource_key > \(sql.bind(afterKey))"]
        if let types = selection.types { conditions.append("r.type = ANY(\(sql.bind(types))::text[])") }
        if let patients = selection.patients {
            let bound = sql.bind(patients)
            conditions.append(
                "((r.type = 'Patient' AND r.id = ANY(\(bound)::text[])) OR r.resource_key IN "
                    + "(SELECT resource_key FROM resource_patient WHERE patient_id = ANY(\(bound)::text[])))")
        }
        if let since = selection.since {
            conditions.append("h.last_updated >= \(sql.bind(since))")
        } else {
            conditions.append("NOT h.deleted")
        }
        if !selection.typeFilters.isEmpty {
            let filtered = selection.typeFilters.keys.sorted()
            var alternatives = ["r.type <> ALL(\(sql.bind(filtered))::text[])"]
            for type in filtered {
                for query in selection.typeFilters[type] ?? [] {
                    alternatives.append("(\(sql.whereClause(query)))")
                }
            }
            conditions.append("(" + alternatives.joined(separator: " OR ") + ")")
        }
        let text = """
            SELECT r.resource_key, h.type, h.id, h.version_id, h.last_updated, h.deleted, h.content::text,
                h.sealed, h.key_id
            FROM resource r
            CROSS JOIN LATERAL (
                SELECT * FROM resource_history h
                WHERE h.resource_key = r.resource_key AND h.history_key <= \(maxKey)
                    AND (h.txid < pg_snapshot_xmin(\(snapshot)::pg_snapshot) OR pg_visible_in_snapshot(h.txid, \(snapshot)::pg_snapshot))
                ORDER BY h.version_id DESC LIMIT 1) h
            WHERE \(conditions.joined(separator: " AND "))
            ORDER BY r.resource_key LIMIT \(sql.bind(limit))
            """
        return try await run {
            let rows = try await client.rows(PostgresQuery(unsafeSQL: text, binds: sql.bindings), logger: logger)
            var result: [SnapshotResource] = []
            result.reserveCapacity(limit)
            for try await (key, type, id, version, lastUpdated, deleted, content, sealed, keyID)
                in rows.decode((Int64, String, String, Int, Date, Bool, String?, ByteBuffer?, String?).self) {
                let json = deleted ? nil : try materialize(type: type, id: id, version: version, content: content, sealed: sealed, keyID: keyID)
                result.append(SnapshotResource(
                    key: key, type: type, id: id, versionID: version, lastUpdated: lastUpdated, deleted: deleted, json: json))
            }
            return result
        }
    }

    /// About how many current resources of these types (nil: all) there are, for progress.
    public func estimateCount(types: [String]?) async throws -> Int64 {
        try await run {
            let rows: FetchedRows<PostgresRow>
            if let types {
                rows = try await client.rows("SELECT count(*) FROM resource WHERE type = ANY(\(types)) AND NOT deleted", logger: logger)
            } else {
                rows = try await client.rows("SELECT count(*) FROM resource WHERE NOT deleted", logger: logger)
            }
            for try await count in rows.decode(Int64.self) { return count }
            return 0
        }
    }
}

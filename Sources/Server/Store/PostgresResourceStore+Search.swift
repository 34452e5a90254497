import FHIRModels
import Foundation
import Logging
import PostgresNIO

extension PostgresResourceStore {
    /// Email and phone search through the blind index, where they are sealed.
    var sealedContactSearch: SealedContactSearch? {
        guard let blindIndex, let sealer else { return nil }
        return SealedContactSearch(blindIndex: blindIndex, policy: sealer.policy)
    }

    public func search(_ query: SearchQuery) async throws -> SearchPage {
        try await run { try await tolerant { client in try await search(query, on: .client(client)) } }
    }

    public func count(_ query: SearchQuery, estimate: Bool) async throws -> Int {
        try await run { try await tolerant { client in
            var sql = SearchSQL()
            if estimate {
                let text = sql.estimateStatement(query)
                let rows = try await client.rows(PostgresQuery(unsafeSQL: text, binds: sql.bindings), logger: logger)
                for try await (plan) in rows.decode(String.self) {
                    // EXPLAIN (FORMAT JSON): [{"Plan": {"Plan Rows": n, ...}}]
                    let json = try FHIRJSON.parse(plan)
                    if let rows = json.arrayValue?.first?["Plan"]?["Plan Rows"]?.numberLexical, let value = Double(rows) { return Int(value) }
                }
                return 0
            }
            let text = sql.countStatement(query)
            let rows = try await client.rows(PostgresQuery(unsafeSQL: text, binds: sql.bindings), logger: logger)
            for try await count in rows.decode(Int64.self) { return Int(count) }
            return 0
        } }
    }

    func search(_ query: SearchQuery, on executor: Executor) async throws -> SearchPage {
        guard query.count > 0 else { return SearchPage(entries: [], next: nil) }
        var sql = SearchSQL()
        let text = sql.pageStatement(query)
        let rows = try await executor.query(PostgresQuery(unsafeSQL: text, binds: sql.bindings), logger: logger)
        var entries: [StoredResource] = []
        var lastValues: [String?] = []
        for try await row in rows {
            let cells = row.makeRandomAccess()
            let stored = try storedResource(from: cells)
            if entries.count == query.count {
                // The extra row: there is a next page, starting after the last one shown.
                return SearchPage(entries: entries, next: SearchCursor(key: entries[entries.count - 1].key ?? 0, values: lastValues))
            }
            lastValues = try (0..<query.sort.count).map { try cells[9 + $0].decode(String?.self, context: .default) }
            entries.append(stored)
        }
        return SearchPage(entries: entries, next: nil)
    }

    /// A row selected with `SearchSQL.resultColumns` (the compartment, when current, in `compartmentPatients`).
    func storedResource(from cells: PostgresRandomAccessRow) throws -> StoredResource {
        let key = try cells[0].decode(Int64.self, context: .default)
        let type = try cells[1].decode(String.self, context: .default)
        let id = try cells[2].decode(String.self, context: .default)
        let version = try cells[3].decode(Int.self, context: .default)
        let lastUpdated = try cells[4].decode(Date.self, context: .default)
        let content = try cells[5].decode(String?.self, context: .default)
        let sealed = try cells[6].decode(ByteBuffer?.self, context: .default)
        let keyID = try cells[7].decode(String?.self, context: .default)
        var stored = StoredResource(
            type: type, id: id, versionID: version, lastUpdated: lastUpdated, deleted: false,
            json: try materialize(type: type, id: id, version: version, content: content, sealed: sealed, keyID: keyID),
            method: nil)
        stored.key = key
        if let compartment = try cells[8].decode([String]?.self, context: .default) { stored.compartmentPatients = Set(compartment) }
        return stored
    }

    /// `_include` (the resources `sources` reference through each include's parameter) or
    /// `_revinclude` (the resources referencing `sources` through it), at most `limit`.
    public func included(
        _ includes: [SearchQuery.Include], reverse: Bool, from sources: [StoredResource], limit: Int
    ) async throws -> [StoredResource] {
        var result: [StoredResource] = []
        var seen = Set(sources.compactMap(\.key))
        for include in includes where result.count < limit {
            var sql = SearchSQL()
            let text: String
            if reverse {
                let targets = sources.filter { include.targetType == nil || $0.type == include.targetType }
                guard !targets.isEmpty else { continue }
                text = """
                    SELECT DISTINCT ON (r.resource_key) \(SearchSQL.resultColumns)
                    FROM search_reference f JOIN resource r ON r.resource_key = f.resource_key
                    WHERE f.param = \(sql.bind(include.param)) AND NOT r.deleted
                    AND (f.target_type, f.target_id) IN (
                        SELECT * FROM unnest(\(sql.bind(targets.map(\.type)))::text[], \(sql.bind(targets.map(\.id)))::text[]))
                    ORDER BY r.resource_key LIMIT \(sql.bind(Int64(limit - result.count)))
                    """
            } else {
                // search_reference's columns are COLLATE "C", resource's are not: compared in the
                // default collation, each reference is one probe of resource's (type, id) index
                // (compared as they were, the planner hashed every resource of the type: 0.5 s at 1M).
                let keys = sources.filter { $0.type == include.sourceType }.compactMap(\.key)
                guard !keys.isEmpty else { continue }
                let typeFilter = include.targetType.map { "AND r.type = \(sql.bind($0))" } ?? ""
                text = """
                    SELECT DISTINCT ON (r.resource_key) \(SearchSQL.resultColumns)
                    FROM search_reference f
                    JOIN resource r ON r.type = f.target_type COLLATE "default" AND r.id = f.target_id COLLATE "default"
                    WHERE f.resource_key = ANY(\(sql.bind(keys))::bigint[]) AND f.param = \(sql.bind(include.param))
                    AND NOT r.deleted \(typeFilter)
                    ORDER BY r.resource_key LIMIT \(sql.bind(Int64(limit - result.count)))
                    """
            }
            let rows = try await run {
                try await tolerant { client in try await client.rows(PostgresQuery(unsafeSQL: text, binds: sql.bindings), logger: logger) }
            }
            for try await row in rows {
                let stored = try storedResource(from: row.makeRandomAccess())
                if let key = stored.key, seen.insert(key).inserted { result.append(stored) }
            }
        }
        return result
    }
}

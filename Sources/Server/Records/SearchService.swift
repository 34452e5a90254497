import FHIRModels
import Foundation

/// Search, once, for every face: scope check → restrict to what the caller may see (in SQL)
/// → search → total → per-result access decision → includes → audit. The FHIR face renders
/// the result as a searchset Bundle, the platform face as a list of models, a transaction
/// Bundle as an entry; none of them repeats a step.
public struct SearchService: Sendable {
    let store: any ResourceStore
    let security: SecurityServices
    /// The most included resources one page may carry.
    let maxIncluded: Int

    public init(store: any ResourceStore, security: SecurityServices, maxIncluded: Int) {
        self.store = store
        self.security = security
        self.maxIncluded = maxIncluded
    }

    /// What one search asks, besides who asks.
    public struct Request: Sendable {
        /// The parsed query (the face parsed it with its own strictness and base URL).
        public var query: SearchQuery
        /// The raw parameters, for naming other patients (`patient=`, `subject=`) and the audit log.
        public var items: [(key: String, value: String)]
        /// A compartment search or `$everything`: only this patient's compartment.
        public var compartmentPatient: String?
        public var interaction: AuditedInteraction = .searchType
        /// The type the audit record names (nil for system searches and `$everything`).
        public var auditType: String?
        /// The query as the audit log keeps it (bounded): what the caller wrote.
        public var queryText: String
        /// Whether the result carries every shown resource parsed (`matches`, `included`). A face
        /// that sends the stored JSON as it is (the FHIR face's compact JSON Bundle) says false and
        /// reads `matchRows`/`includedRows`, so no result is parsed unless deciding needed it.
        public var parseResources = true

        public init(query: SearchQuery, items: [(key: String, value: String)], compartmentPatient: String? = nil,
                    interaction: AuditedInteraction = .searchType, auditType: String?, queryText: String? = nil) {
            self.query = query
            self.items = items
            self.compartmentPatient = compartmentPatient
            self.interaction = interaction
            self.auditType = auditType
            self.queryText = queryText ?? String(items.map { "\($0.key)=\($0.value)" }.joined(separator: "&").prefix(2048))
        }
    }

    /// A page of what the caller may see.
    public struct Result: Sendable {
        /// The query as run (after access restrictions), for rendering (`_summary`, `_elements`, ignored parameters).
        public let query: SearchQuery
        /// The shown matches and included resources, each with its parsed resource when it was
        /// parsed (to decide, or because `Request.parseResources` asked), else nil and its JSON
        /// in `stored.json`.
        public let matchRows: [(stored: StoredResource, resource: JSONValue?)]
        public let includedRows: [(stored: StoredResource, resource: JSONValue?)]
        /// The parsed ones among them (all of them when `Request.parseResources`).
        public var matches: [(stored: StoredResource, resource: JSONValue)] { matchRows.compactMap(SearchService.withResource) }
        public var included: [(stored: StoredResource, resource: JSONValue)] { includedRows.compactMap(SearchService.withResource) }
        /// `_total=accurate|estimate` or `_summary=count`.
        public let total: Int?
        /// The opaque cursor of the next page.
        public let next: String?
    }

    public func search(_ request: Request, as caller: Caller) async throws -> Result {
        let access = AuditedAccess(try await security.confirmed(caller), security: security)
        // The search, its count and includes tolerate a read replica's lag (never the caller's own
        // writes'); access decisions and the audit stay on the primary.
        return try await store.routingReads(for: WriterKey(access.principal)) { try await search(request, access) }
    }

    private func search(_ request: Request, _ access: AuditedAccess) async throws -> Result {
        for type in request.query.types {
            try await access.requireSearchScope(on: type, request.interaction, query: request.queryText)
        }
        try await access.auditingDenials {
            try access.requireDirectorySearch(request.query, request.interaction, type: request.auditType, queryText: request.queryText)
        }
        var query = request.query
        if let patient = request.compartmentPatient {
            if query.types.isEmpty { query.anyType = true }
            query.common.append(.compartment(patients: [patient]))
        }
        let denial = try await access.restrictToVisible(
            &query, items: request.items, compartment: request.compartmentPatient, request.interaction, type: request.auditType,
            queryText: request.queryText)
        if query.summary == .count { query.count = 0 }
        let page = try await store.search(query)
        let total = try await total(of: query)
        let matches = try await access.visibleRows(
            page.entries, request.interaction, type: request.auditType, permission: .search, query: request.queryText)
        var records = matches.records
        if let denial { records.append(denial) }
        let sources = matches.shown.map(\.stored)
        var included: [(stored: StoredResource, resource: JSONValue?)] = []
        if !sources.isEmpty, !query.includes.isEmpty || !query.revincludes.isEmpty {
            // Included resources pass the same access decision as matches.
            let visible = try await access.visibleRows(
                try await includes(of: query, from: sources), request.interaction, type: request.auditType, permission: .read,
                query: request.queryText)
            included = visible.shown
            records += visible.records.filter { $0.outcome != .success || !$0.patientIDs.isEmpty }
        }
        var matchRows = try access.presented(matches.shown)
        included = try access.presented(included)
        if request.parseResources {
            matchRows = try Self.parsed(matchRows)
            included = try Self.parsed(included)
        }
        try await security.audit.record(records)
        return Result(
            query: query, matchRows: matchRows, includedRows: included, total: total,
            next: query.summary == .count ? nil : page.next?.token)
    }

    /// A search inside a transaction Bundle: the same restrictions and audit, the rows seen by
    /// the transaction, no paging.
    public func search(_ request: Request, in writer: RecordWriter) async throws -> [(stored: StoredResource, resource: JSONValue)] {
        let access = writer.access
        for type in request.query.types where !access.access.scopeAllows(.search, on: type) {
            throw AccessDenied(
                .forbidden, "the access token's scopes do not allow searching \(type)",
                record: access.record(request.interaction, type: type, decision: .deny("scope")))
        }
        try access.requireDirectorySearch(request.query, request.interaction, type: request.auditType, queryText: nil)
        var query = request.query
        let denial = try await access.restrictToVisible(
            &query, items: request.items, compartment: nil, request.interaction, type: request.auditType, queryText: nil)
        let visible = try await access.visible(
            try await writer.find(query), request.interaction, type: request.auditType, permission: .search, query: nil)
        var records = visible.records
        if let denial { records.append(denial) }
        try await writer.transaction.appendAudit(records)
        return try access.presented(visible.shown).compactMap(Self.withResource)
    }

    private func total(of query: SearchQuery) async throws -> Int? {
        if query.summary == .count || query.total == .accurate { return try await store.count(query, estimate: false) }
        if query.total == .estimate { return try await store.count(query, estimate: true) }
        return nil
    }

    /// `_include`/`_revinclude` of the page's matches, and once more (`:iterate`) of what they included.
    private func includes(of query: SearchQuery, from sources: [StoredResource]) async throws -> [StoredResource] {
        var included = try await store.included(query.includes, reverse: false, from: sources, limit: maxIncluded)
        included += try await store.included(query.revincludes, reverse: true, from: sources, limit: maxIncluded)
        let iterating = query.includes.filter(\.iterate)
        let iteratingReverse = query.revincludes.filter(\.iterate)
        if !included.isEmpty, !iterating.isEmpty || !iteratingReverse.isEmpty {
            var next = try await store.included(iterating, reverse: false, from: included, limit: maxIncluded)
            next += try await store.included(iteratingReverse, reverse: true, from: included, limit: maxIncluded)
            let known = Set(sources.compactMap(\.key) + included.compactMap(\.key))
            included += next.filter { $0.key.map { !known.contains($0) } ?? true }
        }
        return included
    }

    /// Rows with every resource parsed.
    private static func parsed(_ rows: [(stored: StoredResource, resource: JSONValue?)]) throws -> [(stored: StoredResource, resource: JSONValue?)] {
        try rows.map { ($0.stored, try $0.resource ?? $0.stored.resource()) }
    }

    fileprivate static func withResource(_ item: (stored: StoredResource, resource: JSONValue?)) -> (stored: StoredResource, resource: JSONValue)? {
        item.resource.map { (item.stored, $0) }
    }
}

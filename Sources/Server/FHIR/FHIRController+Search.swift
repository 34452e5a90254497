import FHIRModels
import Foundation
import Hummingbird

/// Search on the FHIR face: `GET /fhir/{type}`, `POST /fhir/{type}/_search`, system search
/// `GET /fhir?_type=…`, compartment search `GET /fhir/Patient/{id}/{type}` and
/// `GET /fhir/Patient/{id}/$everything`. Parsing is `SearchQueryParser`, SQL is `SearchSQL`,
/// access control and audit are the same `FHIRGuard` as reads.
extension FHIRController {
    /// What one search runs over, besides its parameters.
    struct SearchScope {
        var types: [String]
        /// The URL path after the base, for links (`Observation`, `Patient/1/Observation`).
        var path: String
        /// A compartment search or `$everything`: only this patient's compartment.
        var compartmentPatient: String? = nil
        var subtype = "search-type"
        var auditType: String?
        /// The parameters the self and next links carry, when they differ from what is searched
        /// (`$everything` searches `_lastUpdated` for `_since`, and its `_type` as types).
        var linkItems: [(key: String, value: String)]? = nil
    }

    func searchParser(_ request: Request, strict: Bool? = nil) -> SearchQueryParser {
        var parser = SearchQueryParser(
            baseURL: base(request), strict: strict ?? FHIRRequest.strictHandling(request), maxCount: limits.maxPageSize)
        parser.sealedContact = (store as? PostgresResourceStore)?.sealedContactSearch
        return parser
    }

    /// A conditional interaction's criteria: any search parameters, strictly parsed (an ignored
    /// parameter would widen what a conditional delete or update touches).
    func conditionalQuery(_ request: Request, type: String, items: [(key: String, value: String)]) throws -> SearchQuery {
        try Self.conditionalQuery(parser: searchParser(request, strict: true), type: type, items: items)
    }

    static func conditionalQuery(parser: SearchQueryParser, type: String, items: [(key: String, value: String)]) throws -> SearchQuery {
        let filters = items.filter { !SearchQueryParser.resultParameters.contains($0.key) }
        guard !filters.isEmpty else { throw FHIRHTTPError.badRequest("a conditional interaction needs search criteria") }
        var query = try parser.parse(types: [type], items: filters)
        query.count = 2
        return query
    }

    // MARK: - Routes

    @Sendable func search(_ request: Request, context: Context) async throws -> Response {
        try await handle {
            let type = try self.request.resourceType(context)
            let items = Self.items(request.uri.queryParameters)
            return try await runSearch(request, context, scope: SearchScope(types: [type], path: type, auditType: type), items: items)
        }
    }

    /// `POST [type]/_search`: the parameters in a form-encoded body (and the URL), same answer as GET.
    @Sendable func searchPost(_ request: Request, context: Context) async throws -> Response {
        try await handle {
            let type = try self.request.resourceType(context)
            let contentType = request.headers[.contentType]?.lowercased() ?? ""
            guard contentType.hasPrefix("application/x-www-form-urlencoded") else {
                throw FHIRHTTPError.unsupportedMediaType("_search takes an application/x-www-form-urlencoded body")
            }
            let body = try await self.request.bodyBytes(request)
            var items: [(key: String, value: String)] = Self.items(request.uri.queryParameters)
            items.append(contentsOf: FHIRRequest.queryItems(Substring(decoding: body, as: UTF8.self)))
            return try await runSearch(request, context, scope: SearchScope(types: [type], path: type, auditType: type), items: items)
        }
    }

    /// `GET /fhir?_type=A,B&…`; without `_type`, every type, with `_id`/`_lastUpdated` only.
    @Sendable func systemSearch(_ request: Request, context: Context) async throws -> Response {
        try await handle {
            let items = Self.items(request.uri.queryParameters)
            var types: [String] = []
            for (key, value) in items where key == "_type" {
                for name in value.split(separator: ",").map(String.init) {
                    guard FHIRMetadata.resource(named: name) != nil else {
                        throw FHIRHTTPError.badRequest("_type names an unknown resource type", expression: "_type")
                    }
                    if !types.contains(name) { types.append(name) }
                }
            }
            return try await runSearch(
                request, context, scope: SearchScope(types: types, path: "", subtype: "search-system", auditType: nil), items: items)
        }
    }

    /// `GET /fhir/Patient/{id}/{type}` (compartment search) and `GET /fhir/Patient/{id}/$everything`.
    @Sendable func compartmentSearch(_ request: Request, context: Context) async throws -> Response {
        try await handle {
            let compartment = try self.request.resourceType(context)
            let id = try self.request.resourceID(context)
            let target = context.parameters.get("target") ?? ""
            guard compartment == "Patient" else {
                throw FHIRHTTPError.badRequest("only Patient compartments are supported", code: .notSupported)
            }
            var items = Self.items(request.uri.queryParameters)
            if target == "$everything" {
                return try await everything(request, context, patient: id, items: &items)
            }
            guard FHIRMetadata.resource(named: target) != nil else { throw FHIRHTTPError.notFound("this resource type is not supported") }
            guard PatientCompartment.resourceTypes.contains(target) else {
                throw FHIRHTTPError.badRequest("\(target) is not in the Patient compartment", code: .notSupported)
            }
            return try await runSearch(
                request, context,
                scope: SearchScope(types: [target], path: "Patient/\(id)/\(target)", compartmentPatient: id, auditType: target),
                items: items)
        }
    }

    /// `$everything` (R4 Patient operation): the patient and their whole compartment, paged,
    /// with `_since`, `_type` and `_count`.
    private func everything(_ request: Request, _ context: Context, patient id: String, items: inout [(key: String, value: String)]) async throws -> Response {
        var types: [String] = []
        var rest: [(key: String, value: String)] = []
        for (key, value) in items {
            switch key {
            case "_type":
                for name in value.split(separator: ",").map(String.init) {
                    guard FHIRMetadata.resource(named: name) != nil else {
                        throw FHIRHTTPError.badRequest("_type names an unknown resource type", expression: "_type")
                    }
                    types.append(name)
                }
            case "_since":
                rest.append(("_lastUpdated", "ge" + value))
            case "_count", "_cursor", "_format", "_pretty", "_elements", "_summary":
                rest.append((key, value))
            case "start", "end":
                throw FHIRHTTPError.badRequest("$everything does not support start and end", code: .notSupported, expression: key)
            default:
                throw FHIRHTTPError.badRequest("$everything supports _since, _type and _count", code: .notSupported, expression: String(key.prefix(64)))
            }
        }
        // An unknown or unreadable patient is 404, like a read.
        let guarded = try await guarded(request, context)
        do {
            let current = try await store.read(type: "Patient", id: id)
            _ = try await guarded.readable(current, subtype: "everything")
        } catch let error as StoreError {
            await guarded.auditFailure("everything", action: .read, type: "Patient", id: id, error: error)
            throw error
        }
        return try await runSearch(
            request, context,
            scope: SearchScope(
                types: types, path: "Patient/\(id)/$everything", compartmentPatient: id, subtype: "everything", auditType: nil,
                linkItems: items),
            items: rest, guarded: guarded)
    }

    // MARK: - Running a search

    static func items(_ parameters: some Sequence<(key: Substring, value: Substring)>) -> [(key: String, value: String)] {
        parameters.map { (String($0.key), String($0.value)) }
    }

    func runSearch(
        _ request: Request, _ context: Context, scope: SearchScope, items: [(key: String, value: String)],
        guarded existing: FHIRGuard? = nil
    ) async throws -> Response {
        let format = try FHIRFormat.response(for: request)
        let guarded: FHIRGuard
        if let existing { guarded = existing } else { guarded = try await self.guarded(request, context) }
        let queryText = String(items.map { "\($0.key)=\($0.value)" }.joined(separator: "&").prefix(2048))
        for type in scope.types where !guarded.access.scopeAllows(.search, on: type) {
            try await security.audit.record(guarded.record(scope.subtype, action: .read, type: type, decision: .deny("scope"), query: queryText))
            throw FHIRHTTPError(status: .forbidden, code: .forbidden, "the access token's scopes do not allow searching \(type)")
        }
        if scope.types == ["AuditEvent"], scope.compartmentPatient == nil {
            let count = try items.first { $0.key == "_count" }.map { pair -> Int in
                guard let value = Int(pair.value), value >= 0 else { throw FHIRHTTPError.badRequest("_count must be a non-negative integer") }
                return min(value, limits.maxPageSize)
            } ?? 50
            return try await AuditEventSearch(client: security.audit.client, logger: security.audit.logger)
                .search(request: request, items: items.filter { $0.key != "_count" && $0.key != "_format" && $0.key != "_pretty" },
                        count: count, guard: guarded, base: base(request), format: format)
        }
        if scope.types.contains("AuditEvent") {
            throw FHIRHTTPError.badRequest("AuditEvents are searched on their own, at /fhir/AuditEvent", code: .notSupported)
        }
        var query = try searchParser(request).parse(types: scope.types, items: items)
        if scope.types.isEmpty, scope.compartmentPatient != nil { query.anyType = true }
        if let patient = scope.compartmentPatient { query.common.append(.compartment(patients: [patient])) }
        let denial = try await guarded.restrictToVisible(
            &query, items: items, compartment: scope.compartmentPatient, subtype: scope.subtype, type: scope.auditType,
            queryText: queryText)
        if query.summary == .count { query.count = 0 }
        let page = try await store.search(query)
        var total: Int? = nil
        if query.summary == .count || query.total == .accurate {
            total = try await store.count(query, estimate: false)
        } else if query.total == .estimate {
            total = try await store.count(query, estimate: true)
        }
        let permission: SMARTPermission = .search
        let matches = try await guarded.visible(
            page.entries, subtype: scope.subtype, type: scope.auditType, permission: permission, query: queryText)
        var records = matches.records
        if let denial { records.append(denial) }
        // Included resources pass the same access decision as matches.
        var includedShown: [(stored: StoredResource, resource: JSONValue?)] = []
        if !query.includes.isEmpty || !query.revincludes.isEmpty, !matches.shown.isEmpty {
            let sources = matches.shown.map(\.stored)
            let limit = limits.maxPageSize
            var included = try await store.included(query.includes, reverse: false, from: sources, limit: limit)
            included += try await store.included(query.revincludes, reverse: true, from: sources, limit: limit)
            let iterating = query.includes.filter(\.iterate)
            let iteratingReverse = query.revincludes.filter(\.iterate)
            if !included.isEmpty, !iterating.isEmpty || !iteratingReverse.isEmpty {
                var next = try await store.included(iterating, reverse: false, from: included, limit: limit)
                next += try await store.included(iteratingReverse, reverse: true, from: included, limit: limit)
                let known = Set(sources.compactMap(\.key) + included.compactMap(\.key))
                included += next.filter { $0.key.map { !known.contains($0) } ?? true }
            }
            let visibleIncluded = try await guarded.visible(
                included, subtype: scope.subtype, type: scope.auditType, permission: .read, query: queryText)
            includedShown = visibleIncluded.shown
            records += visibleIncluded.records.filter { $0.outcome != .success || !$0.patientIDs.isEmpty }
        }
        try await security.audit.record(records)
        let base = base(request)
        var bundle = JSONObject()
        bundle["resourceType"] = .string("Bundle")
        bundle["type"] = .string("searchset")
        if let total { bundle["total"] = .number(String(total)) }
        let selfItems = (scope.linkItems ?? items).filter { $0.key != "_cursor" }
        let path = scope.path.isEmpty ? base : "\(base)/\(scope.path)"
        var links: [JSONValue] = [.object(["relation": .string("self"), "url": .string(Self.url(path, selfItems))])]
        if let next = page.next, query.summary != .count {
            var nextItems: [(key: String, value: String)] = selfItems
            nextItems.append((key: "_cursor", value: next.token))
            links.append(.object(["relation": .string("next"), "url": .string(Self.url(path, nextItems))]))
        }
        bundle["link"] = .array(links)
        var entries: [JSONValue] = []
        if query.summary != .count {
            let shaper = SearchResultShaper(summary: query.summary, elements: query.elements)
            for (stored, resource) in matches.shown {
                guard let resource else { continue }
                entries.append(Self.entry(base: base, stored: stored, resource: shaper.shape(resource), mode: "match"))
            }
            for (stored, resource) in includedShown {
                guard let resource else { continue }
                entries.append(Self.entry(base: base, stored: stored, resource: shaper.shape(resource), mode: "include"))
            }
        }
        if !query.ignored.isEmpty {
            let issues = query.ignored.map {
                OutcomeIssue(severity: .warning, code: .notSupported, diagnostics: "unknown or unsupported search parameter, ignored", expression: $0)
            }
            entries.append(.object([
                "resource": issues.operationOutcome(),
                "search": .object(["mode": .string("outcome")]),
            ]))
        }
        if !entries.isEmpty { bundle["entry"] = .array(entries) }
        return FHIRResponse.make(status: .ok, resource: .object(bundle), format: format, pretty: FHIRFormat.pretty(request))
    }

    static func entry(base: String, stored: StoredResource, resource: JSONValue, mode: String) -> JSONValue {
        .object([
            "fullUrl": .string("\(base)/\(stored.type)/\(stored.id)"),
            "resource": resource,
            "search": .object(["mode": .string(mode)]),
        ])
    }

    /// `path?k=v&…` with each key and value percent-encoded.
    static func url(_ path: String, _ items: [(key: String, value: String)]) -> String {
        guard !items.isEmpty else { return path }
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+?#")
        let query = items.map { item in
            (item.key.addingPercentEncoding(withAllowedCharacters: allowed) ?? "") + "="
                + (item.value.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")
        }
        return path + "?" + query.joined(separator: "&")
    }
}

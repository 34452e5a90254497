import FHIRModels
import Foundation
import Hummingbird

/// Search on the FHIR face: `GET /fhir/{type}`, `POST /fhir/{type}/_search`, system search
/// `GET /fhir?_type=…`, compartment search `GET /fhir/Patient/{id}/{type}` and
/// `GET /fhir/Patient/{id}/$everything`. The face parses (`SearchQueryParser`) and renders the
/// searchset Bundle; `SearchService` restricts, searches, decides and audits.
extension FHIRController {
    /// What one search runs over, besides its parameters.
    struct SearchScope {
        var types: [String]
        /// The URL path after the base, for links (`Observation`, `Patient/1/Observation`).
        var path: String
        /// A compartment search or `$everything`: only this patient's compartment.
        var compartmentPatient: String? = nil
        var interaction: AuditedInteraction = .searchType
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
                request, context, scope: SearchScope(types: types, path: "", interaction: .searchSystem, auditType: nil), items: items)
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
        let caller = try await records.confirmed(try context.caller(request))
        try await records.requireReadable(type: "Patient", id: id, .everything, as: caller)
        return try await runSearch(
            request, caller,
            scope: SearchScope(
                types: types, path: "Patient/\(id)/$everything", compartmentPatient: id, interaction: .everything, auditType: nil,
                linkItems: items),
            items: rest)
    }

    // MARK: - Running a search

    static func items(_ parameters: some Sequence<(key: Substring, value: Substring)>) -> [(key: String, value: String)] {
        parameters.map { (String($0.key), String($0.value)) }
    }

    func runSearch(_ request: Request, _ context: Context, scope: SearchScope, items: [(key: String, value: String)]) async throws -> Response {
        try await runSearch(request, try context.caller(request), scope: scope, items: items)
    }

    func runSearch(_ request: Request, _ caller: Caller, scope: SearchScope, items: [(key: String, value: String)]) async throws -> Response {
        let format = try FHIRFormat.response(for: request)
        if scope.types == ["AuditEvent"], scope.compartmentPatient == nil {
            return try await auditEventSearch(request, caller, items: items, format: format)
        }
        if scope.types.contains("AuditEvent") {
            throw FHIRHTTPError.badRequest("AuditEvents are searched on their own, at /fhir/AuditEvent", code: .notSupported)
        }
        let query = try searchParser(request).parse(types: scope.types, items: items)
        let pretty = FHIRFormat.pretty(request)
        // Compact JSON of whole resources: each entry's stored JSON goes into the Bundle as it is
        // (as a read sends it), without parsing and re-serializing it.
        let splice = format == .json && !pretty && query.elements == nil && (query.summary == nil || query.summary == .false)
        var searchRequest = SearchService.Request(
            query: query, items: items, compartmentPatient: scope.compartmentPatient, interaction: scope.interaction,
            auditType: scope.auditType)
        searchRequest.parseResources = !splice
        let result = try await searches.search(searchRequest, as: caller)
        if splice {
            return FHIRResponse.make(status: .ok, bytes: try splicedSearchset(result, base: base(request), scope: scope, items: items), format: .json)
        }
        let bundle = searchsetBundle(result, base: base(request), scope: scope, items: items)
        return FHIRResponse.make(status: .ok, resource: bundle, format: format, pretty: pretty)
    }

    /// `GET /fhir/AuditEvent?patient=…&agent=…&_count=…`: the audit trail, newest first.
    private func auditEventSearch(_ request: Request, _ caller: Caller, items: [(key: String, value: String)], format: FHIRFormat) async throws -> Response {
        var filter = AuditTrailService.Filter(count: 50, queryText: request.uri.query.map { String($0.prefix(2048)) })
        for (key, value) in items {
            switch key {
            case "_format", "_pretty": continue
            case "_count":
                guard let count = Int(value), count >= 0 else { throw FHIRHTTPError.badRequest("_count must be a non-negative integer") }
                filter.count = min(count, limits.maxPageSize)
            case "patient", "entity":
                guard let id = value.contains("/") ? PatientCompartment.patientID(fromReference: value) : value, FHIRRequest.isValidID(id) else {
                    throw FHIRHTTPError.badRequest("\(key) must name a Patient", expression: key)
                }
                filter.patient = id
            case "agent":
                guard !value.isEmpty, value.count <= 128 else { throw FHIRHTTPError.badRequest("agent must be a user or client id", expression: key) }
                filter.agent = value
            case "_cursor":
                guard let cursor = Int64(value) else { throw FHIRHTTPError.badRequest("_cursor is not valid", expression: key) }
                filter.before = cursor
            default:
                throw FHIRHTTPError.badRequest(
                    "AuditEvent search supports patient, agent, _count and _cursor", code: .notSupported, expression: String(key.prefix(64)))
            }
        }
        let page = try await AuditTrailService(security: security).search(filter, as: caller)
        let base = base(request)
        let selfURL = "\(base)/AuditEvent" + (request.uri.query.map { "?" + $0 } ?? "")
        var links: [JSONValue] = [.object(["relation": .string("self"), "url": .string(selfURL)])]
        if let next = page.next {
            var nextItems = items.filter { $0.key != "_cursor" }
            nextItems.append((key: "_cursor", value: String(next)))
            links.append(.object(["relation": .string("next"), "url": .string(Self.url("\(base)/AuditEvent", nextItems))]))
        }
        var bundle: JSONObject = ["resourceType": .string("Bundle"), "type": .string("searchset"), "link": .array(links)]
        if !page.events.isEmpty {
            bundle["entry"] = .array(page.events.map { event in
                .object([
                    "fullUrl": .string("\(base)/AuditEvent/\(event["id"]?.stringValue ?? "")"),
                    "resource": event,
                    "search": .object(["mode": .string("match")]),
                ])
            })
        }
        return FHIRResponse.make(status: .ok, resource: .object(bundle), format: format, pretty: FHIRFormat.pretty(request))
    }

    /// The searchset Bundle of a result: matches, includes, an outcome entry for ignored
    /// parameters, and self/next links that carry the parameters asked.
    func searchsetBundle(_ result: SearchService.Result, base: String, scope: SearchScope, items: [(key: String, value: String)]) -> JSONValue {
        var bundle = searchsetHead(result, base: base, scope: scope, items: items)
        let query = result.query
        var entries: [JSONValue] = []
        if query.summary != .count {
            let shaper = SearchResultShaper(summary: query.summary, elements: query.elements)
            for (stored, resource) in result.matches {
                entries.append(Self.entry(base: base, stored: stored, resource: shaper.shape(resource), mode: "match"))
            }
            for (stored, resource) in result.included {
                entries.append(Self.entry(base: base, stored: stored, resource: shaper.shape(resource), mode: "include"))
            }
        }
        if let outcome = Self.ignoredOutcome(query) { entries.append(outcome) }
        if !entries.isEmpty { bundle["entry"] = .array(entries) }
        return .object(bundle)
    }

    /// The same Bundle as compact JSON (no `_summary` other than `false`/`count`, no
    /// `_elements`), with each resource's stored JSON spliced in as it is: the head serialized,
    /// then the entries written around the stored bytes. `entry` is the Bundle's last element in
    /// both forms.
    func splicedSearchset(_ result: SearchService.Result, base: String, scope: SearchScope, items: [(key: String, value: String)]) throws -> [UInt8] {
        var bytes = FHIRJSON.serialize(.object(searchsetHead(result, base: base, scope: scope, items: items)))
        var entries: [[UInt8]] = []
        if result.query.summary != .count {
            for (rows, mode) in [(result.matchRows, "match"), (result.includedRows, "include")] {
                let search = FHIRJSON.serialize(.object(["mode": .string(mode)]))
                for (stored, _) in rows {
                    guard let json = stored.json else { continue }
                    var entry: [UInt8] = Array(#"{"fullUrl":"#.utf8)
                    entry += FHIRJSON.serialize(.string("\(base)/\(stored.type)/\(stored.id)"))
                    entry += Array(#","resource":"#.utf8)
                    entry += json
                    entry += Array(#","search":"#.utf8)
                    entry += search
                    entry.append(UInt8(ascii: "}"))
                    entries.append(entry)
                }
            }
        }
        if let outcome = Self.ignoredOutcome(result.query) { entries.append(FHIRJSON.serialize(outcome)) }
        guard !entries.isEmpty, bytes.last == UInt8(ascii: "}") else { return bytes }
        bytes.removeLast()
        bytes += Array(#","entry":["#.utf8)
        for (index, entry) in entries.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes += entry
        }
        bytes += Array("]}".utf8)
        return bytes
    }

    /// The Bundle without its entries: type, total and links.
    private func searchsetHead(_ result: SearchService.Result, base: String, scope: SearchScope, items: [(key: String, value: String)]) -> JSONObject {
        var bundle = JSONObject()
        bundle["resourceType"] = .string("Bundle")
        bundle["type"] = .string("searchset")
        if let total = result.total { bundle["total"] = .number(String(total)) }
        let selfItems = (scope.linkItems ?? items).filter { $0.key != "_cursor" }
        let path = scope.path.isEmpty ? base : "\(base)/\(scope.path)"
        var links: [JSONValue] = [.object(["relation": .string("self"), "url": .string(Self.url(path, selfItems))])]
        if let next = result.next {
            var nextItems: [(key: String, value: String)] = selfItems
            nextItems.append((key: "_cursor", value: next))
            links.append(.object(["relation": .string("next"), "url": .string(Self.url(path, nextItems))]))
        }
        bundle["link"] = .array(links)
        return bundle
    }

    /// The outcome entry naming ignored parameters, when any were.
    private static func ignoredOutcome(_ query: SearchQuery) -> JSONValue? {
        guard !query.ignored.isEmpty else { return nil }
        let issues = query.ignored.map {
            OutcomeIssue(severity: .warning, code: .notSupported, diagnostics: "unknown or unsupported search parameter, ignored", expression: $0)
        }
        return .object([
            "resource": issues.operationOutcome(),
            "search": .object(["mode": .string("outcome")]),
        ])
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

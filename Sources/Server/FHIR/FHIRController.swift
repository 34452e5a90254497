import FHIRModels
import Foundation
import Hummingbird
import Mapping
import NIOCore
import Logging

/// The FHIR REST API under `/fhir`: read, vread, create, update, patch, delete, history,
/// conditional interactions, batch/transaction and the CapabilityStatement.
///
/// A thin adapter: each handler parses the request, calls `RecordService` or `SearchService`
/// (which decide access and audit), and renders the result in the negotiated format.
struct FHIRController: Sendable {
    typealias Context = MedrecRequestContext
    let records: RecordService
    let searches: SearchService
    let store: any ResourceStore
    let limits: ServerLimits
    let baseURL: String?
    let security: SecurityServices
    var request: FHIRRequest { FHIRRequest(limits: limits) }

    init(store: any ResourceStore, limits: ServerLimits, baseURL: String?, security: SecurityServices) {
        self.store = store
        self.limits = limits
        self.baseURL = baseURL
        self.security = security
        records = RecordService(store: store, security: security)
        searches = SearchService(store: store, security: security, maxIncluded: limits.maxPageSize)
    }

    /// The routes, by the access they need: the CapabilityStatement is public; the instance
    /// read leaves its token check to its own statement (`reads`); everything else is
    /// authenticated before the handler runs.
    func addRoutes(public open: RouterGroup<Context>, reads: RouterGroup<Context>, authenticated group: RouterGroup<Context>) {
        open.get("metadata") { request, _ in try self.capabilities(request) }
        open.get("openapi.json") { _, _ in self.openAPI() }
        group.post("", use: bundle)
        group.get("", use: systemSearch)
        group.get("_history", use: systemHistory)
        group.get("{type}", use: search)
        group.post("{type}/_search", use: searchPost)
        group.post("{type}", use: create)
        group.put("{type}", use: conditionalUpdate)
        group.delete("{type}", use: conditionalDelete)
        group.get("{type}/_history", use: typeHistory)
        reads.get("{type}/{id}", use: read)
        group.put("{type}/{id}", use: update)
        group.patch("{type}/{id}", use: patch)
        group.delete("{type}/{id}", use: delete)
        group.get("{type}/{id}/_history", use: instanceHistory)
        group.get("{type}/{id}/{target}", use: compartmentSearch)
        group.get("{type}/{id}/_history/{version}", use: vread)
    }

    /// Runs a handler and turns store/parse errors into FHIR errors.
    func handle(_ body: () async throws -> Response) async throws -> Response {
        do {
            return try await body()
        } catch {
            throw FHIRHTTPError.from(error)
        }
    }

    func base(_ request: Request) -> String {
        if let baseURL { return baseURL }
        let host = request.head.authority ?? "localhost"
        return "http://\(host)/fhir"
    }

    // MARK: - Capabilities and bundles

    func capabilities(_ request: Request) throws -> Response {
        let format = try FHIRFormat.response(for: request)
        let statement = CapabilityStatementBuilder.build(base: base(request), software: MedrecVersion.current)
        return FHIRResponse.make(status: .ok, resource: statement, format: format, pretty: FHIRFormat.pretty(request))
    }

    /// The OpenAPI 3.1 description of this face, generated from the CapabilityStatement. Its
    /// server URL is relative (`/fhir`) unless a public base URL is configured, so one cached
    /// document serves every host name.
    func openAPI() -> Response {
        let bytes = FHIROpenAPI.document(base: baseURL ?? "/fhir", version: MedrecVersion.current)
        return Response(
            status: .ok, headers: [.contentType: "application/json", .cacheControl: "public, max-age=3600"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    @Sendable func bundle(_ request: Request, context: Context) async throws -> Response {
        try await handle {
            let format = try FHIRFormat.response(for: request)
            let bundle = try await self.request.resourceBody(request)
            let processor = BundleProcessor(
                records: records, searches: searches, store: store, limits: limits, base: base(request),
                caller: try await records.confirmed(try context.caller(request)), parser: searchParser(request, strict: true))
            let response = try await processor.process(bundle)
            return FHIRResponse.make(status: .ok, resource: response, format: format, pretty: FHIRFormat.pretty(request))
        }
    }

    // MARK: - Read

    @Sendable func read(_ request: Request, context: Context) async throws -> Response {
        try await handle {
            let type = try self.request.resourceType(context)
            let id = try self.request.resourceID(context)
            let format = try FHIRFormat.response(for: request)
            let caller = try context.caller(request)
            if type == "StructureDefinition", let profile = PlatformProfiles.byID[id] {
                // The platform's own extensions (profiles/), conformance resources any caller may read.
                _ = try await records.confirmed(caller)
                return FHIRResponse.make(status: .ok, resource: profile, format: format, pretty: FHIRFormat.pretty(request))
            }
            if type == "AuditEvent" {
                let resource = try await AuditTrailService(security: security).read(id: id, as: caller)
                return FHIRResponse.make(status: .ok, resource: resource, format: format, pretty: FHIRFormat.pretty(request))
            }
            let stored = try await records.read(type: type, id: id, as: caller)
            if let noneMatch = request.headers[.ifNoneMatch], FHIRRequest.version(fromETag: noneMatch) == stored.versionID {
                return Response(status: .notModified, headers: FHIRResponse.versionHeaders(stored))
            }
            return try FHIRResponse.make(status: .ok, stored: stored, request: request)
        }
    }

    @Sendable func vread(_ request: Request, context: Context) async throws -> Response {
        try await handle {
            let type = try self.request.resourceType(context)
            let id = try self.request.resourceID(context)
            guard let version = context.parameters.get("version").flatMap(Int.init), version > 0 else {
                throw FHIRHTTPError.badRequest("the version id must be a positive integer")
            }
            _ = try FHIRFormat.response(for: request)
            let stored = try await records.vread(type: type, id: id, version: version, as: try context.caller(request))
            return try FHIRResponse.make(status: .ok, stored: stored, request: request)
        }
    }

    // MARK: - Create

    @Sendable func create(_ request: Request, context: Context) async throws -> Response {
        try await handle {
            let type = try self.request.resourceType(context)
            _ = try FHIRFormat.response(for: request)
            let resource = try await self.request.resourceBody(request)
            try FHIRRequest.requireType(resource, type)
            let conditional: SearchQuery? = try request.headers[.ifNoneExist].map { header in
                let query = header.split(separator: "?", maxSplits: 1).last ?? Substring(header)
                return try conditionalQuery(request, type: type, items: FHIRRequest.queryItems(query))
            }
            let result = try await records.create(type: type, resource: resource, ifNoneExist: conditional, as: try context.caller(request))
            return try writeResponse(result.stored, created: result.created, request: request)
        }
    }

    func writeResponse(_ stored: StoredResource, created: Bool, request: Request) throws -> Response {
        let location = "\(base(request))/\(stored.type)/\(stored.id)/_history/\(stored.versionID)"
        let status: HTTPResponse.Status = created ? .created : .ok
        let headers: HTTPFields = [.location: location]
        switch FHIRRequest.returnPreference(request) {
        case .minimal:
            var fields = headers
            fields.append(contentsOf: FHIRResponse.versionHeaders(stored))
            return Response(status: status, headers: fields)
        case .operationOutcome:
            let issue = OutcomeIssue(
                severity: .information, code: .informational,
                diagnostics: created ? "created \(stored.type)/\(stored.id)" : "stored \(stored.type)/\(stored.id) version \(stored.versionID)")
            var fields = headers
            fields.append(contentsOf: FHIRResponse.versionHeaders(stored))
            return FHIRResponse.make(
                status: status, resource: [issue].operationOutcome(), format: try FHIRFormat.response(for: request),
                pretty: FHIRFormat.pretty(request), headers: fields)
        case .representation:
            return try FHIRResponse.make(status: status, stored: stored, request: request, headers: headers)
        }
    }

    // MARK: - Update and patch

    @Sendable func update(_ request: Request, context: Context) async throws -> Response {
        try await handle {
            let type = try self.request.resourceType(context)
            let id = try self.request.resourceID(context)
            _ = try FHIRFormat.response(for: request)
            let resource = try await self.request.resourceBody(request)
            try FHIRRequest.requireType(resource, type)
            let ifMatch = try FHIRRequest.ifMatch(request)
            let result = try await records.update(type: type, id: id, resource: resource, ifMatch: ifMatch, as: try context.caller(request))
            return try writeResponse(result.stored, created: result.created, request: request)
        }
    }

    @Sendable func conditionalUpdate(_ request: Request, context: Context) async throws -> Response {
        try await handle {
            let type = try self.request.resourceType(context)
            _ = try FHIRFormat.response(for: request)
            let criteria = try conditionalCriteria(request, type: type)
            let resource = try await self.request.resourceBody(request)
            try FHIRRequest.requireType(resource, type)
            let result = try await records.update(type: type, resource: resource, matching: criteria, as: try context.caller(request))
            return try writeResponse(result.stored, created: result.created, request: request)
        }
    }

    @Sendable func patch(_ request: Request, context: Context) async throws -> Response {
        try await handle {
            let type = try self.request.resourceType(context)
            let id = try self.request.resourceID(context)
            _ = try FHIRFormat.response(for: request)
            let contentType = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces)
            guard contentType == "application/json-patch+json" else {
                throw FHIRHTTPError.unsupportedMediaType("PATCH takes a JSON Patch document (application/json-patch+json)")
            }
            let bytes = try await self.request.bodyBytes(request)
            let patch = try JSONPatch(document: FHIRJSON.parse(bytes))
            let ifMatch = try FHIRRequest.ifMatch(request)
            let result = try await records.patch(type: type, id: id, with: patch, ifMatch: ifMatch, as: try context.caller(request))
            return try writeResponse(result.stored, created: result.created, request: request)
        }
    }

    // MARK: - Delete

    @Sendable func delete(_ request: Request, context: Context) async throws -> Response {
        try await handle {
            let type = try self.request.resourceType(context)
            let id = try self.request.resourceID(context)
            let deleted = try await records.delete(type: type, id: id, as: try context.caller(request))
            var headers: HTTPFields = [:]
            if let deleted { headers[.eTag] = "W/\"\(deleted.versionID)\"" }
            return Response(status: .noContent, headers: headers)
        }
    }

    @Sendable func conditionalDelete(_ request: Request, context: Context) async throws -> Response {
        try await handle {
            let type = try self.request.resourceType(context)
            let criteria = try conditionalCriteria(request, type: type)
            try await records.delete(type: type, matching: criteria, as: try context.caller(request))
            return Response(status: .noContent)
        }
    }

    private func conditionalCriteria(_ request: Request, type: String) throws -> SearchQuery {
        try conditionalQuery(request, type: type, items: Self.items(request.uri.queryParameters))
    }

    // MARK: - History

    @Sendable func systemHistory(_ request: Request, context: Context) async throws -> Response {
        try await history(request, context, scope: .system, path: "_history")
    }

    @Sendable func typeHistory(_ request: Request, context: Context) async throws -> Response {
        let type = try self.request.resourceType(context)
        return try await history(request, context, scope: .type(type), path: "\(type)/_history")
    }

    @Sendable func instanceHistory(_ request: Request, context: Context) async throws -> Response {
        let type = try self.request.resourceType(context)
        let id = try self.request.resourceID(context)
        return try await history(request, context, scope: .instance(type: type, id: id), path: "\(type)/\(id)/_history")
    }

    private func history(_ request: Request, _ context: Context, scope: HistoryQuery.Scope, path: String) async throws -> Response {
        try await handle {
            let format = try FHIRFormat.response(for: request)
            let query = try historyQuery(request, scope: scope)
            let page = try await records.history(
                query, queryText: request.uri.query.map { String($0.prefix(2048)) }, as: try context.caller(request))
            let bundle = historyBundle(page, base: base(request), path: path, query: query, since: request.uri.queryParameters["_since"])
            return FHIRResponse.make(status: .ok, resource: bundle, format: format, pretty: FHIRFormat.pretty(request))
        }
    }

    /// `_count`, `_since` and `_cursor`; any other parameter is refused.
    private func historyQuery(_ request: Request, scope: HistoryQuery.Scope) throws -> HistoryQuery {
        var query = HistoryQuery(scope: scope)
        for (key, value) in request.uri.queryParameters {
            switch key {
            case "_format", "_pretty": continue
            case "_count":
                guard let count = Int(value), count > 0 else { throw FHIRHTTPError.badRequest("_count must be a positive integer") }
                query.count = min(count, limits.maxPageSize)
            case "_since":
                guard let since = StoreTimestamp.parse(String(value)) else {
                    throw FHIRHTTPError.badRequest("_since must be a FHIR instant such as 2024-01-01T00:00:00Z")
                }
                query.since = since
            case "_cursor":
                guard let cursor = Int64(value) else { throw FHIRHTTPError.badRequest("_cursor is not valid") }
                query.before = cursor
            default:
                throw FHIRHTTPError.badRequest("history does not support this parameter", code: .notSupported, expression: String(key.prefix(64)))
            }
        }
        return query
    }

    /// A history Bundle: each version with how it came about, newest first, and its links.
    private func historyBundle(_ page: RecordService.HistoryResult, base: String, path: String, query: HistoryQuery, since: Substring?) -> JSONValue {
        var entries: [JSONValue] = []
        for (stored, resource) in page.entries {
            var entry = JSONObject()
            entry["fullUrl"] = .string("\(base)/\(stored.type)/\(stored.id)")
            if let resource { entry["resource"] = resource }
            let method = stored.method ?? .put
            let url = method == .post ? stored.type : "\(stored.type)/\(stored.id)"
            entry["request"] = .object(["method": .string(method.rawValue), "url": .string(url)])
            entry["response"] = .object([
                "status": .string(stored.deleted ? "204" : (stored.versionID == 1 ? "201" : "200")),
                "etag": .string("W/\"\(stored.versionID)\""),
                "lastModified": .string(StoreTimestamp.string(stored.lastUpdated)),
            ])
            entries.append(.object(entry))
        }
        var selfQuery = ["_count=\(query.count)"]
        if let since { selfQuery.append("_since=\(since)") }
        var links: [JSONValue] = [.object(["relation": .string("self"), "url": .string("\(base)/\(path)?\(selfQuery.joined(separator: "&"))")])]
        if let next = page.nextBefore {
            links.append(.object(["relation": .string("next"), "url": .string("\(base)/\(path)?\(selfQuery.joined(separator: "&"))&_cursor=\(next)")]))
        }
        var bundle: JSONObject = ["resourceType": .string("Bundle"), "type": .string("history"), "link": .array(links)]
        if !entries.isEmpty { bundle["entry"] = .array(entries) }
        return .object(bundle)
    }
}

import FHIRModels
import Foundation
import Hummingbird
import Logging

/// The FHIR REST API under `/fhir`: read, vread, create, update, patch, delete, history,
/// conditional interactions, batch/transaction and the CapabilityStatement.
struct FHIRController<Context: RequestContext>: Sendable {
    let store: any ResourceStore
    let limits: ServerLimits
    let baseURL: String?
    var request: FHIRRequest { FHIRRequest(limits: limits) }

    func addRoutes(to group: RouterGroup<Context>) {
        group.get("metadata") { request, _ in try self.capabilities(request) }
        group.post("", use: bundle)
        group.get("_history", use: systemHistory)
        group.get("{type}", use: search)
        group.post("{type}", use: create)
        group.put("{type}", use: conditionalUpdate)
        group.delete("{type}", use: conditionalDelete)
        group.get("{type}/_history", use: typeHistory)
        group.get("{type}/{id}", use: read)
        group.put("{type}/{id}", use: update)
        group.patch("{type}/{id}", use: patch)
        group.delete("{type}/{id}", use: delete)
        group.get("{type}/{id}/_history", use: instanceHistory)
        group.get("{type}/{id}/_history/{version}", use: vread)
    }

    /// Runs a handler and turns store/parse errors into FHIR errors.
    private func handle(_ body: () async throws -> Response) async throws -> Response {
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

    @Sendable func bundle(_ request: Request, context: Context) async throws -> Response {
        try await handle {
            let format = try FHIRFormat.response(for: request)
            let bundle = try await self.request.resourceBody(request)
            let processor = BundleProcessor(store: store, limits: limits, base: base(request))
            let response = try await processor.process(bundle)
            return FHIRResponse.make(status: .ok, resource: response, format: format, pretty: FHIRFormat.pretty(request))
        }
    }

    // MARK: - Read

    @Sendable func read(_ request: Request, context: Context) async throws -> Response {
        try await handle {
            let type = try self.request.resourceType(context)
            let id = try self.request.resourceID(context)
            _ = try FHIRFormat.response(for: request)
            let stored = try await store.read(type: type, id: id)
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
            let stored = try await store.vread(type: type, id: id, version: version)
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
            let conditional: [SearchCriterion]? = try request.headers[.ifNoneExist].map { header in
                let query = header.split(separator: "?", maxSplits: 1).last ?? Substring(header)
                return try FHIRRequest.criteria(from: FHIRRequest.queryItems(query))
            }
            let outcome: (stored: StoredResource, created: Bool)
            if let conditional, !conditional.isEmpty {
                // The search and the create must see the same state: one transaction.
                outcome = try await store.transaction { transaction in
                    try await Self.create(type: type, resource: resource, ifNoneExist: conditional, in: transaction)
                }
            } else {
                var object = resource.objectValue ?? JSONObject()
                object["id"] = nil  // the server assigns ids on create; a client id is ignored
                let id = UUID().uuidString.lowercased()
                outcome = (try await store.create([NewResource(type: type, id: id, resource: .object(object))])[0], true)
            }
            return try writeResponse(outcome.stored, created: outcome.created, request: request)
        }
    }

    /// Creates, or for a conditional create returns the one existing match (412 for several).
    static func create(
        type: String, resource: JSONValue, ifNoneExist: [SearchCriterion]?, id: String? = nil,
        in transaction: any ResourceTransaction
    ) async throws -> (stored: StoredResource, created: Bool) {
        if let ifNoneExist, !ifNoneExist.isEmpty {
            let matches = try await transaction.find(type: type, criteria: ifNoneExist, limit: 2)
            if matches.count > 1 { throw StoreError(.multipleMatches, "If-None-Exist matched more than one resource") }
            if let match = matches.first { return (match, false) }
        }
        var resource = resource
        if var object = resource.objectValue {
            object["id"] = nil  // the server assigns ids on create; a client id is ignored
            resource = .object(object)
        }
        return (try await transaction.create(type: type, resource: resource, id: id), true)
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
            let (stored, created) = try await store.transaction { transaction in
                try await transaction.update(type: type, id: id, resource: resource, ifMatch: ifMatch, method: "PUT")
            }
            return try writeResponse(stored, created: created, request: request)
        }
    }

    @Sendable func conditionalUpdate(_ request: Request, context: Context) async throws -> Response {
        try await handle {
            let type = try self.request.resourceType(context)
            _ = try FHIRFormat.response(for: request)
            let criteria = try conditionalCriteria(request)
            let resource = try await self.request.resourceBody(request)
            try FHIRRequest.requireType(resource, type)
            let (stored, created) = try await store.transaction { transaction in
                try await Self.conditionalUpdate(type: type, resource: resource, criteria: criteria, in: transaction)
            }
            return try writeResponse(stored, created: created, request: request)
        }
    }

    static func conditionalUpdate(
        type: String, resource: JSONValue, criteria: [SearchCriterion], in transaction: any ResourceTransaction
    ) async throws -> (StoredResource, created: Bool) {
        let matches = try await transaction.find(type: type, criteria: criteria, limit: 2)
        if matches.count > 1 { throw StoreError(.multipleMatches, "the conditional update matched more than one resource") }
        let bodyID = resource["id"]?.stringValue
        if let match = matches.first {
            if let bodyID, bodyID != match.id {
                throw StoreError(.badRequest, "the resource id in the body differs from the matched resource")
            }
            var object = resource.objectValue ?? JSONObject()
            object["id"] = .string(match.id)
            return try await transaction.update(type: type, id: match.id, resource: .object(object), ifMatch: nil, method: "PUT")
        }
        if let bodyID {
            return try await transaction.update(type: type, id: bodyID, resource: resource, ifMatch: nil, method: "PUT")
        }
        return (try await transaction.create(type: type, resource: resource, id: nil), true)
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
            let (stored, created) = try await store.transaction { transaction in
                guard let current = try await transaction.readForUpdate(type: type, id: id), let resource = try current.resource() else {
                    throw StoreError(.notFound, "\(type)/\(id) is not known")
                }
                if let ifMatch, ifMatch != current.versionID {
                    throw StoreError(.versionConflict(current: current.versionID), "If-Match names a stale version")
                }
                let patched = try patch.apply(to: resource)
                guard patched["id"]?.stringValue == id, patched["resourceType"]?.stringValue == type else {
                    throw StoreError(.badRequest, "a patch may not change the resource id or type")
                }
                return try await transaction.update(type: type, id: id, resource: patched, ifMatch: current.versionID, method: "PATCH")
            }
            return try writeResponse(stored, created: created, request: request)
        }
    }

    // MARK: - Delete

    @Sendable func delete(_ request: Request, context: Context) async throws -> Response {
        try await handle {
            let type = try self.request.resourceType(context)
            let id = try self.request.resourceID(context)
            let deleted = try await store.transaction { transaction in
                try await transaction.delete(type: type, id: id)
            }
            var headers: HTTPFields = [:]
            if let deleted { headers[.eTag] = "W/\"\(deleted.versionID)\"" }
            return Response(status: .noContent, headers: headers)
        }
    }

    @Sendable func conditionalDelete(_ request: Request, context: Context) async throws -> Response {
        try await handle {
            let type = try self.request.resourceType(context)
            let criteria = try conditionalCriteria(request)
            try await store.transaction { transaction in
                let matches = try await transaction.find(type: type, criteria: criteria, limit: 2)
                if matches.count > 1 { throw StoreError(.multipleMatches, "the conditional delete matched more than one resource") }
                if let match = matches.first { _ = try await transaction.delete(type: type, id: match.id) }
            }
            return Response(status: .noContent)
        }
    }

    private func conditionalCriteria(_ request: Request) throws -> [SearchCriterion] {
        let items = request.uri.queryParameters
            .filter { $0.key != "_format" && $0.key != "_pretty" }
            .map { (key: String($0.key), value: String($0.value)) }
        guard !items.isEmpty else {
            throw FHIRHTTPError.badRequest("a conditional interaction needs search criteria in the URL")
        }
        return try FHIRRequest.criteria(from: items)
    }

    // MARK: - Search (the conditional subset until the search engine lands)

    @Sendable func search(_ request: Request, context: Context) async throws -> Response {
        try await handle {
            let type = try self.request.resourceType(context)
            let format = try FHIRFormat.response(for: request)
            var count = 50
            var items: [(key: String, value: String)] = []
            for (key, value) in request.uri.queryParameters {
                switch key {
                case "_format", "_pretty": continue
                case "_count":
                    guard let parsed = Int(value), parsed >= 0 else { throw FHIRHTTPError.badRequest("_count must be a non-negative integer") }
                    count = min(parsed, limits.maxPageSize)
                default: items.append((String(key), String(value)))
                }
            }
            let criteria = try FHIRRequest.criteria(from: items)
            let matches = try await store.find(type: type, criteria: criteria, limit: count)
            let base = base(request)
            var entries: [JSONValue] = []
            for match in matches {
                guard let resource = try match.resource() else { continue }
                entries.append(.object([
                    "fullUrl": .string("\(base)/\(type)/\(match.id)"),
                    "resource": resource,
                    "search": .object(["mode": .string("match")]),
                ]))
            }
            var bundle: JSONObject = [
                "resourceType": .string("Bundle"),
                "type": .string("searchset"),
                "link": .array([.object(["relation": .string("self"), "url": .string(base + "/" + type + (request.uri.query.map { "?" + $0 } ?? ""))])]),
            ]
            if criteria.isEmpty == false || matches.count < count { bundle["total"] = .number(String(matches.count)) }
            if !entries.isEmpty { bundle["entry"] = .array(entries) }
            return FHIRResponse.make(status: .ok, resource: .object(bundle), format: format, pretty: FHIRFormat.pretty(request))
        }
    }

    // MARK: - History

    @Sendable func systemHistory(_ request: Request, context: Context) async throws -> Response {
        try await history(request, scope: .system, path: "_history")
    }

    @Sendable func typeHistory(_ request: Request, context: Context) async throws -> Response {
        let type = try self.request.resourceType(context)
        return try await history(request, scope: .type(type), path: "\(type)/_history")
    }

    @Sendable func instanceHistory(_ request: Request, context: Context) async throws -> Response {
        let type = try self.request.resourceType(context)
        let id = try self.request.resourceID(context)
        return try await history(request, scope: .instance(type: type, id: id), path: "\(type)/\(id)/_history")
    }

    private func history(_ request: Request, scope: HistoryQuery.Scope, path: String) async throws -> Response {
        try await handle {
            let format = try FHIRFormat.response(for: request)
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
            if case .instance(let type, let id) = scope {
                // An unknown instance is 404, not an empty history.
                do { _ = try await store.read(type: type, id: id) } catch let error as StoreError where error.code != .notFound {}
            }
            let page = try await store.history(query)
            let base = base(request)
            var entries: [JSONValue] = []
            for stored in page.entries {
                var entry = JSONObject()
                entry["fullUrl"] = .string("\(base)/\(stored.type)/\(stored.id)")
                if let resource = try stored.resource() { entry["resource"] = resource }
                let url = stored.method == "POST" ? stored.type : "\(stored.type)/\(stored.id)"
                entry["request"] = .object(["method": .string(stored.method), "url": .string(url)])
                entry["response"] = .object([
                    "status": .string(stored.deleted ? "204" : (stored.versionID == 1 ? "201" : "200")),
                    "etag": .string("W/\"\(stored.versionID)\""),
                    "lastModified": .string(StoreTimestamp.string(stored.lastUpdated)),
                ])
                entries.append(.object(entry))
            }
            var selfQuery = ["_count=\(query.count)"]
            if let since = request.uri.queryParameters["_since"] { selfQuery.append("_since=\(since)") }
            var links: [JSONValue] = [.object(["relation": .string("self"), "url": .string("\(base)/\(path)?\(selfQuery.joined(separator: "&"))")])]
            if let next = page.nextBefore {
                links.append(.object(["relation": .string("next"), "url": .string("\(base)/\(path)?\(selfQuery.joined(separator: "&"))&_cursor=\(next)")]))
            }
            var bundle: JSONObject = ["resourceType": .string("Bundle"), "type": .string("history"), "link": .array(links)]
            if !entries.isEmpty { bundle["entry"] = .array(entries) }
            return FHIRResponse.make(status: .ok, resource: .object(bundle), format: format, pretty: FHIRFormat.pretty(request))
        }
    }
}

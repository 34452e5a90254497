import FHIRModels
import Foundation
import Hummingbird
import Mapping
import Logging

/// The FHIR REST API under `/fhir`: read, vread, create, update, patch, delete, history,
/// conditional interactions, batch/transaction and the CapabilityStatement.
struct FHIRController: Sendable {
    typealias Context = MedrecRequestContext
    let store: any ResourceStore
    let limits: ServerLimits
    let baseURL: String?
    let security: SecurityServices
    var request: FHIRRequest { FHIRRequest(limits: limits) }

    /// Access control and audit for this request; the authentication middleware has run. A
    /// token check the middleware deferred runs here, unless the caller carries it in its own
    /// statement (`deferTokenCheck`, the read).
    func guarded(_ request: Request, _ context: Context, deferTokenCheck: Bool = false) async throws -> FHIRGuard {
        try await FHIRGuard.make(request, context, security: security, deferTokenCheck: deferTokenCheck)
    }

    func addRoutes(to group: RouterGroup<Context>) {
        group.get("metadata") { request, _ in try self.capabilities(request) }
        group.post("", use: bundle)
        group.get("", use: systemSearch)
        group.get("_history", use: systemHistory)
        group.get("{type}", use: search)
        group.post("{type}/_search", use: searchPost)
        group.post("{type}", use: create)
        group.put("{type}", use: conditionalUpdate)
        group.delete("{type}", use: conditionalDelete)
        group.get("{type}/_history", use: typeHistory)
        group.get("{type}/{id}", use: read)
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

    @Sendable func bundle(_ request: Request, context: Context) async throws -> Response {
        try await handle {
            let format = try FHIRFormat.response(for: request)
            let bundle = try await self.request.resourceBody(request)
            let processor = BundleProcessor(
                store: store, limits: limits, base: base(request), guarded: try await guarded(request, context),
                parser: searchParser(request, strict: true))
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
            if type == "StructureDefinition", let profile = PlatformProfiles.byID[id] {
                // The platform's own extensions (profiles/), conformance resources any caller may read.
                _ = try await guarded(request, context)
                return FHIRResponse.make(status: .ok, resource: profile, format: format, pretty: FHIRFormat.pretty(request))
            }
            if type == "AuditEvent" {
                let guarded = try await guarded(request, context)
                let resource = try await AuditEventSearch(client: security.audit.client, logger: security.audit.logger)
                    .read(id: id, guard: guarded)
                return FHIRResponse.make(status: .ok, resource: resource, format: format, pretty: FHIRFormat.pretty(request))
            }
            let stored = try await Self.readCurrent(type: type, id: id, request: request, context: context, store: store, security: security)
            if let noneMatch = request.headers[.ifNoneMatch], FHIRRequest.version(fromETag: noneMatch) == stored.versionID {
                return Response(status: .notModified, headers: FHIRResponse.versionHeaders(stored))
            }
            return try FHIRResponse.make(status: .ok, stored: stored, request: request)
        }
    }

    /// The current version of `type/id` as this request's principal may read it, with the read
    /// audited. The token check the authenticator deferred runs inside the read's statement. A
    /// missing, denied or deleted resource throws (that it was deleted is told only to a caller
    /// who could read its last version). The FHIR read and the platform read share it.
    static func readCurrent(
        type: String, id: String, request: Request, context: Context, store: any ResourceStore, security: SecurityServices
    ) async throws -> StoredResource {
        let check = context.pendingTokenCheck
        let guarded = try await FHIRGuard.make(request, context, security: security, deferTokenCheck: check != nil)
        let stored: StoredResource
        do {
            stored = try await store.read(type: type, id: id, caredForBy: guarded.principal.practitionerID, check: check)
        } catch is TokenRejected {
            throw BearerAuthenticator.invalidToken(request.uri.path)
        } catch let error as StoreError {
            if case .gone(let version) = error.code, version > 1 {
                let last = try await store.vread(type: type, id: id, version: version - 1)
                _ = try await guarded.readable(last, subtype: "read")
            }
            await guarded.auditFailure("read", action: .read, type: type, id: id, error: error)
            throw error
        }
        try await security.audit.record(try await guarded.readable(stored, subtype: "read"))
        return stored
    }

    @Sendable func vread(_ request: Request, context: Context) async throws -> Response {
        try await handle {
            let type = try self.request.resourceType(context)
            let id = try self.request.resourceID(context)
            guard let version = context.parameters.get("version").flatMap(Int.init), version > 0 else {
                throw FHIRHTTPError.badRequest("the version id must be a positive integer")
            }
            _ = try FHIRFormat.response(for: request)
            let guarded = try await guarded(request, context)
            let stored: StoredResource
            do {
                stored = try await store.vread(type: type, id: id, version: version)
            } catch {
                await guarded.auditFailure("vread", action: .read, type: type, id: id, error: error)
                throw error
            }
            let record = try await guarded.readable(stored, subtype: "vread")
            try await security.audit.record(record)
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
            let guarded = try await guarded(request, context)
            let author = guarded.author
            let outcome: (stored: StoredResource, created: Bool) = try await guarded.auditingDenials {
                if let conditional {
                    // The search and the create must see the same state: one transaction.
                    return try await store.transaction(author: author) { transaction in
                        try await Self.create(type: type, resource: resource, ifNoneExist: conditional, in: transaction, guard: guarded)
                    }
                }
                return (try await Self.createNew(type: type, resource: resource, store: store, guard: guarded), true)
            }
            return try writeResponse(outcome.stored, created: outcome.created, request: request)
        }
    }

    /// An authorized, audited create in one statement (no conditional search): the FHIR face's
    /// POST and the platform face's. A client-supplied id is ignored; the server assigns one.
    static func createNew(type: String, resource: JSONValue, store: any ResourceStore, guard guarded: FHIRGuard) async throws -> StoredResource {
        var object = resource.objectValue ?? JSONObject()
        let id = UUID().uuidString.lowercased()
        object["id"] = .string(id)
        let decision = try await guarded.authorizeWrite("create", type: type, id: id, permission: .create, old: nil, new: .object(object))
        object["id"] = nil
        let audit = guarded.written(
            "create", stored: StoredResource(type: type, id: id, versionID: 1, lastUpdated: Date(), deleted: false, json: nil, method: "POST"),
            resource: .object(object), old: nil, decision: decision)
        let created = try await store.create(
            [NewResource(type: type, id: id, resource: .object(object))],
            context: WriteContext(authorPractitionerID: guarded.author, audit: [audit]))
        return created[0]
    }

    /// Creates, or for a conditional create returns the one existing match (412 for several).
    static func create(
        type: String, resource: JSONValue, ifNoneExist: SearchQuery?, id: String? = nil,
        in transaction: any ResourceTransaction, guard guarded: FHIRGuard
    ) async throws -> (stored: StoredResource, created: Bool) {
        if let ifNoneExist {
            let matches = try await transaction.find(ifNoneExist)
            if matches.count > 1 { throw StoreError(.multipleMatches, "If-None-Exist matched more than one resource") }
            if let match = matches.first {
                // Answering with the match tells its id: only to someone who may read it.
                guard let existing = try match.resource() else { throw StoreError(.notFound, "\(type)/\(match.id) is not known") }
                let decision = try await guarded.access.decideRead(type: type, id: match.id, resource: existing, permission: .search)
                guard decision.isAllowed else {
                    throw FHIRGuard.Denied(
                        error: FHIRHTTPError(status: .forbidden, code: .forbidden, "this create of \(type) is not permitted"),
                        record: guarded.record(
                            "create", action: .create, type: type, id: match.id,
                            patients: guarded.access.patients(type: type, id: match.id, resource: existing), decision: decision))
                }
                try await transaction.appendAudit([guarded.written("create", stored: match, resource: existing, old: nil, decision: .allow)])
                return (match, false)
            }
        }
        let id = id ?? UUID().uuidString.lowercased()
        var object = resource.objectValue ?? JSONObject()
        object["id"] = .string(id)
        let decision = try await guarded.authorizeWrite("create", type: type, id: id, permission: .create, old: nil, new: .object(object))
        object["id"] = nil  // the server assigns ids on create; a client id is ignored
        let stored = try await transaction.create(type: type, resource: .object(object), id: id)
        try await transaction.appendAudit([guarded.written("create", stored: stored, resource: try stored.resource(), old: nil, decision: decision)])
        return (stored, true)
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
            let guarded = try await guarded(request, context)
            let (stored, created) = try await guarded.auditingDenials {
                try await store.transaction(author: guarded.author) { transaction in
                    try await Self.update(
                        type: type, id: id, resource: resource, ifMatch: ifMatch, method: "PUT", in: transaction, guard: guarded)
                }
            }
            return try writeResponse(stored, created: created, request: request)
        }
    }

    @Sendable func conditionalUpdate(_ request: Request, context: Context) async throws -> Response {
        try await handle {
            let type = try self.request.resourceType(context)
            _ = try FHIRFormat.response(for: request)
            let criteria = try conditionalCriteria(request, type: type)
            let resource = try await self.request.resourceBody(request)
            try FHIRRequest.requireType(resource, type)
            let guarded = try await guarded(request, context)
            let (stored, created) = try await guarded.auditingDenials {
                try await store.transaction(author: guarded.author) { transaction in
                    try await Self.conditionalUpdate(type: type, resource: resource, criteria: criteria, in: transaction, guard: guarded)
                }
            }
            return try writeResponse(stored, created: created, request: request)
        }
    }

    /// An authorized, audited update inside `transaction`: the current version is locked and
    /// checked (an update that moves a resource between compartments needs rights on both),
    /// then written with its AuditEvent. Update-as-create is authorized as a create.
    static func update(
        type: String, id: String, resource: JSONValue, ifMatch: Int?, method: String,
        in transaction: any ResourceTransaction, guard guarded: FHIRGuard
    ) async throws -> (StoredResource, created: Bool) {
        let current = try await transaction.readForUpdate(type: type, id: id)
        let old = try current?.resource()
        let subtype = method == "PATCH" ? "patch" : "update"
        let decision = try await guarded.authorizeWrite(
            old == nil ? "create" : subtype, type: type, id: id, permission: old == nil ? .create : .update, old: old, new: resource)
        let (stored, created) = try await transaction.update(type: type, id: id, resource: resource, ifMatch: ifMatch, method: method)
        try await transaction.appendAudit([
            guarded.written(created ? "create" : subtype, stored: stored, resource: try stored.resource(), old: old, decision: decision)
        ])
        return (stored, created)
    }

    /// An authorized, audited delete inside `transaction`.
    static func delete(type: String, id: String, in transaction: any ResourceTransaction, guard guarded: FHIRGuard) async throws -> StoredResource? {
        guard let current = try await transaction.readForUpdate(type: type, id: id), let old = try current.resource() else {
            return nil
        }
        let decision = try await guarded.authorizeWrite("delete", type: type, id: id, permission: .delete, old: old, new: nil)
        let deleted = try await transaction.delete(type: type, id: id)
        if let deleted {
            try await transaction.appendAudit([guarded.written("delete", stored: deleted, resource: nil, old: old, decision: decision)])
        }
        return deleted
    }

    static func conditionalUpdate(
        type: String, resource: JSONValue, criteria: SearchQuery, in transaction: any ResourceTransaction, guard guarded: FHIRGuard
    ) async throws -> (StoredResource, created: Bool) {
        let matches = try await transaction.find(criteria)
        if matches.count > 1 { throw StoreError(.multipleMatches, "the conditional update matched more than one resource") }
        let bodyID = resource["id"]?.stringValue
        if let match = matches.first {
            if let bodyID, bodyID != match.id {
                throw StoreError(.badRequest, "the resource id in the body differs from the matched resource")
            }
            var object = resource.objectValue ?? JSONObject()
            object["id"] = .string(match.id)
            return try await update(
                type: type, id: match.id, resource: .object(object), ifMatch: nil, method: "PUT", in: transaction, guard: guarded)
        }
        if let bodyID {
            return try await update(type: type, id: bodyID, resource: resource, ifMatch: nil, method: "PUT", in: transaction, guard: guarded)
        }
        return try await create(type: type, resource: resource, ifNoneExist: nil, in: transaction, guard: guarded)
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
            let guarded = try await guarded(request, context)
            let (stored, created) = try await guarded.auditingDenials {
                try await store.transaction(author: guarded.author) { transaction in
                    guard let current = try await transaction.readForUpdate(type: type, id: id), let resource = try current.resource() else {
                        throw StoreError(.notFound, "\(type)/\(id) is not known")
                    }
                    // A resource the caller may not read is "not known" to them, as on read.
                    let readable = try await guarded.access.decideRead(type: type, id: id, resource: resource, permission: .read)
                    guard readable.isAllowed || guarded.principal.role == .system else {
                        throw FHIRGuard.Denied(
                            error: FHIRHTTPError.notFound("\(type)/\(id) is not known"),
                            record: guarded.record(
                                "patch", action: .update, type: type, id: id,
                                patients: guarded.access.patients(type: type, id: id, resource: resource), decision: readable))
                    }
                    if let ifMatch, ifMatch != current.versionID {
                        throw StoreError(.versionConflict(current: current.versionID), "If-Match names a stale version")
                    }
                    let patched = try patch.apply(to: resource)
                    guard patched["id"]?.stringValue == id, patched["resourceType"]?.stringValue == type else {
                        throw StoreError(.badRequest, "a patch may not change the resource id or type")
                    }
                    return try await Self.update(
                        type: type, id: id, resource: patched, ifMatch: current.versionID, method: "PATCH", in: transaction, guard: guarded)
                }
            }
            return try writeResponse(stored, created: created, request: request)
        }
    }

    // MARK: - Delete

    @Sendable func delete(_ request: Request, context: Context) async throws -> Response {
        try await handle {
            let type = try self.request.resourceType(context)
            let id = try self.request.resourceID(context)
            let guarded = try await guarded(request, context)
            let deleted = try await guarded.auditingDenials {
                try await store.transaction(author: guarded.author) { transaction in
                    try await Self.delete(type: type, id: id, in: transaction, guard: guarded)
                }
            }
            var headers: HTTPFields = [:]
            if let deleted { headers[.eTag] = "W/\"\(deleted.versionID)\"" }
            return Response(status: .noContent, headers: headers)
        }
    }

    @Sendable func conditionalDelete(_ request: Request, context: Context) async throws -> Response {
        try await handle {
            let type = try self.request.resourceType(context)
            let criteria = try conditionalCriteria(request, type: type)
            let guarded = try await guarded(request, context)
            try await guarded.auditingDenials {
                try await store.transaction(author: guarded.author) { transaction in
                    let matches = try await transaction.find(criteria)
                    if matches.count > 1 { throw StoreError(.multipleMatches, "the conditional delete matched more than one resource") }
                    if let match = matches.first { _ = try await Self.delete(type: type, id: match.id, in: transaction, guard: guarded) }
                }
            }
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
            let guarded = try await guarded(request, context)
            let subtype: String
            let auditType: String?
            var auditID: String? = nil
            switch scope {
            case .system: (subtype, auditType) = ("history-system", nil)
            case .type(let type): (subtype, auditType) = ("history-type", type)
            case .instance(let type, let id): (subtype, auditType, auditID) = ("history-instance", type, id)
            }
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
                // An unknown instance is 404, not an empty history; so is one the caller may not read.
                do {
                    let current = try await store.read(type: type, id: id)
                    _ = try await guarded.readable(current, subtype: subtype)
                } catch let error as StoreError where error.code != .notFound {
                } catch {
                    await guarded.auditFailure(subtype, action: .read, type: type, id: id, error: error)
                    throw error
                }
            }
            let page = try await store.history(query)
            let base = base(request)
            // Each version is checked on its own content; a deletion (no content) shows only to
            // system clients, or in an instance's history the caller may read.
            let (shown, records) = try await guarded.visible(
                page.entries, subtype: subtype, type: auditType, id: auditID, permission: auditID == nil ? .search : .read,
                showDeletions: guarded.principal.role == .system || auditID != nil,
                query: request.uri.query.map { String($0.prefix(2048)) })
            var entries: [JSONValue] = []
            for (stored, resource) in shown {
                var entry = JSONObject()
                entry["fullUrl"] = .string("\(base)/\(stored.type)/\(stored.id)")
                if let resource { entry["resource"] = resource }
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
            try await security.audit.record(records)
            var bundle: JSONObject = ["resourceType": .string("Bundle"), "type": .string("history"), "link": .array(links)]
            if !entries.isEmpty { bundle["entry"] = .array(entries) }
            return FHIRResponse.make(status: .ok, resource: .object(bundle), format: format, pretty: FHIRFormat.pretty(request))
        }
    }
}

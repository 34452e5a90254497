import FHIRModels
import Foundation
import Hummingbird
import Mapping

/// The five routes of one platform collection (`/patients`, `/doctors`, …) over the FHIR store.
/// Bodies go through `Model`'s strict decoding and pure mapping; everything else — access
/// decisions, audit, validation, indexing, sealing, history — is the FHIR face's own machinery,
/// so both faces serve the same records under the same rules.
struct PlatformController<Model: PlatformModel>: Sendable {
    typealias Context = MedrecRequestContext
    let store: any ResourceStore
    let security: SecurityServices
    let filters: PlatformFilters
    /// Set for appointments: `DELETE` cancels (the record is kept) instead of deleting.
    var cancel: (@Sendable (Model) -> Model)? = nil

    /// Platform bodies are small documents; a medical record with long lists stays far below this.
    static var maxBodyBytes: Int { 1 << 20 }
    static var defaultLimit: Int { 20 }
    static var maxLimit: Int { 100 }

    private var type: String { Model.resourceType }

    func addRoutes(to router: Router<Context>) {
        for operation in PlatformRoutes.operations(of: Model.collection) {
            let path = RouterPath(operation.path)
            switch (operation.method, operation.path.hasSuffix("{id}")) {
            case (.get, false): router.get(path, use: list)
            case (.post, false): router.post(path, use: create)
            case (.get, true): router.get(path, use: read)
            case (.put, true): router.put(path, use: update)
            case (.delete, true): router.delete(path, use: delete)
            default: preconditionFailure("no handler for \(operation.method) \(operation.path)")
            }
        }
    }

    // MARK: - Handlers

    @Sendable func read(_ request: Request, context: Context) async throws -> Response {
        let id = try Self.id(context)
        let stored = try await FHIRController.readCurrent(
            type: type, id: id, request: request, context: context, store: store, security: security)
        return try respond(.ok, stored: stored)
    }

    @Sendable func create(_ request: Request, context: Context) async throws -> Response {
        let model = try Model(body: try await JSONRequestBody.object(request, maxBytes: Self.maxBodyBytes))
        let guarded = try await FHIRGuard.make(request, context, security: security)
        try await refuseIfNeverWritable(model, .create, guard: guarded)
        let referenced = try await checkReferences(of: model)
        let resource = Self.resource(model.fhir(mergingInto: nil, context: mappingContext(guarded, referenced: referenced)))
        let stored = try await guarded.auditingDenials {
            try await FHIRController.createNew(type: type, resource: .object(resource), store: store, guard: guarded)
        }
        return try respond(.created, stored: stored, location: "/\(Model.collection)/\(stored.id)")
    }

    @Sendable func update(_ request: Request, context: Context) async throws -> Response {
        let id = try Self.id(context)
        let model = try Model(body: try await JSONRequestBody.object(request, maxBytes: Self.maxBodyBytes))
        let ifMatch = try Self.ifMatch(request)
        let guarded = try await FHIRGuard.make(request, context, security: security)
        try await refuseIfNeverWritable(model, .update, id: id, guard: guarded)
        let mapping = mappingContext(guarded, referenced: try await checkReferences(of: model))
        let stored = try await write(id: id, guard: guarded, ifMatch: ifMatch) { old in model.fhir(mergingInto: old, context: mapping) }
        return try respond(.ok, stored: stored)
    }

    @Sendable func delete(_ request: Request, context: Context) async throws -> Response {
        let id = try Self.id(context)
        let guarded = try await FHIRGuard.make(request, context, security: security)
        if let cancel {
            let mapping = mappingContext(guarded)
            let stored = try await write(id: id, guard: guarded, ifMatch: nil) { old in
                var current = Model(fhir: old)
                current.id = id
                return cancel(current).fhir(mergingInto: old, context: mapping)
            }
            var model = Model(fhir: try stored.resource() ?? .object([:]))
            model.id = stored.id
            let body: JSONValue = .object([
                "id": .string(stored.id),
                "status": model.json["status"] ?? .null,
                "message": .string("the appointment was canceled; the record is kept"),
                "appointment": model.json,
            ])
            return AuthController.json(.ok, body, headers: [.eTag: "W/\"\(stored.versionID)\""])
        }
        let deleted = try await guarded.auditingDenials {
            try await store.transaction(author: guarded.author) { transaction in
                try await FHIRController.delete(type: type, id: id, in: transaction, guard: guarded)
            }
        }
        guard deleted != nil else { throw APIError.notFound(request.uri.path) }
        return Response(status: .noContent)
    }

    @Sendable func list(_ request: Request, context: Context) async throws -> Response {
        let guarded = try await FHIRGuard.make(request, context, security: security)
        var limit = Self.defaultLimit
        var cursor: String?
        var search = PlatformFilters.Search()
        var seen = Set<String>()
        for (key, value) in request.uri.queryParameters {
            let name = String(key)
            guard seen.insert(name).inserted else {
                throw PlatformFilters.badParameter(name, "may be given once")
            }
            switch name {
            case "limit":
                guard let number = Int(value), (1...Self.maxLimit).contains(number) else {
                    throw PlatformFilters.badParameter(name, "must be an integer from 1 to \(Self.maxLimit)")
                }
                limit = number
            case "cursor":
                cursor = String(value)
            default:
                try filters.apply(name, String(value), to: &search)
            }
        }
        let queryText = String(request.uri.query?.prefix(2048) ?? "")
        guard guarded.access.scopeAllows(.search, on: type) else {
            try await security.audit.record(guarded.record("search-type", action: .read, type: type, decision: .deny("scope"), query: queryText))
            throw APIError(.forbidden, code: "forbidden", "the access token's scopes do not allow listing these records")
        }
        var items = search.items
        items.append(("_count", String(limit)))
        if let cursor { items.append(("_cursor", cursor)) }
        var parser = SearchQueryParser(baseURL: "", strict: true, maxCount: Self.maxLimit)
        parser.sealedContact = (store as? PostgresResourceStore)?.sealedContactSearch
        var query: SearchQuery
        do {
            query = try parser.parse(types: [type], items: items)
        } catch let error as FHIRHTTPError {
            // Filters are checked above; what the parser can still refuse is the cursor.
            throw PlatformFilters.badParameter(cursor != nil ? "cursor" : "query", error.issues.first?.diagnostics ?? "is not valid")
        }
        query.targets[0].conditions += search.conditions
        let denial = try await guarded.restrictToVisible(
            &query, items: items, compartment: nil, subtype: "search-type", type: type, queryText: queryText)
        let page = try await store.search(query)
        let matches = try await guarded.visible(page.entries, subtype: "search-type", type: type, permission: .search, query: queryText)
        var records = matches.records
        if let denial { records.append(denial) }
        try await security.audit.record(records)
        var models: [JSONValue] = []
        models.reserveCapacity(matches.shown.count)
        for (stored, resource) in matches.shown {
            guard let resource else { continue }
            var model = Model(fhir: resource)
            model.id = stored.id
            models.append(model.json)
        }
        var body: JSONObject = ["items": .array(models)]
        if let next = page.next { body["nextCursor"] = .string(next.token) }
        return AuthController.json(.ok, .object(body))
    }

    // MARK: - Parts

    /// Locks the current version, maps the new content over it, and writes it with the FHIR
    /// face's authorized, audited update. A missing or deleted record is 404: the platform
    /// does not create on PUT.
    private func write(
        id: String, guard guarded: FHIRGuard, ifMatch: Int?, _ map: @escaping @Sendable (JSONValue) -> JSONValue
    ) async throws -> StoredResource {
        let type = self.type
        return try await guarded.auditingDenials {
            try await store.transaction(author: guarded.author) { transaction in
                guard let current = try await transaction.readForUpdate(type: type, id: id), let old = try current.resource() else {
                    throw StoreError(.notFound, "\(type)/\(id) is not known")
                }
                var resource = Self.resource(map(old))
                resource["id"] = .string(id)
                let (stored, _) = try await FHIRController.update(
                    type: type, id: id, resource: .object(resource), ifMatch: ifMatch, method: "PUT", in: transaction, guard: guarded)
                return stored
            }
        }
    }

    /// A caller who may not make this kind of write on this type at all gets the audited 403
    /// before the references are looked up, so a 422 never tells them whether a record exists.
    private func refuseIfNeverWritable(
        _ model: Model, _ permission: SMARTPermission, id: String? = nil, guard guarded: FHIRGuard
    ) async throws {
        guard !model.references.isEmpty, !guarded.access.mayEverWrite(permission, on: type) else { return }
        let subtype = permission == .create ? "create" : "update"
        let provisional = JSONValue.object(Self.resource(model.fhir(mergingInto: nil, context: mappingContext(guarded))))
        try await guarded.auditingDenials {
            _ = try await guarded.authorizeWrite(
                subtype, type: type, id: id ?? "-", permission: permission, old: permission == .update ? provisional : nil,
                new: provisional)
        }
        throw APIError(.forbidden, code: "forbidden", "this \(subtype) is not permitted")
    }

    /// 422 for a `patientId`, `doctorId` or `appointmentId` that names no current record; the
    /// records found, by field.
    private func checkReferences(of model: Model) async throws -> [String: JSONValue] {
        var found: [String: JSONValue] = [:]
        var details: [APIError.Detail] = []
        for reference in model.references {
            guard FHIRRequest.isValidID(reference.id) else {
                details.append(.init(field: reference.field, issue: "is not a valid id"))
                continue
            }
            do {
                found[reference.field] = try await store.read(type: reference.type, id: reference.id).resource()
            } catch let error as StoreError {
                switch error.code {
                case .notFound, .gone:
                    details.append(.init(field: reference.field, issue: "names no existing \(PlatformRoutes.noun(of: reference.type))"))
                default:
                    throw error
                }
            }
        }
        if !details.isEmpty {
            throw APIError(.unprocessableContent, code: "unknown_reference", "a referenced record does not exist", details: details)
        }
        return found
    }

    /// The write's time and author, and what a new bill names from the records it points at:
    /// the appointment's doctor as provider, the patient's insurer as coverage.
    private func mappingContext(_ guarded: FHIRGuard, referenced: [String: JSONValue] = [:]) -> MappingContext {
        var context = MappingContext(authorPractitionerID: guarded.principal.practitionerID, now: Date())
        if let appointment = referenced["appointmentId"] {
            context.billingProviderPractitionerID = AppointmentDTO(fhir: appointment).doctorID
        }
        if let patient = referenced["patientId"], patient["resourceType"]?.stringValue == "Patient" {
            context.billingInsuranceProvider = PatientDTO(fhir: patient).insurance?.provider
        }
        return context
    }

    /// The mapped resource as an object with its `resourceType`.
    private static func resource(_ value: JSONValue) -> JSONObject {
        var object = value.objectValue ?? JSONObject()
        if object["resourceType"] == nil { object["resourceType"] = .string(Model.resourceType) }
        return object
    }

    private func respond(_ status: HTTPResponse.Status, stored: StoredResource, location: String? = nil) throws -> Response {
        guard let resource = try stored.resource() else { throw StoreError(.notFound, "\(stored.type)/\(stored.id) is not known") }
        var model = Model(fhir: resource)
        model.id = stored.id
        var headers: HTTPFields = [.eTag: "W/\"\(stored.versionID)\""]
        if let location { headers[.location] = location }
        return AuthController.json(status, model.json, headers: headers)
    }

    static func id(_ context: Context) throws -> String {
        let id = context.parameters.get("id") ?? ""
        guard FHIRRequest.isValidID(id) else {
            throw APIError(.badRequest, code: "bad_parameter", "the id in the path is not valid",
                           details: [.init(field: "id", issue: "must be 1-64 letters, digits, '-' or '.'")])
        }
        return id
    }

    static func ifMatch(_ request: Request) throws -> Int? {
        guard let header = request.headers[.ifMatch] else { return nil }
        guard let version = FHIRRequest.version(fromETag: header) else {
            throw APIError(.badRequest, code: "bad_parameter", "If-Match must be an ETag such as W/\"1\"",
                           details: [.init(field: "If-Match", issue: "must be an ETag such as W/\"1\"")])
        }
        return version
    }
}

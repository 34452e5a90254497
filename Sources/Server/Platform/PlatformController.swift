import FHIRModels
import Foundation
import Hummingbird
import Mapping

/// The five routes of one platform collection (`/patients`, `/doctors`, …) over the FHIR store.
/// A thin adapter: bodies go through `Model`'s strict decoding and pure mapping; access
/// decisions, audit, validation, indexing, sealing and history are `RecordService`'s and
/// `SearchService`'s, the same the FHIR face calls, so both faces serve the same records under
/// the same rules.
struct PlatformController<Model: PlatformModel>: Sendable {
    typealias Context = MedrecRequestContext
    let records: RecordService
    let searches: SearchService
    /// Reference checks (422) look records up without auditing: they tell only whether an id exists.
    let store: any ResourceStore
    let filters: PlatformFilters
    /// Set for appointments: `DELETE` cancels (the record is kept) instead of deleting.
    var cancel: (@Sendable (Model) -> Model)? = nil

    /// Platform bodies are small documents; a medical record with long lists stays far below this.
    static var maxBodyBytes: Int { 1 << 20 }
    static var defaultLimit: Int { 20 }
    static var maxLimit: Int { 100 }

    private var type: String { Model.resourceType }

    /// The record read leaves its token check to its own statement (`reads`); the others are
    /// authenticated before the handler runs.
    func addRoutes(reads: RouterGroup<Context>, authenticated router: RouterGroup<Context>) {
        for operation in PlatformRoutes.operations(of: Model.collection) {
            let path = RouterPath(operation.path)
            switch (operation.method, operation.path.hasSuffix("{id}")) {
            case (.get, false): router.get(path, use: list)
            case (.post, false): router.post(path, use: create)
            case (.get, true): reads.get(path, use: read)
            case (.put, true): router.put(path, use: update)
            case (.delete, true): router.delete(path, use: delete)
            default: preconditionFailure("no handler for \(operation.method) \(operation.path)")
            }
        }
    }

    // MARK: - Handlers

    @Sendable func read(_ request: Request, context: Context) async throws -> Response {
        let id = try Self.id(context)
        return try respond(.ok, stored: try await records.read(type: type, id: id, as: try context.caller(request)))
    }

    @Sendable func create(_ request: Request, context: Context) async throws -> Response {
        let model = try Model(body: try await JSONRequestBody.object(request, maxBytes: Self.maxBodyBytes))
        let caller = try await records.confirmed(try context.caller(request))
        try await refuseIfNeverWritable(model, .create, as: caller)
        let mapping = mappingContext(caller, referenced: try await checkReferences(of: model))
        let resource = Self.resource(model.fhir(mergingInto: nil, context: mapping))
        let stored = try await records.create(type: type, resource: .object(resource), as: caller).stored
        return try respond(.created, stored: stored, location: "/\(Model.collection)/\(stored.id)")
    }

    @Sendable func update(_ request: Request, context: Context) async throws -> Response {
        let id = try Self.id(context)
        let model = try Model(body: try await JSONRequestBody.object(request, maxBytes: Self.maxBodyBytes))
        let ifMatch = try Self.ifMatch(request)
        let caller = try await records.confirmed(try context.caller(request))
        try await refuseIfNeverWritable(model, .update, id: id, as: caller)
        let mapping = mappingContext(caller, referenced: try await checkReferences(of: model))
        let stored = try await records.update(type: type, id: id, ifMatch: ifMatch, as: caller) { old in
            Self.resourceValue(model.fhir(mergingInto: old, context: mapping))
        }
        return try respond(.ok, stored: stored)
    }

    @Sendable func delete(_ request: Request, context: Context) async throws -> Response {
        let id = try Self.id(context)
        let caller = try context.caller(request)
        if let cancel {
            let mapping = mappingContext(caller)
            let stored = try await records.update(type: type, id: id, ifMatch: nil, as: caller) { old in
                var current = Model(fhir: old)
                current.id = id
                return Self.resourceValue(cancel(current).fhir(mergingInto: old, context: mapping))
            }
            var model = Model(fhir: try stored.resource() ?? .object([:]))
            model.id = stored.id
            let body: JSONValue = .object([
                "id": .string(stored.id),
                "status": model.json["status"] ?? .null,
                "message": .string("the appointment was canceled; the record is kept"),
                "appointment": model.json,
            ])
            return PlatformResponse.json(.ok, body, headers: [.eTag: "W/\"\(stored.versionID)\""])
        }
        guard try await records.delete(type: type, id: id, as: caller) != nil else { throw APIError.notFound(request.uri.path) }
        return Response(status: .noContent)
    }

    @Sendable func list(_ request: Request, context: Context) async throws -> Response {
        let (search, limit, cursor) = try listParameters(request)
        var items = search.items
        items.append(("_count", String(limit)))
        if let cursor { items.append(("_cursor", cursor)) }
        var parser = SearchQueryParser(baseURL: "", strict: true, maxCount: Self.maxLimit)
        parser.sealedContact = (store as? PostgresResourceStore)?.sealedContactSearch
        var query: SearchQuery
        do {
            query = try parser.parse(types: [type], items: items)
        } catch let error as SearchQueryError {
            // Filters are checked above; what the parser can still refuse is the cursor.
            throw PlatformFilters.badParameter(cursor != nil ? "cursor" : "query", error.message)
        }
        query.targets[0].conditions += search.conditions
        // The audit log keeps the platform query as the caller wrote it.
        let raw = request.uri.query.map { String($0.prefix(2048)) } ?? ""
        let result: SearchService.Result
        do {
            result = try await searches.search(
                SearchService.Request(query: query, items: items, auditType: type, queryText: raw), as: try context.caller(request))
        } catch let denied as AccessDenied where denied.kind == .forbidden {
            throw APIError(.forbidden, code: "forbidden", "the access token's scopes do not allow listing these records")
        }
        let models: [JSONValue] = result.matches.map { stored, resource in
            var model = Model(fhir: resource)
            model.id = stored.id
            return model.json
        }
        var body: JSONObject = ["items": .array(models)]
        if let next = result.next { body["nextCursor"] = .string(next) }
        return PlatformResponse.json(.ok, .object(body))
    }

    // MARK: - Parts

    /// The list's filters, `limit` and `cursor`; an unknown or repeated parameter is a 400.
    private func listParameters(_ request: Request) throws -> (PlatformFilters.Search, limit: Int, cursor: String?) {
        var limit = Self.defaultLimit
        var cursor: String?
        var search = PlatformFilters.Search()
        var seen = Set<String>()
        for (key, value) in request.uri.queryParameters {
            let name = String(key)
            guard seen.insert(name).inserted else { throw PlatformFilters.badParameter(name, "may be given once") }
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
        return (search, limit, cursor)
    }

    /// A caller who may not make this kind of write on this type at all gets the audited 403
    /// before the references are looked up, so a 422 never tells them whether a record exists.
    private func refuseIfNeverWritable(_ model: Model, _ permission: SMARTPermission, id: String? = nil, as caller: Caller) async throws {
        guard !model.references.isEmpty else { return }
        let provisional = Self.resourceValue(model.fhir(mergingInto: nil, context: mappingContext(caller)))
        try await records.refuseIfNeverWritable(permission, type: type, id: id, provisional: provisional, as: caller)
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
    private func mappingContext(_ caller: Caller, referenced: [String: JSONValue] = [:]) -> MappingContext {
        var context = MappingContext(authorPractitionerID: caller.principal.practitionerID, now: Date())
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

    private static func resourceValue(_ value: JSONValue) -> JSONValue { .object(resource(value)) }

    private func respond(_ status: HTTPResponse.Status, stored: StoredResource, location: String? = nil) throws -> Response {
        guard let resource = try stored.resource() else { throw StoreError(.notFound, "\(stored.type)/\(stored.id) is not known") }
        var model = Model(fhir: resource)
        model.id = stored.id
        var headers: HTTPFields = [.eTag: "W/\"\(stored.versionID)\""]
        if let location { headers[.location] = location }
        return PlatformResponse.json(status, model.json, headers: headers)
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

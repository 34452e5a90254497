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
    let service: PlatformRecords<Model>
    let filters: PlatformFilters

    /// Platform bodies are small documents; a medical record with long lists stays far below this.
    static var maxBodyBytes: Int { 1 << 20 }
    static var defaultLimit: Int { 20 }
    static var maxLimit: Int { 100 }

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
        return respond(.ok, try await service.read(id: id, as: try context.caller(request)))
    }

    @Sendable func create(_ request: Request, context: Context) async throws -> Response {
        let model = try Model(body: try await JSONRequestBody.object(request, maxBytes: Self.maxBodyBytes))
        let item = try await service.create(model, as: try context.caller(request))
        return respond(.created, item, location: "/\(Model.collection)/\(item.stored.id)")
    }

    @Sendable func update(_ request: Request, context: Context) async throws -> Response {
        let id = try Self.id(context)
        let model = try Model(body: try await JSONRequestBody.object(request, maxBytes: Self.maxBodyBytes))
        let ifMatch = try Self.ifMatch(request)
        return respond(.ok, try await service.update(id: id, model, ifMatch: ifMatch, as: try context.caller(request)))
    }

    @Sendable func delete(_ request: Request, context: Context) async throws -> Response {
        let id = try Self.id(context)
        let caller = try context.caller(request)
        if let item = try await service.cancel(id: id, as: caller) {
            let body: JSONValue = .object([
                "id": .string(item.stored.id),
                "status": item.model.json["status"] ?? .null,
                "message": .string("the appointment was canceled; the record is kept"),
                "appointment": item.model.json,
            ])
            return PlatformResponse.json(.ok, body, headers: [.eTag: "W/\"\(item.stored.versionID)\""])
        }
        guard try await service.delete(id: id, as: caller) else { throw APIError.notFound(request.uri.path) }
        return Response(status: .noContent)
    }

    @Sendable func list(_ request: Request, context: Context) async throws -> Response {
        let (search, limit, cursor) = try listParameters(request)
        var items = search.items
        items.append(("_count", String(limit)))
        if let cursor { items.append(("_cursor", cursor)) }
        // The audit log keeps the platform query as the caller wrote it.
        let raw = request.uri.query.map { String($0.prefix(2048)) } ?? ""
        let page: (items: [PlatformRecords<Model>.Item], next: String?)
        do {
            page = try await service.list(
                items, conditions: search.conditions, queryText: raw, maxCount: Self.maxLimit, as: try context.caller(request))
        } catch let error as SearchQueryError {
            // Filters are checked above; what the parser can still refuse is the cursor.
            throw PlatformFilters.badParameter(cursor != nil ? "cursor" : "query", error.message)
        } catch let denied as AccessDenied where denied.kind == .forbidden {
            throw APIError(.forbidden, code: "forbidden", "the access token's scopes do not allow listing these records")
        }
        var body: JSONObject = ["items": .array(page.items.map(\.model.json))]
        if let next = page.next { body["nextCursor"] = .string(next) }
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

    private func respond(_ status: HTTPResponse.Status, _ item: PlatformRecords<Model>.Item, location: String? = nil) -> Response {
        var headers: HTTPFields = [.eTag: "W/\"\(item.stored.versionID)\""]
        if let location { headers[.location] = location }
        return PlatformResponse.json(status, item.model.json, headers: headers)
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

import FHIRModels
import Foundation
import Hummingbird

/// `/admin/users`: list accounts, approve a pending doctor, disable an account, change a role.
/// Admins only, declared by the route group (`RequireAdministrator`) and confirmed again by
/// `AdminService`, which makes every change, audits it and ends the account's sessions; this
/// controller only parses and renders.
struct AdminController: Sendable {
    typealias Context = MedrecRequestContext
    let security: SecurityServices

    func addRoutes(to router: RouterGroup<Context>) {
        let admin = router.group("admin").add(middleware: RequireAdministrator(security: security))
        admin.get("users", use: list)
        admin.get("users/{id}", use: show)
        admin.post("users/{id}/approve") { request, context in try await self.setStatus(.active, request, context) }
        admin.post("users/{id}/disable") { request, context in try await self.setStatus(.disabled, request, context) }
        admin.put("users/{id}/role", use: changeRole)
    }

    var admin: AdminService { AdminService(security: security) }

    /// The administrator making the request (the group's middleware has checked the role; the
    /// service confirms it again).
    private func caller(_ request: Request, _ context: Context) throws -> Caller {
        guard context.principal != nil else { throw APIError(.unauthorized, code: "unauthorized", "a bearer access token is required") }
        return try context.caller(request)
    }

    static func json(_ account: UserAccount) -> JSONValue {
        var object: JSONObject = [
            "id": .string(account.id), "role": .string(account.role.rawValue), "status": .string(account.status.rawValue),
            "createdAt": .string(StoreTimestamp.string(account.createdAt)),
        ]
        if let email = account.email { object["email"] = .string(email) }
        if let fhirUser = account.fhirUser { object["fhirUser"] = .string(fhirUser) }
        return .object(object)
    }

    @Sendable func list(_ request: Request, context: Context) async throws -> Response {
        let caller = try caller(request, context)
        var limit = 50
        if let text = request.uri.queryParameters["limit"] {
            guard let parsed = Int(text), (1...500).contains(parsed) else {
                throw APIError.validation([.init(field: "limit", issue: "must be an integer from 1 to 500")])
            }
            limit = parsed
        }
        let cursor = request.uri.queryParameters["cursor"].map(String.init)
        let page = try await mapped { try await admin.users(after: cursor, limit: limit, as: caller) }
        var body: JSONObject = ["users": .array(page.users.map(Self.json))]
        if let next = page.next { body["nextCursor"] = .string(next) }
        return PlatformResponse.json(.ok, .object(body))
    }

    @Sendable func show(_ request: Request, context: Context) async throws -> Response {
        let caller = try caller(request, context)
        let id = try context.parameters.require("id")
        return PlatformResponse.json(.ok, Self.json(try await mapped { try await admin.user(id: id, as: caller) }))
    }

    func setStatus(_ status: UserAccount.Status, _ request: Request, _ context: Context) async throws -> Response {
        let caller = try caller(request, context)
        let id = try context.parameters.require("id")
        let account = try await mapped {
            if status == .active { return try await admin.approve(userID: id, as: caller) }
            return try await admin.disable(userID: id, as: caller)
        }
        return PlatformResponse.json(.ok, Self.json(account))
    }

    @Sendable func changeRole(_ request: Request, context: Context) async throws -> Response {
        let caller = try caller(request, context)
        let id = try context.parameters.require("id")
        let body = try await JSONRequestBody.object(request)
        var details = JSONRequestBody.rejectUnknown(body, allowed: ["role", "fhirUser"])
        let roleText = JSONRequestBody.string(body, "role", required: true, maxLength: 32, into: &details)
        let fhirUser = JSONRequestBody.string(body, "fhirUser", required: false, maxLength: 128, into: &details)
        let role = roleText.flatMap(Principal.Role.init(rawValue:))
        if roleText != nil && (role == nil || role == .system) {
            details.append(.init(field: "role", issue: "must be admin, doctor, patient or billing"))
        }
        guard details.isEmpty, let role else { throw APIError.validation(details) }
        let account = try await mapped { try await admin.changeRole(userID: id, to: role, fhirUser: fhirUser, as: caller) }
        return PlatformResponse.json(.ok, Self.json(account))
    }

    /// The service's refusals in the platform's shape (access and store errors pass on to
    /// `APIError.from`).
    private func mapped<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let refused as AdminService.Refused {
            switch refused {
            case .unknownUser: throw APIError(.notFound, code: "not_found", "no such user")
            case .unknownClient: throw APIError(.notFound, code: "not_found", "no such client")
            case .ownAccount: throw APIError(.conflict, code: "conflict", "administrators cannot change their own account here")
            case .notPending: throw APIError(.conflict, code: "not_pending", "only a pending account can be approved")
            case .invalid(let issues): throw APIError.validation(issues.map { .init(field: $0.field, issue: $0.issue) })
            }
        }
    }
}

import FHIRModels
import Foundation
import Hummingbird

/// `/admin/users`: list accounts, approve a pending doctor, disable an account, change a role.
/// Admins only, declared by the route group (`RequireRole`); every action is audited, and any
/// change ends the account's sessions.
struct AdminController: Sendable {
    typealias Context = MedrecRequestContext
    let security: SecurityServices

    func addRoutes(to router: RouterGroup<Context>) {
        let admin = router.group("admin").add(middleware: RequireRole(role: .admin, name: "administrators"))
        admin.get("users", use: list)
        admin.get("users/{id}", use: show)
        admin.post("users/{id}/approve") { request, context in try await self.setStatus(.active, request, context) }
        admin.post("users/{id}/disable") { request, context in try await self.setStatus(.disabled, request, context) }
        admin.put("users/{id}/role", use: changeRole)
    }

    /// The administrator making the request (the group's middleware has checked the role).
    private func admin(_ context: Context) throws -> Principal {
        guard let principal = context.principal else { throw APIError(.unauthorized, code: "unauthorized", "a bearer access token is required") }
        return principal
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
        let principal = try admin(context)
        var limit = 50
        if let text = request.uri.queryParameters["limit"] {
            guard let parsed = Int(text), (1...500).contains(parsed) else {
                throw APIError.validation([.init(field: "limit", issue: "must be an integer from 1 to 500")])
            }
            limit = parsed
        }
        let cursor = request.uri.queryParameters["cursor"].map(String.init)
        var users = try await security.identities.users(after: cursor, limit: limit + 1)
        var next: String?
        if users.count > limit {
            users.removeLast()
            next = users.last?.id
        }
        try await audit(principal, context, .searchType, userID: nil)
        var body: JSONObject = ["users": .array(users.map(Self.json))]
        if let next { body["nextCursor"] = .string(next) }
        return PlatformResponse.json(.ok, .object(body))
    }

    @Sendable func show(_ request: Request, context: Context) async throws -> Response {
        let principal = try admin(context)
        let id = try context.parameters.require("id")
        guard let account = try await security.identities.user(id: id) else {
            throw APIError(.notFound, code: "not_found", "no such user")
        }
        try await audit(principal, context, .read, userID: id)
        return PlatformResponse.json(.ok, Self.json(account))
    }

    func setStatus(_ status: UserAccount.Status, _ request: Request, _ context: Context) async throws -> Response {
        let principal = try admin(context)
        let id = try context.parameters.require("id")
        guard id != principal.subject else { throw APIError(.conflict, code: "conflict", "administrators cannot change their own account here") }
        guard let account = try await security.identities.user(id: id) else {
            throw APIError(.notFound, code: "not_found", "no such user")
        }
        if status == .active && account.status != .pending {
            throw APIError(.conflict, code: "not_pending", "only a pending account can be approved")
        }
        _ = try await security.identities.update(userID: id, status: status, reason: status == .active ? "approved" : "disabled")
        try await audit(principal, context, .update, userID: id, description: status == .active ? "approved" : "disabled")
        return PlatformResponse.json(.ok, Self.json(try await security.identities.user(id: id) ?? account))
    }

    @Sendable func changeRole(_ request: Request, context: Context) async throws -> Response {
        let principal = try admin(context)
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
        guard let account = try await security.identities.user(id: id) else { throw APIError(.notFound, code: "not_found", "no such user") }
        // Patients and doctors must be linked to their resource.
        let link = fhirUser ?? account.fhirUser
        let target = link.flatMap(PatientCompartment.referenceTarget)
        if role == .patient && target?.type != "Patient" {
            throw APIError.validation([.init(field: "fhirUser", issue: "a patient account must link to a Patient")])
        }
        if role == .doctor && target?.type != "Practitioner" {
            throw APIError.validation([.init(field: "fhirUser", issue: "a doctor account must link to a Practitioner")])
        }
        _ = try await security.identities.update(userID: id, role: role, fhirUser: fhirUser, reason: "role-change")
        try await audit(principal, context, .update, userID: id, description: "role changed to \(role.rawValue)")
        return PlatformResponse.json(.ok, Self.json(try await security.identities.user(id: id) ?? account))
    }

    private func audit(
        _ principal: Principal, _ context: Context, _ interaction: AuditedInteraction, userID: String?, description: String? = nil
    ) async throws {
        var record = AuditRecord(interaction, outcomeDescription: description)
        record.agentUserID = principal.subject
        record.agentRole = principal.role.rawValue
        record.clientAddress = context.clientAddress
        record.purposeOfUse = AuditRecord.purpose(of: principal.role)
        record.query = userID.map { "user=\($0)" } ?? "users"
        try await security.audit.record(record)
    }
}

import FHIRModels
import Foundation
import Mapping

/// Administration, once, for every face (the platform's `/admin/users` and the web pages'
/// `/app/admin`): accounts (list, show, approve a pending doctor, disable, change a role with
/// its link checks) and system clients (list, create, revoke). The caller is confirmed as an
/// administrator here, whatever the route declared; every call, allowed or refused, leaves an
/// AuditEvent; any change to an account ends its sessions (`IdentityStore.update`), a revoked
/// client's tokens stop at once. Knows nothing of HTTP.
public struct AdminService: Sendable {
    let security: SecurityServices

    public init(security: SecurityServices) {
        self.security = security
    }

    /// Why an administrative change was not made (nothing was changed).
    public enum Refused: Error, Sendable, Equatable {
        /// No account has this id.
        case unknownUser
        /// Administrators do not approve, disable or re-role themselves.
        case ownAccount
        /// Only a pending account can be approved.
        case notPending
        /// No active client has this id.
        case unknownClient
        /// Field problems (`limit`, `role`, `fhirUser`, `name`, `scopes`), reported together.
        case invalid([FieldIssue])
    }

    public struct UsersPage: Sendable {
        public let users: [UserAccount]
        /// The cursor of the next page (the last id shown), nil on the last page.
        public let next: String?
    }

    public struct CreatedClient: Sendable {
        public let id: String
        public let scopes: String
        /// Shown once, to the administrator who created it; only its hash is stored.
        public let secret: String
    }

    // MARK: - Accounts

    /// Accounts in id order after `cursor`, `limit` (1…500) at a time; `status`/`role` narrow
    /// the list (the web face's "pending doctors").
    public func users(
        after cursor: String?, limit: Int, status: UserAccount.Status? = nil, role: Principal.Role? = nil, as caller: Caller
    ) async throws -> UsersPage {
        let access = try await requireAdministrator(caller, .searchType, query: "users")
        guard (1...500).contains(limit) else { throw Refused.invalid([.init(field: "limit", issue: "must be an integer from 1 to 500")]) }
        var users = try await security.identities.users(after: cursor, limit: limit + 1, status: status, role: role)
        var next: String?
        if users.count > limit {
            users.removeLast()
            next = users.last?.id
        }
        try await audit(access, .searchType, userID: nil)
        return UsersPage(users: users, next: next)
    }

    public func user(id: String, as caller: Caller) async throws -> UserAccount {
        let access = try await requireAdministrator(caller, .read, query: Self.query(user: id))
        guard let account = try await security.identities.user(id: id) else { throw Refused.unknownUser }
        try await audit(access, .read, userID: id)
        return account
    }

    /// The account with this email (the audit log's user filter); the address is not audited.
    public func user(email: String, as caller: Caller) async throws -> UserAccount {
        let access = try await requireAdministrator(caller, .read, query: "users")
        guard let credentials = try await security.identities.credentials(email: email),
              let account = try await security.identities.user(id: credentials.id) else { throw Refused.unknownUser }
        try await audit(access, .read, userID: account.id)
        return account
    }

    /// A pending account (a self-registered doctor) becomes active and can sign in.
    public func approve(userID: String, as caller: Caller) async throws -> UserAccount {
        try await setStatus(.active, userID: userID, as: caller)
    }

    /// The account can no longer sign in; its sessions (API and browser) end at once.
    public func disable(userID: String, as caller: Caller) async throws -> UserAccount {
        try await setStatus(.disabled, userID: userID, as: caller)
    }

    private func setStatus(_ status: UserAccount.Status, userID id: String, as caller: Caller) async throws -> UserAccount {
        let access = try await requireAdministrator(caller, .update, query: Self.query(user: id))
        guard id != access.principal.subject else { throw Refused.ownAccount }
        guard let account = try await security.identities.user(id: id) else { throw Refused.unknownUser }
        if status == .active && account.status != .pending { throw Refused.notPending }
        let description = status == .active ? "approved" : "disabled"
        _ = try await security.identities.update(userID: id, status: status, reason: description)
        try await audit(access, .update, userID: id, description: description)
        return try await security.identities.user(id: id) ?? account
    }

    /// A new role (never `system`); patients and doctors must link to their Patient or
    /// Practitioner (`fhirUser`, or the account's current link). Ends the account's sessions.
    public func changeRole(userID id: String, to role: Principal.Role, fhirUser: String?, as caller: Caller) async throws -> UserAccount {
        let access = try await requireAdministrator(caller, .update, query: Self.query(user: id))
        guard role != .system else { throw Refused.invalid([.init(field: "role", issue: "must be admin, doctor, patient or billing")]) }
        guard let account = try await security.identities.user(id: id) else { throw Refused.unknownUser }
        let link = fhirUser ?? account.fhirUser
        let target = link.flatMap(PatientCompartment.referenceTarget)
        if role == .patient && target?.type != "Patient" {
            throw Refused.invalid([.init(field: "fhirUser", issue: "a patient account must link to a Patient")])
        }
        if role == .doctor && target?.type != "Practitioner" {
            throw Refused.invalid([.init(field: "fhirUser", issue: "a doctor account must link to a Practitioner")])
        }
        _ = try await security.identities.update(userID: id, role: role, fhirUser: fhirUser, reason: "role-change")
        try await audit(access, .update, userID: id, description: "role changed to \(role.rawValue)")
        return try await security.identities.user(id: id) ?? account
    }

    // MARK: - System clients

    public func clients(as caller: Caller) async throws -> [IdentityStore.SystemClient] {
        let access = try await requireAdministrator(caller, .searchType, query: "clients")
        let clients = try await security.identities.clients()
        try await security.audit.record(access.record(.searchType, query: "clients"))
        return clients
    }

    /// A client-credentials client with a secret, for `system/` scopes only. The secret is in
    /// the result and nowhere else: only its hash is stored, and it is never logged or audited.
    public func createClient(name: String, scopes: String, as caller: Caller) async throws -> CreatedClient {
        let access = try await requireAdministrator(caller, .create, query: "clients")
        var issues: [FieldIssue] = []
        let name = name.trimmingCharacters(in: .whitespacesAndNewlines)
        if name.isEmpty {
            issues.append(.init(field: "name", issue: "is required"))
        } else if name.count > 100 {
            issues.append(.init(field: "name", issue: "must be at most 100 characters"))
        }
        var parsed: ScopeSet?
        let scopeText = scopes.trimmingCharacters(in: .whitespacesAndNewlines)
        if scopeText.isEmpty {
            issues.append(.init(field: "scopes", issue: "is required"))
        } else if scopeText.count > 1000 {
            issues.append(.init(field: "scopes", issue: "must be at most 1000 characters"))
        } else if let set = try? ScopeSet(parsing: scopeText), !set.scopes.isEmpty,
                  set.scopes.allSatisfy({ $0.context == .system }), set.otherScopes.isEmpty {
            parsed = set
        } else {
            issues.append(.init(field: "scopes", issue: "must be SMART system/ scopes only, e.g. system/*.rs"))
        }
        guard issues.isEmpty, let parsed else { throw Refused.invalid(issues) }
        let added = try await security.identities.addClient(name: name, scopes: parsed.text)
        try await security.audit.record(access.record(.create, description: "client created", query: Self.query(client: added.id)))
        return CreatedClient(id: added.id, scopes: parsed.text, secret: added.secret)
    }

    /// Revokes a live client: its secret, keys and live tokens stop working at once.
    public func revokeClient(id: String, as caller: Caller) async throws {
        let access = try await requireAdministrator(caller, .update, query: Self.query(client: id))
        guard try await security.identities.revokeClient(id: id) else { throw Refused.unknownClient }
        try await security.audit.record(access.record(.update, description: "client revoked", query: Self.query(client: id)))
    }

    // MARK: - Parts

    /// The caller, confirmed with the database and as an administrator; anyone else is
    /// refused (403) and the attempt audited.
    func requireAdministrator(_ caller: Caller, _ interaction: AuditedInteraction, query: String) async throws -> AuditedAccess {
        let access = AuditedAccess(try await security.confirmed(caller), security: security)
        guard access.principal.role == .admin else {
            try await security.audit.record(access.record(interaction, decision: .deny("role"), query: query))
            throw AccessDenied(.forbidden, "administrators only")
        }
        return access
    }

    private func audit(_ access: AuditedAccess, _ interaction: AuditedInteraction, userID: String?, description: String? = nil) async throws {
        try await security.audit.record(access.record(interaction, description: description, query: userID.map(Self.query(user:)) ?? "users"))
    }

    static func query(user id: String) -> String { "user=\(id)" }
    static func query(client id: String) -> String { "client=\(id)" }
}

import Foundation
import Logging

/// Logging in, refreshing and logging out, once, for every face (the platform's `/auth/*`
/// today, the web pages next): throttling per client address and per account, one bcrypt
/// verification whether or not the account exists, the account's state, scopes narrowed to the
/// role's ceiling, refresh-token rotation with replay detection, and an AuditEvent for every
/// attempt. Returns tokens or a typed refusal; knows nothing of HTTP.
public struct SessionService: Sendable {
    let security: SecurityServices

    public init(security: SecurityServices) {
        self.security = security
    }

    /// What a login or refresh hands out.
    public struct Tokens: Sendable {
        public let accessToken: String
        public let refreshToken: String
        /// Seconds the access token lives.
        public let expiresIn: Int
        public let scope: String
    }

    /// Why no tokens were handed out. Every refusal was audited.
    public struct Refused: Error, Sendable {
        public enum Reason: Sendable, Equatable {
            /// Too many failures from this address or for this account: retry after `until`.
            case throttled(until: Date)
            /// Unknown email or wrong password: one answer for both.
            case invalidCredentials
            case pending
            case disabled
            /// The requested scope is not a SMART scope list.
            case invalidScope
            /// A refresh token that is unknown, spent (replay: the session is revoked) or whose account is gone.
            case invalidGrant
        }

        public let reason: Reason
    }

    /// The most a role's tokens may carry; a requested scope is narrowed to it.
    static func ceiling(for role: Principal.Role) -> ScopeSet {
        let text: String
        switch role {
        case .patient: text = "patient/*.cruds openid fhirUser offline_access"
        case .doctor, .billing, .admin: text = "user/*.cruds openid fhirUser offline_access"
        case .system: text = "system/*.cruds"
        }
        return (try? ScopeSet(parsing: text)) ?? ScopeSet([])
    }

    public func login(email: String, password: String, requestedScope: String?, clientAddress: String?, now: Date = Date()) async throws -> Tokens {
        let account = try await authenticate(email: email, password: password, clientAddress: clientAddress, now: now)
        let ceiling = Self.ceiling(for: account.role)
        var scope = ceiling
        if let requestedScope {
            guard let requested = try? ScopeSet(parsing: requestedScope) else { throw Refused(reason: .invalidScope) }
            scope = requested.narrowed(to: ceiling)
        }
        let refreshToken = OpaqueToken.generate()
        let sessionID = try await security.identities.createSession(userID: account.id, scope: scope.text, refreshToken: refreshToken)
        let issued = try await security.tokens.issue(
            subject: account.id, role: account.role.rawValue, scope: scope.text, fhirUser: account.fhirUser, sessionID: sessionID,
            clientID: nil)
        security.logins.recordTokenIssued()
        try await audit(.login, .success, nil, userID: account.id, role: account.role, fhirUser: account.fhirUser, clientAddress: clientAddress)
        return Tokens(accessToken: issued.token, refreshToken: refreshToken, expiresIn: Int(security.tokens.lifetime), scope: scope.text)
    }

    /// The checks every sign-in makes, whatever it hands out: throttles per address and per
    /// account, one bcrypt verification whether or not the account exists, the account's state.
    /// Every refusal is audited here.
    private func authenticate(email: String, password: String, clientAddress: String?, now: Date) async throws -> IdentityStore.Credentials {
        if let until = security.addressThrottle.blockedUntil(clientAddress, now: now) {
            security.logins.record(.locked)
            try await audit(.login, .minorFailure, "throttled (address)", clientAddress: clientAddress)
            throw Refused(reason: .throttled(until: until))
        }
        if let until = try await security.identities.lockedUntil(email: email, now: now) {
            security.logins.record(.locked)
            try await audit(.login, .minorFailure, "throttled (account)", clientAddress: clientAddress)
            throw Refused(reason: .throttled(until: until))
        }
        let account = try await security.identities.credentials(email: email)
        // Unknown email or not: one bcrypt verification, one answer.
        let matches = try await security.hasher.verify(password, against: account?.passwordHash)
        guard matches, let account else {
            // A failure even when it is the one that locks the account: the password was tried.
            security.logins.record(.failure)
            security.addressThrottle.recordFailure(clientAddress, now: now)
            let lock = try await security.identities.recordFailure(email: email, now: now)
            try await audit(.login, .minorFailure, "invalid credentials", userID: account?.id, role: account?.role, clientAddress: clientAddress)
            if let lock { throw Refused(reason: .throttled(until: lock)) }
            throw Refused(reason: .invalidCredentials)
        }
        switch account.status {
        case .active: break
        case .pending:
            security.logins.record(.failure)
            try await audit(.login, .minorFailure, "account pending approval", userID: account.id, role: account.role, clientAddress: clientAddress)
            throw Refused(reason: .pending)
        case .disabled:
            security.logins.record(.failure)
            try await audit(.login, .minorFailure, "account disabled", userID: account.id, role: account.role, clientAddress: clientAddress)
            throw Refused(reason: .disabled)
        }
        try await security.identities.clearFailures(email: email)
        security.logins.record(.success)
        return account
    }

    // MARK: - Browser sessions (the web face)

    /// How long a browser's session lives at most, and unused.
    public static let webLifetime: TimeInterval = 12 * 3600
    public static let webIdleTimeout: TimeInterval = 30 * 60

    /// What the browser keeps (in an HttpOnly cookie): the session id and its secret. Only the
    /// secret's digest is stored.
    public struct WebSession: Sendable, Equatable {
        public let sessionID: String
        public let secret: String

        /// `<session id>.<secret>`: both are base64url/uuid text, so the dot is unambiguous.
        public var cookieValue: String { "\(sessionID).\(secret)" }

        public init(sessionID: String, secret: String) {
            self.sessionID = sessionID
            self.secret = secret
        }

        public init?(cookieValue: String) {
            let parts = cookieValue.split(separator: ".", maxSplits: 1)
            guard parts.count == 2, parts[0].count <= 64, parts[1].count <= 128, !parts[1].isEmpty else { return nil }
            self.init(sessionID: String(parts[0]), secret: String(parts[1]))
        }
    }

    /// A browser's sign-in: the same checks and audit as `login`, with the role's full scope
    /// ceiling, and a session of the same family (logout, password change, disable and role
    /// change end it) that hands out no bearer token.
    public func signIn(email: String, password: String, clientAddress: String?, now: Date = Date()) async throws -> WebSession {
        let account = try await authenticate(email: email, password: password, clientAddress: clientAddress, now: now)
        let secret = OpaqueToken.generate()
        let sessionID = try await security.identities.createWebSession(
            userID: account.id, scope: Self.ceiling(for: account.role).text, secret: secret, lifetime: Self.webLifetime, now: now)
        try await audit(.login, .success, "web session", userID: account.id, role: account.role, fhirUser: account.fhirUser, clientAddress: clientAddress)
        return WebSession(sessionID: sessionID, secret: secret)
    }

    /// The caller behind a browser's session, asked of the database at every request (so a
    /// revocation anywhere is honoured at the next page), or nil when the session is unknown,
    /// ended, idle too long, or its account is not active.
    public func webCaller(_ session: WebSession, clientAddress: String?, breakGlassReason: String? = nil, now: Date = Date()) async throws -> Caller? {
        guard let row = try await security.identities.webSession(
            id: session.sessionID, secret: session.secret, idle: Self.webIdleTimeout, now: now) else { return nil }
        let principal = Principal(
            subject: row.userID, role: row.role, fhirUser: row.fhirUser.flatMap(PatientCompartment.referenceTarget),
            scopes: ScopeSet.ofToken(row.scope), tokenID: "web:\(session.sessionID)", tokenExpiry: row.expiresAt,
            sessionID: session.sessionID)
        return Caller(principal: principal, breakGlassReason: breakGlassReason, clientAddress: clientAddress)
    }

    // MARK: - Password change

    /// Why a password was not changed.
    public enum PasswordChangeRefused: Error, Sendable, Equatable {
        /// System clients have no password.
        case notAPerson
        /// The account behind the caller is gone.
        case noAccount
        /// Field problems, by field (`currentPassword`, `newPassword`), reported together.
        case invalid([FieldProblem])
    }

    public struct FieldProblem: Sendable, Equatable {
        public let field: String
        public let issue: String
    }

    /// Checks the current password and the policy, stores the new hash and ends every session
    /// of the account, this one included; audited.
    public func changePassword(_ caller: Caller, current: String?, new: String?) async throws {
        let caller = try await security.confirmed(caller)
        let principal = caller.principal
        guard principal.role != .system else { throw PasswordChangeRefused.notAPerson }
        guard let account = try await security.identities.credentials(userID: principal.subject) else { throw PasswordChangeRefused.noAccount }
        var problems: [FieldProblem] = []
        if current?.isEmpty ?? true { problems.append(.init(field: "currentPassword", issue: "is required")) }
        if let new, !new.isEmpty {
            for problem in PasswordPolicy.problems(with: new, email: nil) { problems.append(.init(field: "newPassword", issue: problem)) }
        } else {
            problems.append(.init(field: "newPassword", issue: "is required"))
        }
        guard problems.isEmpty, let current, let new else { throw PasswordChangeRefused.invalid(problems) }
        guard try await security.hasher.verify(current, against: account.passwordHash) else {
            throw PasswordChangeRefused.invalid([.init(field: "currentPassword", issue: "is not the current password")])
        }
        let hash = try await security.hasher.hash(new)
        _ = try await security.identities.update(userID: account.id, passwordHash: hash, reason: "password-change")
        try await audit(
            .passwordChange, .success, "every session ended", userID: account.id, role: account.role, fhirUser: account.fhirUser,
            clientAddress: caller.clientAddress)
    }

    /// A new pair for a refresh token, which is spent; presenting a spent one again revokes its
    /// whole session (someone else may hold it).
    public func refresh(_ token: String, clientAddress: String?, logger: Logger) async throws -> Tokens {
        let successor = OpaqueToken.generate()
        switch try await security.identities.rotate(refreshToken: token, successor: successor) {
        case .rotated(let userID, let sessionID, let scope):
            guard let account = try await security.identities.credentials(userID: userID) else { throw Refused(reason: .invalidGrant) }
            let issued = try await security.tokens.issue(
                subject: account.id, role: account.role.rawValue, scope: scope, fhirUser: account.fhirUser, sessionID: sessionID,
                clientID: nil)
            security.logins.recordTokenIssued()
            try await audit(.refresh, .success, nil, userID: account.id, role: account.role, fhirUser: account.fhirUser, clientAddress: clientAddress)
            return Tokens(accessToken: issued.token, refreshToken: successor, expiresIn: Int(security.tokens.lifetime), scope: scope)
        case .replayed:
            security.logins.recordRefreshReplay()
            logger.warning("security: a used refresh token was presented again; its session was revoked")
            try await audit(.refresh, .seriousFailure, "refresh token replay: session revoked", clientAddress: clientAddress)
            throw Refused(reason: .invalidGrant)
        case .invalid:
            try await audit(.refresh, .minorFailure, "invalid refresh token", clientAddress: clientAddress)
            throw Refused(reason: .invalidGrant)
        }
    }

    /// Ends the caller's session and revokes their access token at once.
    public func logout(_ caller: Caller) async throws {
        let principal = caller.principal
        try await security.identities.revoke(
            sessionID: principal.sessionID, tokenID: principal.tokenID, tokenExpiry: principal.tokenExpiry, reason: "logout")
        var record = AuditRecord(.logout)
        record.agentUserID = principal.subject
        record.agentRole = principal.role.rawValue
        record.agentFHIRUser = principal.fhirUserReference
        record.agentIsClient = principal.role == .system
        record.clientAddress = caller.clientAddress
        try await security.audit.record(record)
    }

    private func audit(
        _ interaction: AuditedInteraction, _ outcome: AuditRecord.Outcome, _ description: String?, userID: String? = nil,
        role: Principal.Role? = nil, fhirUser: String? = nil, clientAddress: String?
    ) async throws {
        var record = AuditRecord(interaction, outcome: outcome, outcomeDescription: description)
        record.agentUserID = userID
        record.agentRole = role?.rawValue
        record.agentFHIRUser = fhirUser
        record.clientAddress = clientAddress
        try await security.audit.record(record)
    }
}

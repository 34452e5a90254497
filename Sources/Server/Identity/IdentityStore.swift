import Foundation
import Logging
import PostgresNIO

/// Accounts, sessions, refresh tokens, revocations, system clients and login throttling, all in
/// PostgreSQL so that every server process on the database agrees at once.
public struct IdentityStore: Sendable {
    let client: PostgresClient
    let logger: Logger
    let email: AccountEmail

    /// How long a login session (refresh family) lives at most, and each refresh token.
    static let sessionLifetime: TimeInterval = 12 * 3600
    static let refreshLifetime: TimeInterval = 12 * 3600
    /// Failed logins for one email before it locks, the window they count in, and the lock.
    static let maxFailures = 5
    static let failureWindow: TimeInterval = 15 * 60
    static let lockDuration: TimeInterval = 15 * 60

    public init(client: PostgresClient, logger: Logger, keyring: Keyring) {
        self.client = client
        self.logger = logger
        self.email = AccountEmail(keyring: keyring)
    }

    struct Credentials: Sendable {
        let id: String
        let passwordHash: String
        let role: Principal.Role
        let status: UserAccount.Status
        let fhirUser: String?
    }

    // MARK: - Accounts

    /// Inserts an account on `connection` (inside the caller's transaction); nil when the
    /// email is taken.
    func insertUser(
        id: String, email address: String, passwordHash: String, role: Principal.Role, status: UserAccount.Status,
        fhirUser: String?, on connection: PostgresConnection
    ) async throws -> Bool {
        let lookup = email.lookup(address)
        let sealed = try email.seal(address, userID: id)
        let rows = try await connection.rows(
            """
            INSERT INTO app_user (id, email_lookup, email_sealed, email_key_id, password_hash, role, status, fhir_user)
            VALUES (\(id), \(Data(lookup)), \(Data(sealed.box)), \(sealed.keyID), \(passwordHash), \(role.rawValue),
                \(status.rawValue), \(fhirUser))
            ON CONFLICT (email_lookup) DO NOTHING RETURNING id
            """, logger: logger)
        for try await _ in rows { return true }
        return false
    }

    func insertUser(
        id: String, email address: String, passwordHash: String, role: Principal.Role, status: UserAccount.Status,
        fhirUser: String?
    ) async throws -> Bool {
        try await client.leased { connection in
            try await insertUser(
                id: id, email: address, passwordHash: passwordHash, role: role, status: status, fhirUser: fhirUser,
                on: connection)
        }
    }

    func credentials(email address: String) async throws -> Credentials? {
        let lookup: Data? = Data(email.lookup(address))
        return try await credentials(lookup: lookup, userID: nil)
    }

    func credentials(userID: String) async throws -> Credentials? {
        try await credentials(lookup: nil, userID: userID)
    }

    /// The account with this email HMAC or this id (exactly one of them is given).
    private func credentials(lookup: Data?, userID: String?) async throws -> Credentials? {
        let rows = try await client.rows(
            """
            SELECT id, password_hash, role, status, fhir_user FROM app_user
            WHERE email_lookup = \(lookup) OR id = \(userID)
            """, logger: logger)
        for try await (id, hash, role, status, fhirUser) in rows.decode((String, String, String, String, String?).self) {
            guard let role = Principal.Role(rawValue: role), let status = UserAccount.Status(rawValue: status) else { return nil }
            return Credentials(id: id, passwordHash: hash, role: role, status: status, fhirUser: fhirUser)
        }
        return nil
    }

    public func user(id: String) async throws -> UserAccount? {
        try await users(where: id, after: nil, limit: 1).first
    }

    /// Accounts in id order after `after`; with `status` or `role`, only those.
    public func users(
        after: String?, limit: Int, status: UserAccount.Status? = nil, role: Principal.Role? = nil
    ) async throws -> [UserAccount] {
        try await users(where: nil, after: after, limit: limit, status: status, role: role)
    }

    private func users(
        where id: String?, after: String?, limit: Int, status: UserAccount.Status? = nil, role: Principal.Role? = nil
    ) async throws -> [UserAccount] {
        let status = status?.rawValue
        let role = role?.rawValue
        let rows = try await client.rows(
            """
            SELECT id, email_sealed, email_key_id, role, status, fhir_user, created_at FROM app_user
            WHERE (\(id)::text IS NULL OR id = \(id)) AND (\(after)::text IS NULL OR id > \(after))
                AND (\(status)::text IS NULL OR status = \(status)) AND (\(role)::text IS NULL OR role = \(role))
            ORDER BY id LIMIT \(limit)
            """, logger: logger)
        var result: [UserAccount] = []
        for try await (id, box, keyID, role, status, fhirUser, created)
            in rows.decode((String, Data, String, String, String, String?, Date).self) {
            guard let role = Principal.Role(rawValue: role), let status = UserAccount.Status(rawValue: status) else { continue }
            result.append(UserAccount(
                id: id, email: email.open(Array(box), keyID: keyID, userID: id), role: role, status: status,
                fhirUser: fhirUser, createdAt: created))
        }
        return result
    }

    /// Sets status, role or password; any change here ends every session of the account.
    /// Returns false when the account does not exist.
    func update(userID: String, status: UserAccount.Status? = nil, role: Principal.Role? = nil, fhirUser: String? = nil,
                passwordHash: String? = nil, reason: String) async throws -> Bool {
        try await client.inTransaction(logger: logger) { connection in
            let rows = try await connection.rows(
                """
                UPDATE app_user SET status = coalesce(\(status?.rawValue), status), role = coalesce(\(role?.rawValue), role),
                    fhir_user = coalesce(\(fhirUser), fhir_user), password_hash = coalesce(\(passwordHash), password_hash),
                    updated_at = now()
                WHERE id = \(userID) RETURNING id
                """, logger: logger)
            var found = false
            for try await _ in rows { found = true }
            guard found else { return false }
            try await connection.rows(
                """
                UPDATE auth_session SET revoked_at = now(), revoked_reason = \(reason)
                WHERE user_id = \(userID) AND revoked_at IS NULL
                """, logger: logger)
            return true
        }
    }

    // MARK: - Sessions and refresh tokens

    /// A new session with its first refresh token (stored hashed); returns the session id.
    func createSession(userID: String, scope: String, refreshToken: String, now: Date = Date()) async throws -> String {
        let sessionID = UUID().uuidString.lowercased()
        let expires = now.addingTimeInterval(Self.sessionLifetime)
        let refreshExpires = now.addingTimeInterval(Self.refreshLifetime)
        try await client.rows(
            """
            WITH session AS (
                INSERT INTO auth_session (id, user_id, scope, created_at, expires_at)
                VALUES (\(sessionID), \(userID), \(scope), \(now), \(expires))
                RETURNING id
            )
            INSERT INTO refresh_token (token_hash, session_id, issued_at, expires_at)
            SELECT \(OpaqueToken.hash(refreshToken)), id, \(now), \(refreshExpires) FROM session
            """, logger: logger)
        return sessionID
    }

    /// A browser's session (migration 0009): no refresh token, the secret's digest instead.
    /// Returns the session id.
    func createWebSession(userID: String, scope: String, secret: String, lifetime: TimeInterval, now: Date = Date()) async throws -> String {
        let sessionID = UUID().uuidString.lowercased()
        try await client.rows(
            """
            INSERT INTO auth_session (id, user_id, scope, created_at, expires_at, web_secret_hash, last_seen_at)
            VALUES (\(sessionID), \(userID), \(scope), \(now), \(now.addingTimeInterval(lifetime)), \(OpaqueToken.hash(secret)), \(now))
            """, logger: logger)
        return sessionID
    }

    /// What a live web session stands for.
    struct WebSessionRow: Sendable {
        let userID: String
        let role: Principal.Role
        let fhirUser: String?
        let scope: String
        let expiresAt: Date
    }

    /// The account behind a browser's session cookie, when the session is live (not revoked, not
    /// expired, used within `idle`), its secret matches and the account is active; marks it
    /// used (at most once a minute, so most page views write nothing). One round trip.
    func webSession(id: String, secret: String, idle: TimeInterval, now: Date = Date()) async throws -> WebSessionRow? {
        let rows = try await client.rows(
            """
            WITH live AS (
                SELECT s.id, s.user_id, u.role, u.fhir_user, s.scope, s.expires_at, s.last_seen_at
                FROM auth_session s JOIN app_user u ON u.id = s.user_id
                WHERE s.id = \(id) AND s.web_secret_hash = \(OpaqueToken.hash(secret)) AND s.revoked_at IS NULL
                    AND s.expires_at > \(now) AND s.last_seen_at > \(now.addingTimeInterval(-idle)) AND u.status = 'active'
            ), touched AS (
                UPDATE auth_session SET last_seen_at = \(now)
                WHERE id = (SELECT id FROM live WHERE last_seen_at < \(now.addingTimeInterval(-60)))
            )
            SELECT user_id, role, fhir_user, scope, expires_at FROM live
            """, logger: logger)
        for try await (userID, role, fhirUser, scope, expires) in rows.decode((String, String, String?, String, Date).self) {
            guard let role = Principal.Role(rawValue: role) else { return nil }
            return WebSessionRow(userID: userID, role: role, fhirUser: fhirUser, scope: scope, expiresAt: expires)
        }
        return nil
    }

    enum RefreshOutcome: Sendable {
        case rotated(userID: String, sessionID: String, scope: String)
        /// Unknown, expired, revoked, or the account is not active.
        case invalid
        /// A used token came back: the family was revoked.
        case replayed
    }

    /// Uses a refresh token once: stores its successor in the same family, or, for a token
    /// already used, revokes the family (someone holds a copy).
    func rotate(refreshToken: String, successor: String, now: Date = Date()) async throws -> RefreshOutcome {
        let hash = OpaqueToken.hash(refreshToken)
        return try await client.inTransaction(logger: logger) { connection in
            let rows = try await connection.rows(
                """
                SELECT t.session_id, t.used_at IS NOT NULL, t.expires_at > \(now), s.revoked_at IS NULL AND s.expires_at > \(now),
                    s.user_id, u.status, s.scope
                FROM refresh_token t JOIN auth_session s ON s.id = t.session_id JOIN app_user u ON u.id = s.user_id
                WHERE t.token_hash = \(hash) FOR UPDATE OF t, s
                """, logger: logger)
            var found: (String, Bool, Bool, Bool, String, String, String)?
            for try await row in rows.decode((String, Bool, Bool, Bool, String, String, String).self) { found = row }
            guard let (sessionID, used, fresh, sessionLive, userID, status, scope) = found else { return .invalid }
            if used {
                try await connection.rows(
                    """
                    UPDATE auth_session SET revoked_at = \(now), revoked_reason = 'refresh-token-replay'
                    WHERE id = \(sessionID) AND revoked_at IS NULL
                    """, logger: logger)
                return .replayed
            }
            guard fresh, sessionLive, status == UserAccount.Status.active.rawValue else { return .invalid }
            try await connection.rows(
                """
                WITH used AS (UPDATE refresh_token SET used_at = \(now) WHERE token_hash = \(hash))
                INSERT INTO refresh_token (token_hash, session_id, issued_at, expires_at)
                VALUES (\(OpaqueToken.hash(successor)), \(sessionID), \(now), \(now.addingTimeInterval(Self.refreshLifetime)))
                """, logger: logger)
            return .rotated(userID: userID, sessionID: sessionID, scope: scope)
        }
    }

    /// Logout: the session (every refresh token of the family) and the access token's id.
    func revoke(sessionID: String?, tokenID: String, tokenExpiry: Date, reason: String) async throws {
        try await client.rows(
            """
            WITH session AS (
                UPDATE auth_session SET revoked_at = now(), revoked_reason = \(reason)
                WHERE id = \(sessionID) AND revoked_at IS NULL
            )
            INSERT INTO revoked_access_token (jti, expires_at) VALUES (\(tokenID), \(tokenExpiry)) ON CONFLICT DO NOTHING
            """, logger: logger)
    }

    /// The account behind a user token, if the token is still good: its session is live, its
    /// id not revoked, the account active. One round trip.
    /// The database's word on an access token (`TokenCheck`): nil when it must be refused.
    func confirm(_ check: TokenCheck) async throws -> TokenConfirmation? {
        let rows = try await client.rows(TokenConfirmStatement(check: check), logger: logger)
        for try await (epoch, role, fhirUser, sessionExpiry) in rows {
            return check.verdict(epoch: epoch, role: role, fhirUser: fhirUser, sessionExpiry: sessionExpiry)
        }
        return nil
    }

    // MARK: - System clients

    public struct SystemClient: Sendable {
        public let id: String
        public let name: String
        public let scopes: String
        public let createdAt: Date
        public let revoked: Bool
        /// How the client authenticates at `/auth/token`: `client_secret_basic`, `private_key_jwt`
        /// (a registered JWKS) or `private_key_jwt (jwks_url)`, joined with `+` when it has several.
        public let authMethods: [String]
    }

    /// Registers a client with a secret; returns its id and secret (shown once; only its hash is stored).
    public func addClient(name: String, scopes: String) async throws -> (id: String, secret: String) {
        let added = try await addClient(name: name, scopes: scopes, jwks: nil, jwksURL: nil, issueSecret: true)
        return (added.id, added.secret ?? "")
    }

    /// Registers a client: a secret when `issueSecret` (shown once; only its hash is stored),
    /// and/or a checked key set or JWKS URL for client assertions (the caller has checked the URL
    /// against the allowlist). At least one of them is required.
    public func addClient(
        name: String, scopes: String, jwks: ClientKeySet?, jwksURL: String?, issueSecret: Bool
    ) async throws -> (id: String, secret: String?) {
        precondition(issueSecret || jwks != nil || jwksURL != nil, "a client needs a secret or keys")
        let id = "client-" + OpaqueToken.generate(bytes: 12)
        let secret = issueSecret ? OpaqueToken.generate(bytes: 32) : nil
        try await client.rows(
            """
            INSERT INTO system_client (id, name, secret_hash, scopes, created_at, jwks, jwks_url)
            VALUES (\(id), \(name), \(secret.map(OpaqueToken.hash)), \(scopes), now(), \(jwks?.json), \(jwksURL))
            """, logger: logger)
        return (id, secret)
    }

    public func clients() async throws -> [SystemClient] {
        let rows = try await client.rows(
            """
            SELECT id, name, scopes, created_at, revoked_at IS NOT NULL, secret_hash IS NOT NULL, jwks IS NOT NULL, jwks_url IS NOT NULL
            FROM system_client ORDER BY created_at, id
            """, logger: logger)
        var result: [SystemClient] = []
        for try await (id, name, scopes, created, revoked, secret, jwks, jwksURL)
            in rows.decode((String, String, String, Date, Bool, Bool, Bool, Bool).self) {
            var methods: [String] = []
            if secret { methods.append("client_secret_basic") }
            if jwks { methods.append("private_key_jwt") }
            if jwksURL { methods.append("private_key_jwt (jwks_url)") }
            result.append(SystemClient(id: id, name: name, scopes: scopes, createdAt: created, revoked: revoked, authMethods: methods))
        }
        return result
    }

    /// Revokes a client: its secret stops working and its live tokens stop at once.
    public func revokeClient(id: String) async throws -> Bool {
        let rows = try await client.rows(
            "UPDATE system_client SET revoked_at = now() WHERE id = \(id) AND revoked_at IS NULL RETURNING id", logger: logger)
        for try await _ in rows { return true }
        return false
    }

    /// The client's scopes when the secret matches a live client that has a secret.
    func authenticateClient(id: String, secret: String) async throws -> String? {
        let rows = try await client.rows(
            "SELECT secret_hash, scopes FROM system_client WHERE id = \(id) AND revoked_at IS NULL", logger: logger)
        for try await (hash, scopes) in rows.decode((String?, String).self) {
            guard let hash else { return nil }
            // Both sides are hex SHA-256 of the same length; compare without early exit.
            let given = Array(OpaqueToken.hash(secret).utf8)
            let stored = Array(hash.utf8)
            guard given.count == stored.count else { return nil }
            var difference: UInt8 = 0
            for index in given.indices { difference |= given[index] ^ stored[index] }
            return difference == 0 ? scopes : nil
        }
        return nil
    }

    /// What verifying a live client's assertion needs: its scopes and its registered keys.
    struct AssertionClient: Sendable {
        let id: String
        let scopes: String
        let jwks: String?
        let jwksURL: String?
    }

    /// The live (not revoked) client `id`, if it has keys for assertions.
    func assertionClient(id: String) async throws -> AssertionClient? {
        let rows = try await client.rows(
            """
            SELECT scopes, jwks, jwks_url FROM system_client
            WHERE id = \(id) AND revoked_at IS NULL AND (jwks IS NOT NULL OR jwks_url IS NOT NULL)
            """, logger: logger)
        for try await (scopes, jwks, jwksURL) in rows.decode((String, String?, String?).self) {
            return AssertionClient(id: id, scopes: scopes, jwks: jwks, jwksURL: jwksURL)
        }
        return nil
    }

    /// Records an assertion's `jti` for its client until `expiresAt`; false when the client has
    /// already used it (a replay). Expired entries of the client are dropped first, and an entry
    /// whose time has passed may be taken again (its assertion can no longer be accepted anyway).
    func useAssertionID(clientID: String, jti: String, expiresAt: Date, now: Date = Date()) async throws -> Bool {
        try await client.rows(
            "DELETE FROM client_assertion_jti WHERE client_id = \(clientID) AND expires_at < \(now)", logger: logger)
        let rows = try await client.rows(
            """
            INSERT INTO client_assertion_jti AS used (client_id, jti, expires_at) VALUES (\(clientID), \(jti), \(expiresAt))
            ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = excluded.expires_at WHERE used.expires_at < \(now)
            RETURNING jti
            """, logger: logger)
        for try await _ in rows { return true }
        return false
    }

    /// A client token is good while the client is not revoked and the token id not revoked.
    func activeClient(id: String, tokenID: String) async throws -> Bool {
        let rows = try await client.rows(ActiveClientStatement(clientID: id, tokenID: tokenID), logger: logger)
        for try await _ in rows { return true }
        return false
    }

    // MARK: - Login throttling per email

    /// Until when logins for this email are locked, if they are.
    func lockedUntil(email address: String, now: Date = Date()) async throws -> Date? {
        let lookup = Data(email.lookup(address))
        let rows = try await client.rows(
            "SELECT locked_until FROM login_attempt WHERE email_lookup = \(lookup) AND locked_until > \(now)", logger: logger)
        for try await until in rows.decode(Date.self) { return until }
        return nil
    }

    /// Counts a failure (known email or not, alike); returns the lock's end when this one locks it.
    func recordFailure(email address: String, now: Date = Date()) async throws -> Date? {
        let lookup = Data(email.lookup(address))
        let windowStart = now.addingTimeInterval(-Self.failureWindow)
        let lockEnd = now.addingTimeInterval(Self.lockDuration)
        let rows = try await client.rows(
            """
            INSERT INTO login_attempt AS a (email_lookup, failures, first_failed) VALUES (\(lookup), 1, \(now))
            ON CONFLICT (email_lookup) DO UPDATE SET
                failures = CASE WHEN a.first_failed < \(windowStart) THEN 1 ELSE a.failures + 1 END,
                first_failed = CASE WHEN a.first_failed < \(windowStart) THEN \(now) ELSE a.first_failed END,
                locked_until = CASE WHEN a.first_failed >= \(windowStart) AND a.failures + 1 >= \(Self.maxFailures)
                    THEN \(lockEnd) ELSE a.locked_until END
            RETURNING locked_until
            """, logger: logger)
        for try await until in rows.decode(Date?.self) {
            if let until, until > now { return until }
        }
        return nil
    }

    func clearFailures(email address: String) async throws {
        let lookup = Data(email.lookup(address))
        try await client.rows("DELETE FROM login_attempt WHERE email_lookup = \(lookup)", logger: logger)
    }
}

import Foundation
import JWTKit

/// The OAuth 2.0 client-credentials grant for systems, once, for every face (`POST /auth/token`
/// today): throttling per client address, the client's authentication — a secret
/// (`client_secret_basic`) or a signed JWT assertion (`private_key_jwt`, SMART Backend Services) —,
/// the scope ceiling of the client's registration, the token, and an AuditEvent for every attempt.
/// Returns a token or a typed refusal; knows nothing of HTTP. Never logs or audits an assertion,
/// a secret or key material: refusals are described by which check failed.
public struct ClientAuthenticationService: Sendable {
    let security: SecurityServices

    public init(security: SecurityServices) {
        self.security = security
    }

    /// The longest an assertion may live: its `exp` at most this far after now (plus `leeway`).
    public static let maxAssertionLifetime: TimeInterval = 300
    /// Clock skew allowed between client and server, on `exp` and `nbf`.
    static var leeway: TimeInterval { AccessTokenService.leeway }
    static let maxJTILength = 256

    /// How the client proves who it is.
    public enum Credential: Sendable {
        /// HTTP Basic client id and secret.
        case secret(clientID: String, secret: String)
        /// A client assertion JWT, every URL that names this token endpoint (`aud` must be one),
        /// and the request's `client_id` if it sent one (it must then be the assertion's client).
        case assertion(String, tokenEndpoints: Set<String>, clientID: String?)
    }

    public struct Issued: Sendable {
        public let accessToken: String
        /// Seconds the access token lives.
        public let expiresIn: Int
        public let scope: String
    }

    /// Why no token was issued. Every refusal but `invalidScope` was audited.
    public struct Refused: Error, Sendable {
        public enum Reason: Sendable, Equatable {
            /// Too many failures from this address: retry after `until`.
            case throttled(until: Date)
            /// Unknown or revoked client, wrong secret, or an assertion that fails any check.
            case invalidClient
            /// The requested scope is not a SMART scope list.
            case invalidScope
        }

        public let reason: Reason
    }

    public func issueToken(_ credential: Credential, requestedScope: String?, clientAddress: String?, now: Date = Date()) async throws -> Issued {
        if let until = security.addressThrottle.blockedUntil(clientAddress, now: now) {
            try await audit(.minorFailure, "throttled (address)", clientID: nil, clientAddress: clientAddress)
            throw Refused(reason: .throttled(until: until))
        }
        let clientID: String
        let allowed: String
        switch credential {
        case .secret(let id, let secret):
            guard let scopes = try await security.identities.authenticateClient(id: id, secret: secret) else {
                try await refuse(Failure("invalid client"), clientAddress: clientAddress, now: now)
            }
            (clientID, allowed) = (id, scopes)
        case .assertion(let assertion, let tokenEndpoints, let namedClient):
            do {
                (clientID, allowed) = try await verify(assertion: assertion, tokenEndpoints: tokenEndpoints, now: now)
            } catch {
                try await refuse(error, clientAddress: clientAddress, now: now)
            }
            if let namedClient, namedClient != clientID {
                try await refuse(Failure("client_id differs from the assertion's client", clientID: clientID), clientAddress: clientAddress, now: now)
            }
        }
        // The same ceiling on both paths: what the client was registered with.
        let ceiling = (try? ScopeSet(parsing: allowed)) ?? ScopeSet([])
        var scope = ceiling
        if let requestedScope, !requestedScope.isEmpty {
            guard let parsed = try? ScopeSet(parsing: requestedScope) else { throw Refused(reason: .invalidScope) }
            scope = parsed.narrowed(to: ceiling)
        }
        let issued = try await security.tokens.issue(
            subject: clientID, role: Principal.Role.system.rawValue, scope: scope.text, fhirUser: nil, sessionID: nil, clientID: clientID)
        security.logins.recordTokenIssued()
        try await audit(.success, nil, clientID: clientID, clientAddress: clientAddress)
        return Issued(accessToken: issued.token, expiresIn: Int(security.tokens.lifetime), scope: scope.text)
    }

    // MARK: - Client assertions (RFC 7523, SMART Backend Services)

    /// A failed check: what to audit, and the client when the signature had already verified.
    struct Failure: Error, Sendable {
        let reason: String
        var clientID: String?
        var outcome: AuditRecord.Outcome = .minorFailure

        init(_ reason: String, clientID: String? = nil) {
            self.reason = reason
            self.clientID = clientID
        }
    }

    /// Checks an assertion and returns its client and the client's registered scopes: header
    /// (`alg` RS384/ES384, a `kid` of the client's keys, no `crit`), the client (`iss` = `sub`, live,
    /// with keys), the signature (jwt-kit, with the key and algorithm chosen here), `aud` (this
    /// token endpoint), `exp` (future, at most five minutes ahead), `nbf`, and `jti` (once per client).
    func verify(assertion: String, tokenEndpoints: Set<String>, now: Date) async throws(Failure) -> (clientID: String, scopes: String) {
        let header: AccessTokenService.Header
        do {
            header = try AccessTokenService.header(of: assertion)
        } catch {
            throw Failure("malformed assertion")
        }
        guard let alg = header.alg, ClientKeySet.algorithms.contains(alg) else { throw Failure("assertion alg not allowed") }
        guard let kid = header.kid, !kid.isEmpty else { throw Failure("assertion has no kid") }
        guard header.crit == nil else { throw Failure("assertion has a crit header") }
        // Who claims to have signed it, read before the signature only to find their keys.
        let unverified: ClientAssertionClaims
        do {
            unverified = try await JWTKeyCollection().unverified(assertion, as: ClientAssertionClaims.self)
        } catch {
            throw Failure("malformed assertion claims")
        }
        guard let issuer = unverified.iss?.value, !issuer.isEmpty, issuer.utf8.count <= 256 else { throw Failure("assertion has no iss") }
        guard unverified.sub?.value == issuer else { throw Failure("assertion sub differs from iss") }
        let client: IdentityStore.AssertionClient?
        do {
            client = try await security.identities.assertionClient(id: issuer)
        } catch {
            throw Failure("client lookup failed")
        }
        guard let client else { throw Failure("unknown or revoked client, or one without keys") }

        let keys = try await keySet(of: client, kid: kid, now: now)
        let verifier: JWTKeyCollection
        do {
            verifier = try await keys.verifier(kid: kid, alg: alg)
        } catch {
            throw Failure("assertion key: \(error.reason)")
        }
        let claims: ClientAssertionClaims
        do {
            claims = try await verifier.verify(assertion, as: ClientAssertionClaims.self)
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw Failure("assertion signature does not verify")
        } catch {
            // jwt-kit's messages may quote the token's contents: keep them out.
            throw Failure("assertion does not verify")
        }
        // From here on the client is known: the signature is its key's.
        let id = client.id
        guard claims.iss?.value == id, claims.sub?.value == id else { throw Failure("assertion iss/sub mismatch", clientID: id) }
        guard let audience = claims.aud?.value, audience.contains(where: tokenEndpoints.contains) else {
            throw Failure("assertion aud is not this token endpoint", clientID: id)
        }
        guard let expiry = claims.exp?.value else { throw Failure("assertion has no exp", clientID: id) }
        guard expiry.addingTimeInterval(Self.leeway) > now else { throw Failure("assertion expired", clientID: id) }
        guard expiry <= now.addingTimeInterval(Self.maxAssertionLifetime + Self.leeway) else {
            throw Failure("assertion exp more than five minutes ahead", clientID: id)
        }
        if let notBefore = claims.nbf?.value, notBefore > now.addingTimeInterval(Self.leeway) {
            throw Failure("assertion not yet valid (nbf)", clientID: id)
        }
        guard let jti = claims.jti?.value, !jti.isEmpty, jti.utf8.count <= Self.maxJTILength else {
            throw Failure("assertion has no jti", clientID: id)
        }
        let fresh: Bool
        do {
            fresh = try await security.identities.useAssertionID(
                clientID: id, jti: jti, expiresAt: expiry.addingTimeInterval(Self.leeway), now: now)
        } catch {
            throw Failure("jti store failed", clientID: id)
        }
        guard fresh else {
            var failure = Failure("assertion jti replayed", clientID: id)
            failure.outcome = .seriousFailure
            throw failure
        }
        return (id, client.scopes)
    }

    /// The client's keys: its registered set, or its JWKS URL's (fetched again once when the
    /// cached set lacks `kid`, for a key rotated in since).
    private func keySet(of client: IdentityStore.AssertionClient, kid: String, now: Date) async throws(Failure) -> ClientKeySet {
        if let json = client.jwks {
            do {
                return try ClientKeySet(json: json)
            } catch {
                throw Failure("registered JWKS unusable", clientID: nil)
            }
        }
        guard let url = client.jwksURL else { throw Failure("client has no keys") }
        do {
            let cached = try await security.remoteKeys.keySet(at: url, now: now)
            if cached.keys.keys.contains(where: { $0.keyIdentifier?.string == kid }) { return cached }
            return try await security.remoteKeys.keySet(at: url, refresh: true, now: now)
        } catch {
            throw Failure(error.reason)
        }
    }

    // MARK: - Refusals and audit

    /// Counts the failure against the address, audits it, and refuses with `invalidClient`.
    private func refuse(_ failure: Failure, clientAddress: String?, now: Date) async throws -> Never {
        security.addressThrottle.recordFailure(clientAddress, now: now)
        try await audit(failure.outcome, failure.reason, clientID: failure.clientID, clientAddress: clientAddress)
        throw Refused(reason: .invalidClient)
    }

    private func audit(
        _ outcome: AuditRecord.Outcome, _ description: String?, clientID: String?, clientAddress: String?
    ) async throws {
        var record = AuditRecord(.login, outcome: outcome, outcomeDescription: description)
        if let clientID {
            record.agentUserID = clientID
            record.agentRole = Principal.Role.system.rawValue
        }
        record.agentIsClient = true
        record.clientAddress = clientAddress
        try await security.audit.record(record)
    }
}

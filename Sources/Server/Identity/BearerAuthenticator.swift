import FHIRModels
import Foundation
import Hummingbird

/// Requires a valid access token on every route except the public ones (health, the FHIR
/// CapabilityStatement, `/.well-known/*`, `/auth/*` other than me/logout/password, the API
/// documents). A token is valid when its signature, `typ`, `iss`, `aud`, `exp` and `nbf` check
/// out AND the database still agrees: the session is live, the `jti` not revoked, the account
/// active (or the client not revoked). Failures answer 401 with
/// `WWW-Authenticate: Bearer error="invalid_token"`, as an OperationOutcome under `/fhir`.
struct BearerAuthenticator: RouterMiddleware {
    typealias Context = MedrecRequestContext
    let security: SecurityServices

    static func isPublic(_ path: String) -> Bool {
        if path == "/fhir/metadata" || path.hasPrefix("/health/") || path.hasPrefix("/.well-known/") { return true }
        if path == "/openapi.json" || path == "/docs" { return true }
        if path.hasPrefix("/auth/") {
            return !(path == "/auth/me" || path == "/auth/logout" || path == "/auth/password")
        }
        return false
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if Self.isPublic(path) { return try await next(request, context) }
        var context = context
        do {
            let deferrable = request.method == .get && (Self.isResourceRead(path) || PlatformRoutes.isRead(path))
                && security.availability?.isDown != true
            (context.principal, context.pendingTokenCheck) = try await authenticate(
                request, path: path, context: context, deferCheck: deferrable)
        } catch let error as any HTTPResponseError {
            throw error
        } catch {
            // The database could not be asked: not a verdict on the token.
            context.logger.warning("access token check failed: database unavailable")
            if path == "/fhir" || path.hasPrefix("/fhir/") {
                throw FHIRHTTPError(status: .serviceUnavailable, code: .transient, "the database is unavailable")
            }
            throw APIError(.serviceUnavailable, code: "unavailable", "the database is unavailable")
        }
        return try await next(request, context)
    }

    /// `GET /fhir/{Type}/{id}`: the read whose statement carries the token check.
    static func isResourceRead(_ path: String) -> Bool {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0].isEmpty, parts[1] == "fhir", let first = parts[2].first, first.isUppercase,
              parts[2] != "AuditEvent", let idFirst = parts[3].first, idFirst != "_", idFirst != "$" else { return false }
        return true
    }

    private func authenticate(
        _ request: Request, path: String, context: Context, deferCheck: Bool
    ) async throws -> (Principal, TokenCheck?) {
        if security.availability?.isDown == true { throw StoreError(.unavailable, "the database is unavailable") }
        guard let header = request.headers[.authorization] else {
            throw unauthorized(path, error: nil, "a bearer access token is required")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty else {
            throw unauthorized(path, error: "invalid_request", "the Authorization header must be 'Bearer <token>'")
        }
        let claims: AccessTokenClaims
        do {
            claims = try await security.tokens.verify(String(parts[1]))
        } catch {
            context.logger.info("access token refused", metadata: ["reason": "\(error.reason)"])
            throw unauthorized(path, error: "invalid_token", "the access token is not valid")
        }
        let scopes = (try? ScopeSet(parsing: claims.scope)) ?? ScopeSet([])
        guard let role = Principal.Role(rawValue: claims.role) else {
            throw unauthorized(path, error: "invalid_token", "the access token is not valid")
        }
        let check: TokenCheck
        if let clientID = claims.clientID {
            guard role == .system, clientID == claims.subject.value else {
                throw unauthorized(path, error: "invalid_token", "the access token is not valid")
            }
            check = TokenCheck(subject: .client(id: clientID), tokenID: claims.id.value, role: role.rawValue, fhirUser: nil)
        } else {
            guard role != .system, let sessionID = claims.sessionID else {
                throw unauthorized(path, error: "invalid_token", "the access token is not valid")
            }
            check = TokenCheck(
                subject: .user(id: claims.subject.value, sessionID: sessionID), tokenID: claims.id.value, role: role.rawValue,
                fhirUser: claims.fhirUser)
        }
        let principal = Principal(
            subject: claims.subject.value, role: role, fhirUser: claims.fhirUser.flatMap(PatientCompartment.referenceTarget),
            scopes: scopes, tokenID: claims.id.value, tokenExpiry: claims.expiration.value, sessionID: claims.sessionID)
        if deferCheck { return (principal, check) }
        guard try await security.confirm(check) else {
            throw unauthorized(path, error: "invalid_token", "the access token is not valid")
        }
        return (principal, nil)
    }

    /// The 401 a token that fails its database check gets, wherever the check ran.
    static func invalidToken(_ path: String) -> any Error {
        BearerAuthenticator.unauthorized(path, error: "invalid_token", "the access token is not valid")
    }

    private func unauthorized(_ path: String, error: String?, _ message: String) -> any Error {
        Self.unauthorized(path, error: error, message)
    }

    static func unauthorized(_ path: String, error: String?, _ message: String) -> any Error {
        let challenge = error.map { #"Bearer realm="medrec", error="\#($0)""# } ?? #"Bearer realm="medrec""#
        if path == "/fhir" || path.hasPrefix("/fhir/") {
            var fhirError = FHIRHTTPError(status: .unauthorized, code: .login, message)
            fhirError.headers[.wwwAuthenticate] = challenge
            return fhirError
        }
        return APIError(.unauthorized, code: error ?? "unauthorized", message, headers: [.wwwAuthenticate: challenge])
    }
}

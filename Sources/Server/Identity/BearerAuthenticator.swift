import FHIRModels
import Foundation
import Hummingbird

/// Requires a valid access token on the routes of the groups it guards (the application's
/// route table says which: `MedrecApplication.buildRouter`). A token is valid when its
/// signature, `typ`, `iss`, `aud`, `exp` and `nbf` check out AND the database still agrees: the
/// session is live, the `jti` not revoked, the account active (or the client not revoked).
/// Failures answer 401 with `WWW-Authenticate: Bearer error="invalid_token"`, as an
/// OperationOutcome under `/fhir`. On the record-read routes (`deferCheck`) the database check
/// is left to the read's own statement (`Caller.pendingTokenCheck`), saving a round trip.
struct BearerAuthenticator: RouterMiddleware {
    typealias Context = MedrecRequestContext
    let security: SecurityServices
    /// Leave the database check to the handler's own statement (the record reads).
    var deferCheck = false

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        var context = context
        do {
            let deferrable = deferCheck && request.method == .get && security.availability?.isDown != true
            (context.principal, context.pendingTokenCheck) = try await authenticate(
                request, path: path, context: context, deferCheck: deferrable)
        } catch let error as any HTTPResponseError {
            throw error
        } catch {
            // The database could not be asked: not a verdict on the token.
            context.logger.warning("access token check failed: database unavailable")
            if APIFace(path: path) == .fhir {
                throw FHIRHTTPError(status: .serviceUnavailable, code: .transient, "the database is unavailable")
            }
            throw APIError(.serviceUnavailable, code: "unavailable", "the database is unavailable")
        }
        // The handler's log lines name the caller by the opaque id the audit log uses (a user's
        // or client's id), never by name or email.
        if let subject = context.principal?.subject {
            context.logger[metadataKey: "user_id"] = .string(subject)
        }
        return try await next(request, context)
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
        let scopes = ScopeSet.ofToken(claims.scope)
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
        if APIFace(path: path) == .fhir {
            var fhirError = FHIRHTTPError(status: .unauthorized, code: .login, message)
            fhirError.headers[.wwwAuthenticate] = challenge
            return fhirError
        }
        return APIError(.unauthorized, code: error ?? "unauthorized", message, headers: [.wwwAuthenticate: challenge])
    }
}

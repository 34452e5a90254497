import FHIRModels
import Foundation
import Hummingbird
import Mapping
import NIOCore

/// `/auth/*`: register, login, refresh, logout, me, password change, and the OAuth 2.0
/// client-credentials token endpoint for systems. JSON in, JSON out.
struct AuthController: Sendable {
    typealias Context = MedrecRequestContext
    let store: any ResourceStore
    let security: SecurityServices
    /// `medrec.baseUrl`, for the token endpoint's own URL (`PublicOrigin`).
    let baseURL: String?

    /// What a registration may say (`AccountService.Registration.fieldNames`); anything else
    /// (`status`, `id`, `admin`, …) is refused by name.
    static let registerFields = Set(AccountService.Registration.fieldNames)

    var sessions: SessionService { SessionService(security: security) }

    /// Registering, logging in, refreshing and the client-credentials token are public; the
    /// others act on the caller's own session.
    func addRoutes(public open: RouterGroup<Context>, authenticated: RouterGroup<Context>) {
        let auth = open.group("auth")
        auth.post("register", use: register)
        auth.post("login", use: login)
        auth.post("refresh", use: refresh)
        auth.post("token", use: token)
        let session = authenticated.group("auth")
        session.post("logout", use: logout)
        session.get("me", use: me)
        session.post("password", use: changePassword)
    }

    // MARK: - Register

    @Sendable func register(_ request: Request, context: Context) async throws -> Response {
        let body = try await JSONRequestBody.object(request)
        var details = JSONRequestBody.rejectUnknown(body, allowed: Self.registerFields).map { detail in
            // The old name of the date of birth: say which name it has.
            detail.field == "birthDate" ? APIError.Detail(field: "birthDate", issue: "is not accepted here; the date of birth is dateOfBirth") : detail
        }
        let (checked, problems) = AccountService.Registration.checked(from: .json, address: body["address"]) { name in
            guard let value = body[name], !value.isNull else { return .absent }
            return value.stringValue.map { .text($0) } ?? .notText
        }
        details += problems.map { APIError.Detail(field: $0.field, issue: $0.issue) }
        guard details.isEmpty, let registration = checked else { throw APIError.validation(details) }
        let registered: AccountService.Registered
        do {
            registered = try await AccountService(store: store, security: security).register(registration, clientAddress: context.clientAddress)
        } catch is AccountService.EmailTaken {
            throw APIError(.conflict, code: "email_taken", "an account with this email already exists")
        } catch is PasswordHasherBusy {
            throw Self.busy()
        }
        let json: JSONObject = [
            "id": .string(registered.userID), "email": .string(registered.email), "role": .string(registered.role.rawValue),
            "status": .string(registered.status.rawValue), "fhirUser": .string(registered.fhirUser),
        ]
        return PlatformResponse.json(.created, .object(json))
    }


    // MARK: - Login

    @Sendable func login(_ request: Request, context: Context) async throws -> Response {
        let body = try await JSONRequestBody.object(request)
        var details: [APIError.Detail] = []
        let email = JSONRequestBody.string(body, "email", required: true, maxLength: 254, into: &details)
        let password = JSONRequestBody.string(body, "password", required: true, maxLength: 1024, into: &details)
        let requestedScope = JSONRequestBody.string(body, "scope", required: false, maxLength: 2048, into: &details)
        guard details.isEmpty, let email, let password else { throw APIError.validation(details) }
        let tokens = try await sessionCall {
            try await sessions.login(email: email, password: password, requestedScope: requestedScope, clientAddress: context.clientAddress)
        }
        return Self.tokenResponse(tokens)
    }

    // MARK: - Refresh and logout

    @Sendable func refresh(_ request: Request, context: Context) async throws -> Response {
        let body = try await JSONRequestBody.object(request)
        var details = JSONRequestBody.rejectUnknown(body, allowed: ["refreshToken"])
        let token = JSONRequestBody.string(body, "refreshToken", required: true, maxLength: 256, into: &details)
        guard details.isEmpty, let token else { throw APIError.validation(details) }
        let tokens = try await sessionCall {
            try await sessions.refresh(token, clientAddress: context.clientAddress, logger: context.logger)
        }
        return Self.tokenResponse(tokens)
    }

    /// The platform's token answer.
    static func tokenResponse(_ tokens: SessionService.Tokens) -> Response {
        PlatformResponse.json(.ok, .object([
            "accessToken": .string(tokens.accessToken), "refreshToken": .string(tokens.refreshToken), "tokenType": .string("Bearer"),
            "expiresIn": .number(String(tokens.expiresIn)), "scope": .string(tokens.scope),
        ]))
    }

    /// Runs a session call and answers its refusals in the platform's shape.
    private func sessionCall(_ body: () async throws -> SessionService.Tokens) async throws -> SessionService.Tokens {
        do {
            return try await body()
        } catch let refused as SessionService.Refused {
            switch refused.reason {
            case .throttled(let until): throw Self.throttled(until: until, now: Date())
            case .invalidCredentials: throw Self.invalidCredentials()
            case .pending: throw APIError(.forbidden, code: "account_pending", "the account is waiting for an administrator's approval")
            case .disabled: throw APIError(.forbidden, code: "account_disabled", "the account is disabled")
            case .invalidScope: throw APIError.validation([.init(field: "scope", issue: "is not a valid SMART scope list")])
            case .invalidGrant: throw Self.invalidGrant()
            }
        } catch is PasswordHasherBusy {
            throw Self.busy()
        }
    }

    @Sendable func logout(_ request: Request, context: Context) async throws -> Response {
        try await sessions.logout(try context.caller(request))
        return Response(status: .noContent)
    }

    @Sendable func me(_ request: Request, context: Context) async throws -> Response {
        guard let principal = context.principal else { throw APIError(.unauthorized, code: "unauthorized", "a bearer access token is required") }
        var json: JSONObject = ["id": .string(principal.subject), "role": .string(principal.role.rawValue), "scope": .string(principal.scopes.text)]
        if principal.role != .system, let account = try await security.identities.user(id: principal.subject) {
            if let email = account.email { json["email"] = .string(email) }
            json["status"] = .string(account.status.rawValue)
        }
        if let fhirUser = principal.fhirUserReference { json["fhirUser"] = .string(fhirUser) }
        return PlatformResponse.json(.ok, .object(json))
    }

    /// A password change ends every session of the account, this one included
    /// (`SessionService.changePassword` checks, stores and audits).
    @Sendable func changePassword(_ request: Request, context: Context) async throws -> Response {
        guard let principal = context.principal, principal.role != .system else {
            throw APIError(.forbidden, code: "forbidden", "only people have passwords")
        }
        let body = try await JSONRequestBody.object(request)
        var details = JSONRequestBody.rejectUnknown(body, allowed: ["currentPassword", "newPassword"])
        let current = JSONRequestBody.string(body, "currentPassword", required: true, maxLength: 1024, into: &details)
        let new = JSONRequestBody.string(body, "newPassword", required: true, maxLength: 1024, into: &details)
        guard details.isEmpty else { throw APIError.validation(details) }
        do {
            try await sessions.changePassword(try context.caller(request), current: current, new: new)
        } catch let refused as SessionService.PasswordChangeRefused {
            switch refused {
            case .notAPerson: throw APIError(.forbidden, code: "forbidden", "only people have passwords")
            case .noAccount: throw APIError(.unauthorized, code: "invalid_token", "the access token is not valid")
            case .invalid(let problems): throw APIError.validation(problems.map { .init(field: $0.field, issue: $0.issue) })
            }
        } catch is PasswordHasherBusy {
            throw Self.busy()
        }
        return Response(status: .noContent)
    }

    // MARK: - Client credentials (RFC 6749 section 4.4)

    static let jwtBearerAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

    /// Parses the form and the client's credential (HTTP Basic secret or a client assertion,
    /// exactly one), calls `ClientAuthenticationService` and renders its answer as OAuth JSON.
    @Sendable func token(_ request: Request, context: Context) async throws -> Response {
        let buffer = try await request.body.collect(upTo: 16 << 10)
        let form = Self.formItems(String(decoding: buffer.readableBytesView, as: UTF8.self))
        guard form["grant_type"] == "client_credentials" else {
            throw OAuthError(.badRequest, "unsupported_grant_type", "only grant_type=client_credentials is supported here")
        }
        let credential: ClientAuthenticationService.Credential
        let basic = Self.basicCredentials(request.headers[.authorization])
        switch (form["client_assertion_type"], form["client_assertion"]) {
        case (nil, nil):
            // No usable Basic header is the service's refusal (audited and throttled), as before.
            let (id, secret) = basic ?? ("", "")
            credential = .secret(clientID: id, secret: secret)
        case (Self.jwtBearerAssertionType?, let assertion?) where !assertion.isEmpty:
            guard basic == nil, form["client_secret"] == nil else {
                throw OAuthError(.badRequest, "invalid_request", "use one client authentication method, not several")
            }
            let clientID = form["client_id"].flatMap { $0.isEmpty ? nil : $0 }
            credential = .assertion(assertion, tokenEndpoints: tokenEndpoints(request), clientID: clientID)
        case (let type?, _) where type != Self.jwtBearerAssertionType:
            throw OAuthError(.badRequest, "invalid_request", "client_assertion_type must be \(Self.jwtBearerAssertionType)")
        default:
            throw OAuthError(.badRequest, "invalid_request", "client_assertion and client_assertion_type go together")
        }
        let issued: ClientAuthenticationService.Issued
        do {
            issued = try await ClientAuthenticationService(security: security).issueToken(
                credential, requestedScope: form["scope"], clientAddress: context.clientAddress)
        } catch let refused as ClientAuthenticationService.Refused {
            switch refused.reason {
            case .throttled(let until):
                let now = Date()
                var error = OAuthError(.tooManyRequests, "slow_down", "too many failed attempts; try again later")
                error.headers[.retryAfter] = String(max(1, Int(until.timeIntervalSince(now).rounded(.up))))
                throw error
            case .invalidClient:
                var error = OAuthError(.unauthorized, "invalid_client", "client authentication failed")
                if case .secret = credential { error.headers[.wwwAuthenticate] = #"Basic realm="medrec""# }
                throw error
            case .invalidScope:
                throw OAuthError(.badRequest, "invalid_scope", "the scope is not a valid SMART scope list")
            }
        }
        return PlatformResponse.json(.ok, .object([
            "access_token": .string(issued.accessToken), "token_type": .string("Bearer"),
            "expires_in": .number(String(issued.expiresIn)), "scope": .string(issued.scope),
        ]))
    }

    /// The URLs a client assertion's `aud` may name: the one fact `PublicOrigin` holds.
    private func tokenEndpoints(_ request: Request) -> Set<String> {
        PublicOrigin(baseURL: baseURL).tokenEndpointAudiences(authority: request.head.authority)
    }

    /// An OAuth 2.0 error response: `{"error", "error_description"}`.
    struct OAuthError: HTTPResponseError {
        let status: HTTPResponse.Status
        let code: String
        let description: String
        var headers: HTTPFields = [:]

        init(_ status: HTTPResponse.Status, _ code: String, _ description: String) {
            self.status = status
            self.code = code
            self.description = description
        }

        func response(from request: Request, context: some RequestContext) throws -> Response {
            var fields = headers
            fields[.contentType] = "application/json"
            fields[.cacheControl] = "no-store"
            let body = FHIRJSON.serialize(.object(["error": .string(code), "error_description": .string(description)]))
            return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
    }

    // MARK: - Helpers

    static func invalidCredentials() -> APIError {
        APIError(.unauthorized, code: "invalid_credentials", "the email or password is incorrect")
    }

    static func invalidGrant() -> APIError {
        APIError(.unauthorized, code: "invalid_grant", "the refresh token is not valid")
    }

    /// Locked: says when to retry, the same for an account that exists and one that does not.
    static func throttled(until: Date, now: Date) -> APIError {
        let seconds = max(1, Int(until.timeIntervalSince(now).rounded(.up)))
        return APIError(
            .tooManyRequests, code: "too_many_attempts", "too many failed logins; try again in \(seconds) seconds",
            headers: [.retryAfter: String(seconds)])
    }

    static func busy() -> APIError {
        APIError(.serviceUnavailable, code: "busy", "too many logins at once; try again shortly", headers: [.retryAfter: "1"])
    }


    static func formItems(_ body: String) -> [String: String] {
        var items: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = parts.first.flatMap({ decodeForm(String($0)) }) else { continue }
            items[key] = parts.count > 1 ? decodeForm(String(parts[1])) : ""
        }
        return items
    }

    static func decodeForm(_ text: String) -> String? {
        text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    /// `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 section 2.3.1).
    static func basicCredentials(_ header: String?) -> (String, String)? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic",
              let data = Data(base64Encoded: String(parts[1])), let text = String(data: data, encoding: .utf8),
              let colon = text.firstIndex(of: ":") else { return nil }
        guard let id = decodeForm(String(text[..<colon])), let secret = decodeForm(String(text[text.index(after: colon)...])),
              !id.isEmpty, !secret.isEmpty else { return nil }
        return (id, secret)
    }
}

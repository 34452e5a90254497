import Hummingbird

/// A route group's declared role (`/admin/*`: administrators): any other principal gets 403
/// before a handler runs. Placed after the bearer authenticator, so the role is the one the
/// database confirmed for the token.
struct RequireRole: RouterMiddleware {
    typealias Context = MedrecRequestContext
    let role: Principal.Role
    /// Who the role is, in the refusal ("administrators only").
    let name: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let principal = context.principal else {
            throw BearerAuthenticator.unauthorized(request.uri.path, error: nil, "a bearer access token is required")
        }
        guard principal.role == role else { throw APIError(.forbidden, code: "forbidden", "\(name) only") }
        return try await next(request, context)
    }
}

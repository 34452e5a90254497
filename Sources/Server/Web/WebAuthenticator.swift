import Hummingbird

/// Requires a live browser session on the pages it guards (every page but sign-in, register
/// and the static files: `WebFace.addRoutes` says which). The database is asked at every
/// request (`SessionService.webCaller`), so logout, password change, disable, role change or
/// idle timeout on any server process ends the session at the next page, on every tab.
struct WebAuthenticator: RouterMiddleware {
    typealias Context = MedrecRequestContext
    let sessions: SessionService
    let cookies: WebCookies

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let back = request.method == .get ? request.uri.path : nil
        guard let session = cookies.session(in: request) else { throw WebError.signInRequired(next: back) }
        guard let caller = try await sessions.webCaller(session, clientAddress: context.clientAddress) else {
            throw WebError.signInRequired(next: back)
        }
        var context = context
        context.principal = caller.principal
        context.webSession = session
        return try await next(request, context)
    }
}

/// The pages of one role (`/app/patient/…` for patients, …). Only navigation: what the pages
/// show and change is decided by the services, which refuse other roles the same way.
struct RequireWebRole: RouterMiddleware {
    typealias Context = MedrecRequestContext
    let roles: Set<Principal.Role>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let role = context.principal?.role, roles.contains(role) else { throw WebError.forbidden }
        return try await next(request, context)
    }
}

extension MedrecRequestContext {
    /// The caller of a web page, for the services. A doctor's break-glass reason comes from the
    /// page's own form (`WebDoctorPages`), never from a header.
    func webCaller(breakGlassReason: String? = nil) throws -> Caller {
        guard let principal else { throw WebError.signInRequired(next: nil) }
        return Caller(principal: principal, breakGlassReason: breakGlassReason, clientAddress: clientAddress)
    }

    /// The signed-in session's secret, which signs its forms (`WebForm.read`).
    var webFormSecret: String? { webSession?.secret }
}

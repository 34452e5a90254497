import Hummingbird

/// `/admin/*` is for administrators: any other principal gets 403 before a handler runs, and
/// the refusal is audited like every other denial (through `AdminService`, which makes the same
/// check again for each operation). Placed after the bearer authenticator, so the role is the
/// one the database confirmed for the token.
struct RequireAdministrator: RouterMiddleware {
    typealias Context = MedrecRequestContext
    let security: SecurityServices

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let caller = try context.caller(request)
        if caller.principal.role != .admin {
            let (interaction, query) = Self.attempt(request)
            _ = try await AdminService(security: security).requireAdministrator(caller, interaction, query: query)
        }
        return try await next(request, context)
    }

    /// What the refused request tried, in the terms `AdminService` audits its operations with:
    /// the account list, one account (read or change), or the client registry.
    static func attempt(_ request: Request) -> (AuditedInteraction, query: String) {
        let parts = request.uri.path.split(separator: "/").dropFirst()  // after "admin"
        let reads = request.method == .get || request.method == .head
        switch (parts.first, parts.count) {
        case ("users", 1): return (reads ? .searchType : .update, "users")
        case ("users", _): return (reads ? .read : .update, AdminService.query(user: String(parts[parts.startIndex + 1])))
        case ("clients", 1): return (reads ? .searchType : .create, "clients")
        case ("clients", _): return (reads ? .read : .update, AdminService.query(client: String(parts[parts.startIndex + 1])))
        default: return (reads ? .read : .update, "admin")
        }
    }
}

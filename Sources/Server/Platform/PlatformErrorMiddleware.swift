import Hummingbird

/// Outside `/fhir`, every error has the platform's JSON shape
/// (`{"error": {code, message, details}}`): the router's own 404 (405 with `Allow` for a known
/// path and another method), body limits, and
/// errors of the shared FHIR machinery, with their status kept.
struct PlatformErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The route table's methods per path, for the `Allow` header of a 405.
    let allowed: AllowedMethods

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        guard APIFace(path: path) == .platform else { return try await next(request, context) }
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound || error.status == .methodNotAllowed {
            // The router found the path but not the method: 405 with what the path allows.
            if let allowed = allowed.methods(for: path), !allowed.contains(request.method) {
                throw APIError(
                    .methodNotAllowed, code: "method_not_allowed", "this method is not allowed here",
                    headers: [.allow: allowed.map(\.rawValue).joined(separator: ", ")])
            }
            throw APIError.from(error, path: path)
        } catch {
            throw APIError.from(error, path: path)
        }
    }
}

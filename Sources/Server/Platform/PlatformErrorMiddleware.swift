import Hummingbird

/// Outside `/fhir`, every error has the platform's JSON shape
/// (`{"error": {code, message, details}}`): the router's own 404 and 405, body limits, and
/// errors of the shared FHIR machinery, with their status kept.
struct PlatformErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        guard path != "/fhir", !path.hasPrefix("/fhir/") else { return try await next(request, context) }
        do {
            return try await next(request, context)
        } catch {
            throw APIError.from(error, path: path)
        }
    }
}

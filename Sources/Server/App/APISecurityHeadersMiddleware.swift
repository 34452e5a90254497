import HTTPTypes
import Hummingbird

/// The security headers of the API faces (`/fhir`, the platform routes, `/auth`, `/admin`,
/// `/health`, `/.well-known`), on every answer, errors included: the web face sets its own, fuller
/// set (`WebPageMiddleware`), and a route that sets one of these itself (the API documents'
/// policy for their page) keeps its own. The answers are JSON or XML for programs, so the policy
/// allows nothing: were one opened in a browser, nothing in it runs, loads or frames.
struct APISecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Built once (a generic type cannot hold a stored static, so it lives in `APISecurityHeaders`).
    static var headers: HTTPFields { APISecurityHeaders.fields }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard APIFace(path: request.uri.path) != .web else { return try await next(request, context) }
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            // The faces' errors (OperationOutcomes, the platform's JSON errors, 401 challenges)
            // travel as errors that render themselves; rendered here, they get the headers too.
            response = try error.response(from: request, context: context)
        }
        for field in Self.headers where response.headers[field.name] == nil { response.headers.append(field) }
        return response
    }
}

enum APISecurityHeaders {
    static let fields: HTTPFields = [
        .contentSecurityPolicy: "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
        .xContentTypeOptions: "nosniff",
        .referrerPolicy: "no-referrer",
        .xFrameOptions: "DENY",
    ]
}

import FHIRModels
import Hummingbird

/// Under `/fhir`, every error is an OperationOutcome: the router's own 404 for an unknown path,
/// and any framework error, are rewritten with their status kept.
struct FHIROutcomeMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard APIFace(path: request.uri.path) == .fhir else {
            return try await next(request, context)
        }
        do {
            return try await next(request, context)
        } catch let error as FHIRHTTPError {
            throw error
        } catch let error as any HTTPResponseError {
            let mapped = FHIRHTTPError.from(error)
            if let fhirError = mapped as? FHIRHTTPError { throw fhirError }
            let message = error.status == .notFound ? "no FHIR interaction matches this URL and method" : "the request could not be processed"
            throw FHIRHTTPError(status: error.status, code: error.status == .notFound ? .notFound : .processing, message)
        }
    }
}

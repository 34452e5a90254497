import Foundation
import Hummingbird
import Logging

/// One log line per request: id, method, path, status and duration. Never the query string
/// or the body, which can carry PHI (an identifier search names a patient's MRN).
struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        var logger = context.logger
        logger[metadataKey: "method"] = "\(request.method.rawValue)"
        logger[metadataKey: "path"] = "\(request.uri.path)"
        do {
            let response = try await next(request, context)
            logger[metadataKey: "status"] = "\(response.status.code)"
            logger[metadataKey: "ms"] = "\(Self.milliseconds(since: start))"
            logger.info("request")
            return response
        } catch let error as any HTTPResponseError {
            logger[metadataKey: "status"] = "\(error.status.code)"
            logger[metadataKey: "ms"] = "\(Self.milliseconds(since: start))"
            logger.info("request")
            throw error
        } catch {
            logger[metadataKey: "status"] = "500"
            logger[metadataKey: "error"] = "\(String(reflecting: type(of: error)))"
            logger.error("request failed")
            throw FHIRHTTPError(status: .internalServerError, code: .exception, "internal error; the server log has the request id")
        }
    }

    static func milliseconds(since start: ContinuousClock.Instant) -> String {
        let duration = ContinuousClock.now - start
        let value = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
        return String(format: "%.2f", value)
    }
}

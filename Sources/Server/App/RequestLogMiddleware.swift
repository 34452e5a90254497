import Foundation
import Hummingbird
import Logging
import Synchronization

/// One log line per request: id (`request_id`, from `RequestIDMiddleware`), method, path, route
/// template, status and duration (and `user_id` once authenticated). Never the query string or
/// the body, which can carry PHI (an identifier search names a patient's MRN).
struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let logger = context.logger
        guard logger.logLevel <= .info else {
            do {
                let response = try await next(request, context)
                ServerErrorCount.count(response.status.code)
                return response
            } catch let error as any HTTPResponseError {
                ServerErrorCount.count(error.status.code)
                throw error
            } catch {
                ServerErrorCount.count(500)
                logger.error("request failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
                throw Self.internalError(request.uri.path)
            }
        }
        do {
            let response = try await next(request, context)
            ServerErrorCount.count(response.status.code)
            logger.info("request", metadata: Self.metadata(request, route: context.endpointPath, status: response.status.code, since: start))
            return response
        } catch let error as any HTTPResponseError {
            ServerErrorCount.count(error.status.code)
            logger.info("request", metadata: Self.metadata(request, route: context.endpointPath, status: error.status.code, since: start))
            throw error
        } catch {
            ServerErrorCount.count(500)
            var metadata = Self.metadata(request, route: context.endpointPath, status: 500, since: start)
            metadata["error"] = "\(String(reflecting: type(of: error)))"
            logger.error("request failed", metadata: metadata)
            throw Self.internalError(request.uri.path)
        }
    }

    /// A 500 in the shape of the face the request came to; only the error's type is logged.
    static func internalError(_ path: String) -> any Error {
        if APIFace(path: path) == .fhir {
            return FHIRHTTPError(status: .internalServerError, code: .exception, "internal error; the server log has the request id")
        }
        return APIError(.internalServerError, code: "internal_error", "internal error; the server log has the request id")
    }

    /// Built once per request (mutating the logger's metadata copies it each time).
    /// Status and duration are logged as numbers (`"status":503` in the JSON log, to match and compare).
    static func metadata(_ request: Request, route: String?, status: Int, since start: ContinuousClock.Instant) -> Logger.Metadata {
        [
            "method": "\(request.method.rawValue)",
            "path": "\(request.uri.path)",
            "route": .string(RouteLabels.route(route)),
            "status": .stringConvertible(status),
            "duration_us": .stringConvertible(microseconds(since: start)),
        ]
    }

    static func microseconds(since start: ContinuousClock.Instant) -> Int64 {
        let duration = ContinuousClock.now - start
        return duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000
    }
}

/// Responses with a 5xx status this process has answered since it started (the admins' status
/// page shows it as the recent error rate): one atomic counter the request log increments.
enum ServerErrorCount {
    private static let total = Atomic<Int>(0)
    /// When the counting began (the process's first use of it, at its first request at the latest).
    static let since = Date()

    static func count(_ status: Int) {
        if status >= 500 { total.add(1, ordering: .relaxed) }
    }

    static var value: Int { total.load(ordering: .relaxed) }
}

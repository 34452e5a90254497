import FHIRModels
import Hummingbird
import Mapping
import NIOCore

extension APIError {
    /// The platform face's answer to any error a handler meets: store, parse, access, framework
    /// and validation errors keep their status and get the platform's JSON shape. Unknown errors
    /// stay unknown (500, logged by type only).
    static func from(_ error: any Error, path: String) -> any Error {
        switch error {
        case let error as APIError:
            return error
        case let error as PlatformValidationError:
            return APIError.validation(error.issues.map { Detail(field: $0.field, issue: $0.issue) })
        case let error as PlatformRecordsUnknownReferences:
            return APIError(.unprocessableContent, code: "unknown_reference", "a referenced record does not exist",
                            details: error.referenceIssues.map { Detail(field: $0.field, issue: $0.issue) })
        case let error as FHIRFormatError:
            return APIError(.badRequest, code: "malformed_json", "the body is not valid JSON: \(error.message)")
        case let error as StoreError:
            switch error.code {
            case .notFound, .gone: return notFound(path)
            case .versionConflict:
                return APIError(.conflict, code: "conflict", "the record has changed since the version in If-Match")
            case .multipleMatches: return APIError(.conflict, code: "conflict", error.message)
            case .invalid:
                let details = error.issues.map { Detail(field: $0.expression ?? "", issue: $0.diagnostics) }
                return APIError(.unprocessableContent, code: "invalid_resource", "the record would not be valid FHIR", details: details)
            case .badRequest: return APIError(.badRequest, code: "bad_request", error.message)
            case .unavailable:
                return APIError(.serviceUnavailable, code: "unavailable", "the database is unavailable", headers: [.retryAfter: "5"])
            case .timeout: return APIError(.serviceUnavailable, code: "timeout", "the request took too long")
            case .integrity: return APIError(.internalServerError, code: "integrity", "a stored record failed its integrity check")
            }
        case let error as SearchQueryError:
            return APIError(.badRequest, code: "bad_parameter", error.message,
                            details: [.init(field: error.parameter ?? "query", issue: error.message)])
        case let denied as AccessDenied:
            return denied.kind == .hidden ? notFound(path) : APIError(.forbidden, code: "forbidden", "this action is not permitted")
        case let refused as BookingRefused:
            let details = refused.field.map { [Detail(field: $0.rawValue, issue: refused.message)] } ?? []
            return refused.kind == .unavailable
                ? APIError(.conflict, code: "slot_unavailable", refused.message, details: details)
                : APIError(.unprocessableContent, code: "invalid_booking", refused.message, details: details)
        case is TokenRejected:
            return BearerAuthenticator.unauthorized(path, error: "invalid_token", "the access token is not valid")
        case let error as FHIRHTTPError:
            return from(status: error.status, message: error.issues.first?.diagnostics, headers: error.headers, path: path)
        case is NIOTooManyBytesError:
            return APIError(.contentTooLarge, code: "body_too_large", "the request body is larger than the server accepts")
        case let error as HTTPError:
            // The router's and the framework's own (unknown path, wrong method, body limits).
            return from(status: error.status, message: nil, headers: error.headers, path: path)
        default:
            // Other response errors keep the shape their protocol prescribes (OAuth's
            // `{"error": "invalid_client"}` at /auth/token); anything else is a 500.
            return error
        }
    }

    static func notFound(_ path: String) -> APIError {
        APIError(.notFound, code: "not_found", "no record exists at this path")
    }

    /// An error of another face (or the router) in the platform's shape, its status kept.
    /// FHIR diagnostics never quote request content, so they may be passed on.
    static func from(status: HTTPResponse.Status, message: String?, headers: HTTPFields, path: String) -> APIError {
        var fields = HTTPFields()
        for field in headers where field.name == .wwwAuthenticate || field.name == .retryAfter { fields.append(field) }
        switch status {
        case .badRequest: return APIError(status, code: "bad_request", message ?? "the request is not valid", headers: fields)
        case .unauthorized:
            return APIError(status, code: "unauthorized", message ?? "a valid bearer access token is required", headers: fields)
        case .forbidden: return APIError(status, code: "forbidden", message ?? "this action is not permitted", headers: fields)
        case .notFound: return notFound(path)
        case .methodNotAllowed: return APIError(status, code: "method_not_allowed", "this method is not allowed here", headers: fields)
        case .conflict, .preconditionFailed:
            return APIError(.conflict, code: "conflict", message ?? "the record has changed", headers: fields)
        case .contentTooLarge:
            return APIError(status, code: "body_too_large", "the request body is larger than the server accepts", headers: fields)
        case .unsupportedMediaType:
            return APIError(status, code: "unsupported_media_type", "the body must be application/json", headers: fields)
        case .unprocessableContent: return APIError(status, code: "unprocessable", message ?? "the request cannot be processed", headers: fields)
        case .serviceUnavailable: return APIError(status, code: "unavailable", message ?? "the service is unavailable", headers: fields)
        default:
            return APIError(status, code: status.code >= 500 ? "internal_error" : "error",
                            status.code >= 500 ? "internal error; the server log has the request id" : (message ?? "the request failed"),
                            headers: fields)
        }
    }
}

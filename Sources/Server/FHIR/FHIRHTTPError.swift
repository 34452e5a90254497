import FHIRModels
import Hummingbird
import NIOCore

/// An error on the FHIR face: an HTTP status and the OperationOutcome issues that explain it,
/// written in the format the client asked for (JSON when that cannot be told).
public struct FHIRHTTPError: HTTPResponseError, CustomStringConvertible {
    public let status: HTTPResponse.Status
    public var issues: [OutcomeIssue]
    public var headers: HTTPFields = [:]

    public init(status: HTTPResponse.Status, issues: [OutcomeIssue], headers: HTTPFields = [:]) {
        self.status = status
        self.issues = issues
        self.headers = headers
    }

    public init(status: HTTPResponse.Status, code: OutcomeIssue.Code, _ message: String, expression: String? = nil) {
        self.init(status: status, issues: [OutcomeIssue(severity: .error, code: code, diagnostics: message, expression: expression)])
    }

    public var description: String { "\(status.code) \(issues.map(\.description).joined(separator: "; "))" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let format = (try? FHIRFormat.response(for: request)) ?? .json
        var response = FHIRResponse.make(
            status: status, resource: issues.operationOutcome(), format: format, pretty: FHIRFormat.pretty(request))
        for field in headers { response.headers.append(field) }
        return response
    }

    static func notAcceptable(_ message: String) -> FHIRHTTPError {
        FHIRHTTPError(status: .notAcceptable, code: .notSupported, message)
    }

    static func unsupportedMediaType(_ message: String) -> FHIRHTTPError {
        FHIRHTTPError(status: .unsupportedMediaType, code: .notSupported, message)
    }

    static func badRequest(_ message: String, code: OutcomeIssue.Code = .invalid, expression: String? = nil) -> FHIRHTTPError {
        FHIRHTTPError(status: .badRequest, code: code, message, expression: expression)
    }

    static func notFound(_ message: String) -> FHIRHTTPError {
        FHIRHTTPError(status: .notFound, code: .notFound, message)
    }
}

extension FHIRHTTPError {
    /// Maps store and parsing errors to HTTP. Unknown errors stay unknown (they become 500 and are logged).
    static func from(_ error: any Error) -> (any Error) {
        switch error {
        case let error as FHIRHTTPError: return error
        case let error as FHIRFormatError:
            return FHIRHTTPError(status: .badRequest, issues: [error.issue])
        case let error as StoreError:
            switch error.code {
            case .notFound: return FHIRHTTPError(status: .notFound, code: .notFound, error.message)
            case .gone(let version):
                return FHIRHTTPError(
                    status: .gone, issues: [OutcomeIssue(code: .deleted, diagnostics: error.message)],
                    headers: [.eTag: "W/\"\(version)\""])
            case .versionConflict:
                return FHIRHTTPError(status: .preconditionFailed, code: .conflict, error.message)
            case .multipleMatches:
                return FHIRHTTPError(status: .preconditionFailed, code: .duplicate, error.message)
            case .invalid:
                return FHIRHTTPError(status: .unprocessableContent, issues: error.issues)
            case .badRequest:
                return FHIRHTTPError(status: .badRequest, code: .invalid, error.message)
            case .unavailable:
                return FHIRHTTPError(
                    status: .serviceUnavailable, issues: [OutcomeIssue(code: .transient, diagnostics: error.message)],
                    headers: [.retryAfter: "5"])
            case .timeout:
                return FHIRHTTPError(status: .serviceUnavailable, code: .tooCostly, error.message)
            case .integrity:
                return FHIRHTTPError(status: .internalServerError, code: .security, error.message)
            }
        case let error as BulkError:
            switch error.code {
            case .invalid: return FHIRHTTPError.badRequest(error.message, expression: error.expression)
            case .notSupported: return FHIRHTTPError.badRequest(error.message, code: .notSupported, expression: error.expression)
            case .notFound: return FHIRHTTPError.notFound(error.message)
            case .forbiddenInput: return FHIRHTTPError(status: .forbidden, code: .forbidden, error.message, expression: error.expression)
            case .tooMany(let retryAfter):
                return FHIRHTTPError(
                    status: .tooManyRequests, issues: [OutcomeIssue(code: .throttled, diagnostics: error.message)],
                    headers: [.retryAfter: String(retryAfter)])
            }
        case let error as SearchQueryError:
            return FHIRHTTPError.badRequest(error.message, code: error.code == .notSupported ? .notSupported : .invalid, expression: error.parameter)
        case let denied as AccessDenied:
            // A denied read looks like absence; a denied write is forbidden.
            return denied.kind == .hidden
                ? FHIRHTTPError(status: .notFound, code: .notFound, denied.message)
                : FHIRHTTPError(status: .forbidden, code: .forbidden, denied.message)
        case let refused as BookingRefused:
            // The doctor's schedule has no room (409), or the booking cannot be checked (422).
            return FHIRHTTPError(
                status: refused.kind == .unavailable ? .conflict : .unprocessableContent,
                code: refused.kind == .unavailable ? .businessRule : .invalid, refused.message, expression: refused.field?.fhirExpression)
        case is TokenRejected:
            return BearerAuthenticator.unauthorized("/fhir", error: "invalid_token", "the access token is not valid")
        case let error as JSONPatch.PatchError:
            return FHIRHTTPError(status: .unprocessableContent, code: .processing, error.description)
        case is NIOTooManyBytesError:
            return FHIRHTTPError(status: .contentTooLarge, code: .tooLong, "the request body is larger than the server accepts")
        case let error as HTTPError where error.status == .contentTooLarge:
            return FHIRHTTPError(status: .contentTooLarge, code: .tooLong, "the request body is larger than the server accepts")
        default:
            return error
        }
    }
}

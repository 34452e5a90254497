import FHIRModels
import Foundation
import Hummingbird
import NIOCore

/// An error on the platform face (`/auth`, `/admin`, the app routes): one JSON shape,
/// `{"error": {"code", "message", "details": [{"field", "issue"}]}}`. Messages never quote
/// what the client sent (it may be a password or PHI).
public struct APIError: HTTPResponseError {
    public struct Detail: Sendable {
        public let field: String
        public let issue: String
        public init(field: String, issue: String) {
            self.field = field
            self.issue = issue
        }
    }

    public let status: HTTPResponse.Status
    public let code: String
    public let message: String
    public var details: [Detail]
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, code: String, _ message: String, details: [Detail] = [], headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var error: JSONObject = ["code": .string(code), "message": .string(message)]
        if !details.isEmpty {
            error["details"] = .array(details.map { .object(["field": .string($0.field), "issue": .string($0.issue)]) })
        }
        var fields = headers
        fields[.contentType] = "application/json"
        fields[.cacheControl] = "no-store"
        return Response(
            status: status, headers: fields,
            body: .init(byteBuffer: ByteBuffer(bytes: FHIRJSON.serialize(.object(["error": .object(error)])))))
    }

    static func validation(_ details: [Detail]) -> APIError {
        APIError(.badRequest, code: "validation_failed", "the request is not valid", details: details)
    }
}

import FHIRModels
import Hummingbird
import NIOCore

/// Small JSON bodies of the platform face, parsed strictly (duplicate keys, depth, trailing
/// content refused) with errors in the platform's JSON shape.
enum JSONRequestBody {
    static func object(_ request: Request, maxBytes: Int = 64 << 10) async throws -> JSONObject {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maxBytes)
        } catch {
            throw APIError(.contentTooLarge, code: "body_too_large", "the request body is larger than \(maxBytes) bytes")
        }
        let value: JSONValue
        do {
            // Plain JSON: a `null` member is allowed and means absent.
            value = try FHIRJSON.parse(Array(buffer.readableBytesView), limits: .init(allowsNullMembers: true))
        } catch {
            throw APIError(.badRequest, code: "malformed_json", "the body is not valid JSON: \(error.message)")
        }
        guard let object = value.objectValue else {
            throw APIError(.badRequest, code: "malformed_json", "the body must be a JSON object")
        }
        return object
    }

    /// Refuses members outside `allowed` (mass assignment: `status`, `id`, … are never taken from a body).
    static func rejectUnknown(_ object: JSONObject, allowed: Set<String>) -> [APIError.Detail] {
        object.keys.filter { !allowed.contains($0) }.map { APIError.Detail(field: String($0.prefix(64)), issue: "is not accepted here") }
    }

    static func string(_ object: JSONObject, _ key: String, required: Bool, maxLength: Int, into details: inout [APIError.Detail]) -> String? {
        guard let value = object[key], !value.isNull else {
            if required { details.append(.init(field: key, issue: "is required")) }
            return nil
        }
        guard let text = value.stringValue else {
            details.append(.init(field: key, issue: "must be a string"))
            return nil
        }
        let trimmed = key == "password" || key == "newPassword" || key == "currentPassword"
            ? text : text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty {
            details.append(.init(field: key, issue: "must not be empty"))
            return nil
        }
        if trimmed.count > maxLength {
            details.append(.init(field: key, issue: "must be at most \(maxLength) characters"))
            return nil
        }
        return trimmed
    }
}

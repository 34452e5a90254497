import FHIRModels
import Foundation
import Hummingbird

/// Reading and checking the parts of a FHIR request: type, id, body, preferences, criteria.
struct FHIRRequest {
    let limits: ServerLimits

    /// A resource type from the URL; an unknown type is 404, as the spec's REST API says.
    func resourceType(_ context: some RequestContext) throws -> String {
        let type = context.parameters.get("type") ?? ""
        guard FHIRMetadata.resource(named: type) != nil else {
            throw FHIRHTTPError.notFound("\(type.isEmpty ? "the" : "this") resource type is not supported")
        }
        return type
    }

    func resourceID(_ context: some RequestContext) throws -> String {
        let id = context.parameters.get("id") ?? ""
        guard Self.isValidID(id) else { throw FHIRHTTPError.badRequest("the resource id is not a valid FHIR id") }
        return id
    }

    static func isValidID(_ id: some StringProtocol) -> Bool {
        FHIRLexical.isID(id)
    }

    /// Reads the body and parses it as FHIR JSON or XML per `Content-Type`.
    func resourceBody(_ request: Request) async throws -> JSONValue {
        let format = try FHIRFormat.body(of: request)
        let bytes = try await bodyBytes(request)
        return try Self.parse(bytes, format: format)
    }

    func bodyBytes(_ request: Request) async throws -> [UInt8] {
        do {
            let buffer = try await request.body.collect(upTo: limits.maxBodyBytes)
            return Array(buffer.readableBytesView)
        } catch {
            throw FHIRHTTPError.from(error)
        }
    }

    static func parse(_ bytes: [UInt8], format: FHIRFormat) throws -> JSONValue {
        guard !bytes.isEmpty else { throw FHIRHTTPError.badRequest("the request body is empty") }
        do {
            switch format {
            case .json:
                let value = try FHIRJSON.parse(bytes)
                guard value.objectValue != nil else { throw FHIRHTTPError.badRequest("a FHIR resource must be a JSON object") }
                return value
            case .xml:
                return try FHIRXMLReader.resource(from: bytes)
            }
        } catch let error as FHIRFormatError {
            throw FHIRHTTPError(status: .badRequest, issues: [error.issue])
        }
    }

    /// Checks that a body is of the type the endpoint names.
    static func requireType(_ resource: JSONValue, _ type: String) throws {
        guard let bodyType = resource["resourceType"]?.stringValue else {
            throw FHIRHTTPError.badRequest("the resource has no resourceType", code: .required)
        }
        guard bodyType == type else {
            throw FHIRHTTPError.badRequest("the resourceType in the body does not match the endpoint")
        }
    }

    enum ReturnPreference { case minimal, representation, operationOutcome }

    static func returnPreference(_ request: Request) -> ReturnPreference {
        guard let prefer = request.headers[.prefer] else { return .representation }
        for part in prefer.split(separator: ",") {
            let trimmed = part.trimmingCharacters(in: .whitespaces)
            switch trimmed {
            case "return=minimal": return .minimal
            case "return=OperationOutcome": return .operationOutcome
            case "return=representation": return .representation
            default: continue
            }
        }
        return .representation
    }

    /// The version in `If-Match: W/"3"` (or `"3"`).
    static func ifMatch(_ request: Request) throws -> Int? {
        guard let header = request.headers[.ifMatch] else { return nil }
        guard let version = Self.version(fromETag: header) else {
            throw FHIRHTTPError.badRequest("If-Match must be an ETag such as W/\"1\"")
        }
        return version
    }

    static func version(fromETag header: String) -> Int? {
        var text = Substring(header.trimmingCharacters(in: .whitespaces))
        if text.hasPrefix("W/") { text = text.dropFirst(2) }
        if text.hasPrefix("\""), text.hasSuffix("\""), text.count >= 2 { text = text.dropFirst().dropLast() }
        return Int(text)
    }

    /// `Prefer: handling=strict`: unknown search parameters are errors rather than ignored.
    static func strictHandling(_ request: Request) -> Bool {
        guard let prefer = request.headers[.prefer] else { return false }
        return prefer.split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces).lowercased() == "handling=strict" }
    }

    /// Query items from a query string such as `identifier=a|b&_id=x` (If-None-Exist, conditional URLs).
    static func queryItems(_ query: Substring) -> [(key: String, value: String)] {
        query.split(separator: "&").compactMap { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = parts.first, !key.isEmpty else { return nil }
            let rawValue = parts.count > 1 ? String(parts[1]) : ""
            let value = rawValue.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? rawValue
            let name = String(key).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(key)
            return (name, value)
        }
    }
}

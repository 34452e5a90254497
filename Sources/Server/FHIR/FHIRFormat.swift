import FHIRModels
import Hummingbird

/// The two wire formats of the FHIR face.
public enum FHIRFormat: String, Sendable {
    case json, xml

    var mediaType: String {
        switch self {
        case .json: "application/fhir+json; charset=utf-8"
        case .xml: "application/fhir+xml; charset=utf-8"
        }
    }

    /// Maps a `_format` value or a media type to a format; `nil` when it names neither.
    static func named(_ name: Substring) -> FHIRFormat? {
        let base = name.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        switch base {
        case "json", "application/fhir+json", "application/json", "application/json+fhir", "text/json": return .json
        case "xml", "application/fhir+xml", "application/xml", "application/xml+fhir", "text/xml": return .xml
        default: return nil
        }
    }

    /// The response format: `_format` wins over `Accept`; JSON is the default.
    /// An `Accept` that names only other types gets 406.
    static func response(for request: Request) throws -> FHIRFormat {
        if let format = request.uri.queryParameters["_format"] {
            guard let named = named(format) else {
                throw FHIRHTTPError.notAcceptable("_format names an unsupported format")
            }
            return named
        }
        guard let accept = request.headers[.accept], !accept.isEmpty else { return .json }
        var sawOther = false
        for item in accept.split(separator: ",") {
            let mediaType = item.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            if let format = named(Substring(mediaType)) { return format }
            if mediaType == "*/*" || mediaType == "application/*" || mediaType == "text/*" || mediaType.isEmpty { return .json }
            sawOther = true
        }
        if sawOther { throw FHIRHTTPError.notAcceptable("the Accept header names no FHIR format this server produces") }
        return .json
    }

    /// The format of a request body, from `Content-Type`; 415 when it is not FHIR JSON or XML.
    static func body(of request: Request) throws -> FHIRFormat {
        guard let contentType = request.headers[.contentType] else {
            throw FHIRHTTPError.unsupportedMediaType("a request body needs a Content-Type of application/fhir+json or application/fhir+xml")
        }
        guard let format = named(Substring(contentType)) else {
            throw FHIRHTTPError.unsupportedMediaType("Content-Type must be application/fhir+json or application/fhir+xml")
        }
        return format
    }

    /// Whether `_pretty=true` was asked for.
    static func pretty(_ request: Request) -> Bool {
        request.uri.queryParameters["_pretty"] == "true"
    }
}

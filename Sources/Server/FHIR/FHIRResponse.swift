import FHIRModels
import Foundation
import Hummingbird
import NIOCore

/// Builds FHIR responses in the negotiated format.
enum FHIRResponse {
    static func make(status: HTTPResponse.Status, resource: JSONValue, format: FHIRFormat, pretty: Bool, headers: HTTPFields = [:]) -> Response {
        let bytes: [UInt8]
        switch format {
        case .json:
            bytes = FHIRJSON.serialize(resource, pretty: pretty)
        case .xml:
            do {
                bytes = try FHIRXMLWriter.document(for: resource, pretty: pretty)
            } catch {
                // Only resources the validator accepted reach here, so this is a server bug:
                // answer in JSON rather than lose the content.
                return make(status: status, resource: resource, format: .json, pretty: pretty, headers: headers)
            }
        }
        return make(status: status, bytes: bytes, format: format, headers: headers)
    }

    static func make(status: HTTPResponse.Status, bytes: [UInt8], format: FHIRFormat, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = format.mediaType
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// A stored resource as a response. Compact JSON is sent as stored, without re-encoding.
    static func make(status: HTTPResponse.Status, stored: StoredResource, request: Request, headers: HTTPFields = [:]) throws -> Response {
        let format = try FHIRFormat.response(for: request)
        let pretty = FHIRFormat.pretty(request)
        var fields = headers
        fields.append(contentsOf: versionHeaders(stored))
        guard let json = stored.json else {
            return Response(status: status, headers: fields)
        }
        if format == .json, !pretty {
            return make(status: status, bytes: json, format: .json, headers: fields)
        }
        return make(status: status, resource: try FHIRJSON.parse(json), format: format, pretty: pretty, headers: fields)
    }

    static func versionHeaders(_ stored: StoredResource) -> HTTPFields {
        [
            .eTag: "W/\"\(stored.versionID)\"",
            .lastModified: StoreTimestamp.httpDate(stored.lastUpdated),
        ]
    }
}

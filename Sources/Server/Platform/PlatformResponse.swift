import FHIRModels
import Hummingbird

/// Plain JSON answers of the platform and auth routes: `application/json`, never cached
/// (they carry personal data and tokens).
enum PlatformResponse {
    static func json(_ status: HTTPResponse.Status, _ value: JSONValue, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        fields[.cacheControl] = "no-store"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: FHIRJSON.serialize(value))))
    }
}

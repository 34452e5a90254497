import Foundation
import Hummingbird
import NIOCore

/// The platform API's published documents, both public: the OpenAPI 3.1 document at
/// `/openapi.json` and its readable page at `/docs` (plain HTML and CSS, no scripts, nothing
/// fetched from elsewhere, so it works offline). They are the target's resources
/// (`Sources/Server/Resources`), the one copy of each, so the binary needs its resource bundle
/// (`medical-records_Server.resources`) beside it or in its build directory.
enum APIDocuments {
    /// `openapi.json`, as served.
    static let openAPI = resource("openapi", "json")
    /// `api.html`, as served.
    static let page = resource("api", "html")

    static func addRoutes(to router: RouterGroup<MedrecRequestContext>) {
        // Read now, while the server starts: a missing resource bundle stops it at once
        // rather than at the first request.
        let openAPI = ByteBuffer(string: Self.openAPI), page = ByteBuffer(string: Self.page)
        router.get("openapi.json") { _, _ in
            respond(openAPI, contentType: "application/json")
        }
        router.get("docs") { _, _ in
            respond(page, contentType: "text/html; charset=utf-8")
        }
    }

    private static func respond(_ body: ByteBuffer, contentType: String) -> Response {
        Response(
            status: .ok,
            headers: [
                .contentType: contentType, .cacheControl: "public, max-age=300",
                .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'",
                .xContentTypeOptions: "nosniff",
            ],
            body: .init(byteBuffer: body))
    }

    private static func resource(_ name: String, _ type: String) -> String {
        guard let url = Bundle.module.url(forResource: name, withExtension: type),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else {
            fatalError("the resource \(name).\(type) is missing from the Server resource bundle")
        }
        return text
    }
}

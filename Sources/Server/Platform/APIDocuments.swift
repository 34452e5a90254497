import Hummingbird
import NIOCore

/// The platform API's published documents, both public: the OpenAPI 3.1 document at
/// `/openapi.json` and its readable page at `/docs` (plain HTML and CSS, no scripts, nothing
/// fetched from elsewhere, so it works offline). Embedded from `docs/` by
/// `scripts/embed-api-docs.py`.
enum APIDocuments {
    static func addRoutes(to router: RouterGroup<MedrecRequestContext>) {
        router.get("openapi.json") { _, _ in
            respond(openAPI, contentType: "application/json")
        }
        router.get("docs") { _, _ in
            respond(page, contentType: "text/html; charset=utf-8")
        }
    }

    private static func respond(_ text: String, contentType: String) -> Response {
        Response(
            status: .ok,
            headers: [
                .contentType: contentType, .cacheControl: "public, max-age=300",
                .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'",
                .xContentTypeOptions: "nosniff",
            ],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

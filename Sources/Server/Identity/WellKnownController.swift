import FHIRModels
import Hummingbird
import NIOCore

/// `/.well-known/jwks.json` (the public signing keys) and `/.well-known/smart-configuration`
/// (what this server supports of SMART App Launch v2), both public; the latter also at
/// `/fhir/.well-known/smart-configuration`, where SMART clients look for it.
struct WellKnownController: Sendable {
    typealias Context = MedrecRequestContext
    let security: SecurityServices
    let baseURL: String?

    /// `fhir` is the public group under the FHIR base.
    func addRoutes(to router: RouterGroup<Context>, fhir: RouterGroup<Context>) {
        router.get(".well-known/jwks.json") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/jwk-set+json", .cacheControl: "public, max-age=300"],
                body: .init(byteBuffer: ByteBuffer(bytes: self.security.tokens.jwks())))
        }
        router.get(".well-known/smart-configuration") { request, _ in self.smartConfiguration(request) }
        // SMART App Launch 2 ("Using well-known"): a client looks for the document at
        // [FHIR base]/.well-known/smart-configuration, e.g. /fhir/.well-known/smart-configuration.
        fhir.get(".well-known/smart-configuration") { request, _ in self.smartConfiguration(request) }
    }

    func smartConfiguration(_ request: Request) -> Response {
        let urls = PublicOrigin(baseURL: self.baseURL)
        let origin = urls.origin(authority: request.head.authority)
        let configuration: JSONObject = [
            "issuer": .string(self.security.tokens.issuer),
            "jwks_uri": .string("\(origin)/.well-known/jwks.json"),
            "token_endpoint": .string(urls.tokenEndpoint(authority: request.head.authority)),
            "grant_types_supported": .array([.string("client_credentials")]),
            "token_endpoint_auth_methods_supported": .array([.string("client_secret_basic"), .string("private_key_jwt")]),
            "token_endpoint_auth_signing_alg_values_supported": .array(ClientKeySet.algorithms.map { .string($0) }),
            "scopes_supported": .array(["system/*.cruds", "system/*.rs", "user/*.cruds", "user/*.rs", "patient/*.cruds", "patient/*.rs",
                                        "openid", "fhirUser", "offline_access"].map { .string($0) }),
            "response_types_supported": .array([]),
            "code_challenge_methods_supported": .array([]),
            "capabilities": .array(["client-confidential-symmetric", "client-confidential-asymmetric", "permission-v1", "permission-v2",
                                    "permission-patient", "permission-user"].map { .string($0) }),
        ]
        return Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: FHIRJSON.serialize(.object(configuration)))))
    }
}

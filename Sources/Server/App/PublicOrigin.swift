/// Where the server is reached from outside, said once: the configured base URL
/// (`medrec.baseUrl`, the FHIR base, e.g. `https://fhir.example.org/fhir`) without its `/fhir`,
/// or, without one, `http://` and the request's Host. `/.well-known/smart-configuration`
/// advertises URLs built here, and the token endpoint checks a client assertion's `aud` against
/// the same ones.
struct PublicOrigin: Sendable {
    let baseURL: String?

    /// The origin the `/auth` and `/.well-known` routes hang off, for a request with this Host.
    func origin(authority: String?) -> String {
        if let baseURL, let range = baseURL.range(of: "/fhir", options: .backwards) { return String(baseURL[..<range.lowerBound]) }
        if let baseURL { return baseURL }
        return Self.hostOrigin(authority: authority)
    }

    /// `POST /auth/token`'s URL, as advertised (`token_endpoint`).
    func tokenEndpoint(authority: String?) -> String {
        Self.tokenEndpoint(atOrigin: origin(authority: authority))
    }

    /// Every URL a client may name as the token endpoint (a client assertion's `aud`): the
    /// advertised one (from the configured base URL, when there is one) and the request Host's.
    func tokenEndpointAudiences(authority: String?) -> Set<String> {
        [tokenEndpoint(authority: authority), Self.tokenEndpoint(atOrigin: Self.hostOrigin(authority: authority))]
    }

    private static func hostOrigin(authority: String?) -> String {
        "http://\(authority ?? "localhost")"
    }

    private static func tokenEndpoint(atOrigin origin: String) -> String {
        "\(origin)/auth/token"
    }
}

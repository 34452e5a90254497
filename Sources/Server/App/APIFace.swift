/// Which face a path belongs to, decided in one place: errors, 401 challenges and 500s take
/// the shape of the face the request came to (an OperationOutcome under `/fhir`, an HTML page
/// under `/app` and at `/`, the platform's `{"error": …}` elsewhere), including for paths no
/// route matches.
enum APIFace: Sendable {
    case fhir
    case platform
    /// The web application's pages (`Sources/Server/Web`).
    case web

    /// The FHIR API's mount point.
    static let fhirPrefix = "fhir"
    /// The web application's mount point; `/` redirects into it.
    static let webPrefix = "app"

    init(path: String) {
        if path == "/\(Self.fhirPrefix)" || path.hasPrefix("/\(Self.fhirPrefix)/") {
            self = .fhir
        } else if path == "/" || path == "/\(Self.webPrefix)" || path.hasPrefix("/\(Self.webPrefix)/") {
            self = .web
        } else {
            self = .platform
        }
    }
}

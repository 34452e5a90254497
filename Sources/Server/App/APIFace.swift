/// Which face a path belongs to, decided in one place: errors, 401 challenges and 500s take
/// the shape of the face the request came to (an OperationOutcome under `/fhir`, the
/// platform's `{"error": …}` elsewhere), including for paths no route matches.
enum APIFace: Sendable {
    case fhir
    case platform

    /// The FHIR API's mount point.
    static let fhirPrefix = "fhir"

    init(path: String) {
        self = path == "/\(Self.fhirPrefix)" || path.hasPrefix("/\(Self.fhirPrefix)/") ? .fhir : .platform
    }
}

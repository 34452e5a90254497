import HTTPTypes

/// The platform API's routes, in one table: the controllers register exactly these, and a test
/// compares them with the published OpenAPI document.
enum PlatformRoutes {
    /// The collections and the FHIR type behind each.
    static let collections: [(path: String, resourceType: String)] = [
        ("patients", "Patient"), ("doctors", "Practitioner"), ("appointments", "Encounter"),
        ("medical-records", "Composition"), ("prescriptions", "MedicationRequest"), ("billings", "Claim"),
    ]

    /// The five operations of one collection, as OpenAPI paths (`/patients/{id}`).
    static func operations(of collection: String) -> [(method: HTTPRequest.Method, path: String)] {
        [
            (.get, "/\(collection)"), (.post, "/\(collection)"),
            (.get, "/\(collection)/{id}"), (.put, "/\(collection)/{id}"), (.delete, "/\(collection)/{id}"),
        ]
    }

    /// Every platform operation (30).
    static var all: [(method: HTTPRequest.Method, path: String)] {
        collections.flatMap { operations(of: $0.path) }
    }

    /// The methods a path outside `/fhir` answers, for a 405 with `Allow` when another method
    /// comes (nil for paths the platform does not serve).
    static func allowedMethods(for path: String) -> [HTTPRequest.Method]? {
        switch path {
        case "/auth/register", "/auth/login", "/auth/refresh", "/auth/logout", "/auth/password", "/auth/token": return [.post]
        case "/auth/me", "/openapi.json", "/docs": return [.get]
        default: break
        }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3, parts[0].isEmpty, collections.contains(where: { $0.path == parts[1] }) else {
            return nil
        }
        if parts.count == 2 { return [.get, .post] }
        return parts[2].isEmpty ? nil : [.get, .put, .delete]
    }

    /// How an error names a record of `resourceType`.
    static func noun(of resourceType: String) -> String {
        switch resourceType {
        case "Patient": "patient"
        case "Practitioner": "doctor"
        case "Encounter": "appointment"
        case "Composition": "medical record"
        case "MedicationRequest": "prescription"
        case "Claim": "billing"
        default: resourceType
        }
    }
}

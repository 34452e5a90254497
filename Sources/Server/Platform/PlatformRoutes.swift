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

import Logging
import PostgresNIO

/// Which of a practitioner's candidate patients they have a care relationship with.
struct CareRelationshipLookup: Sendable {
    let client: PostgresClient
    let logger: Logger

    func patients(of practitionerID: String, among candidates: Set<String>) async throws -> Set<String> {
        let list = Array(candidates)
        let rows = try await client.query(
            """
            SELECT DISTINCT patient_id FROM care_relationship
            WHERE practitioner_id = \(practitionerID) AND patient_id = ANY(\(list)::text[])
            """, logger: logger)
        var result = Set<String>()
        for try await patient in rows.decode(String.self) { result.insert(patient) }
        return result
    }
}

import Logging
import PostgresNIO
import Synchronization

/// Which of a practitioner's candidate patients they have a care relationship with.
struct CareRelationshipLookup: Sendable {
    let client: PostgresClient
    let logger: Logger
    /// How many lookups this value (and its copies) has run: a search asks once per page, not
    /// once per result, and the tests hold it to that.
    let lookups = LookupCount()

    final class LookupCount: Sendable {
        private let count = Atomic<Int>(0)
        var value: Int { count.load(ordering: .relaxed) }
        func increment() { count.add(1, ordering: .relaxed) }
    }

    func patients(of practitionerID: String, among candidates: Set<String>) async throws -> Set<String> {
        lookups.increment()
        let list = Array(candidates)
        let rows = try await client.rows(
            """
            SELECT DISTINCT patient_id FROM care_relationship
            WHERE practitioner_id = \(practitionerID) AND patient_id = ANY(\(list)::text[])
            """, logger: logger)
        var result = Set<String>()
        for try await patient in rows.decode(String.self) { result.insert(patient) }
        return result
    }
}

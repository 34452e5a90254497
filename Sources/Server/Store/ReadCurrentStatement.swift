import Foundation
import PostgresNIO

/// The read of one current resource, the hottest query: prepared once per connection so
/// PostgreSQL skips parsing and planning on every request. For a doctor's read it also returns
/// which of the resource's patients the practitioner cares for, so authorizing the read costs
/// no second round trip.
struct ReadCurrentStatement: PostgresPreparedStatement {
    static let sql = """
        SELECT r.version_id, r.last_updated, r.deleted, r.content::text, encode(r.sealed, 'base64'), r.key_id,
            CASE WHEN $3::text IS NULL THEN NULL ELSE ARRAY(
                SELECT DISTINCT c.patient_id FROM resource_patient p
                JOIN care_relationship c ON c.patient_id = p.patient_id AND c.practitioner_id = $3::text
                WHERE p.resource_key = r.resource_key) END
        FROM resource r WHERE r.type = $1 AND r.id = $2
        """
    typealias Row = (Int, Date, Bool, String?, String?, String?, [String]?)

    let type: String
    let id: String
    var practitionerID: String? = nil

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 3)
        bindings.append(type)
        bindings.append(id)
        bindings.append(practitionerID)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(Row.self)
    }
}

import Foundation
import PostgresNIO

/// The read of one current resource, the hottest query: prepared once per connection so
/// PostgreSQL skips parsing and planning on every request. For a doctor's read it also returns
/// which of the resource's patients the practitioner cares for, so authorizing the read costs
/// no second round trip.
struct ReadCurrentStatement: PostgresPreparedStatement {
    /// A constant name: postgres-nio's default derives it with `String(reflecting:)` on every
    /// execution (~1 % of a read's CPU in a profile).
    static let name = "medrec_read_current"

    /// Always one row: the token check's answer (`TokenCheck.answerColumns`: the epoch, then
    /// NULLs when the epoch did not move or the check failed), the resource's columns (NULLs
    /// when there is no such resource; `sealed` as bytea, no base64 round trip), the
    /// practitioner's patients among the resource's, and the resource's compartment (written
    /// with it; NULL when written by an older index version), so that deciding access needs
    /// neither another query nor parsing the resource. The compartment is read once and the
    /// care relationships probed by its patients (`patient_id = ANY`), not by a join and a sort.
    static let sql = """
        WITH \(TokenCheck.withClause(firstParameter: 4))
        SELECT \(TokenCheck.answerColumns),
            r.version_id, r.last_updated, r.deleted, r.content::text, r.sealed, r.key_id,
            CASE WHEN $3::text IS NULL OR cp.patients IS NULL THEN NULL ELSE ARRAY(
                SELECT c.patient_id FROM care_relationship c
                WHERE c.practitioner_id = $3::text AND c.patient_id = ANY(cp.patients)) END,
            \(AccessIndex.currentCompartmentSQL(of: "r", patients: "cp.patients"))
        FROM (SELECT 1) AS one LEFT JOIN resource r ON r.type = $1 AND r.id = $2
        LEFT JOIN LATERAL (SELECT \(AccessIndex.patientsSQL(of: "r")) AS patients) cp
            ON r.resource_key IS NOT NULL
        """
    typealias Row = (Int64?, String?, String?, Date?, Int?, Date?, Bool?, String?, ByteBuffer?, String?, [String]?, [String]?)

    let type: String
    let id: String
    var practitionerID: String? = nil
    var check: TokenCheck? = nil

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 8)
        bindings.append(type)
        bindings.append(id)
        bindings.append(practitionerID)
        TokenCheck.appendBindings(check, to: &bindings)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(Row.self)
    }
}

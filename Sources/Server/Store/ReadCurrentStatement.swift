import Foundation
import PostgresNIO

/// The read of one current resource, the hottest query: prepared once per connection so
/// PostgreSQL skips parsing and planning on every request. For a doctor's read it also returns
/// which of the resource's patients the practitioner cares for, so authorizing the read costs
/// no second round trip.
struct ReadCurrentStatement: PostgresPreparedStatement {
    /// Always one row: the token check's answer (NULLs when none was asked or it failed), the
    /// resource's columns (NULLs when there is no such resource), the practitioner's patients
    /// among the resource's, and the resource's compartment (written with it), so that deciding
    /// access needs neither another query nor parsing the resource.
    static let sql = """
        WITH auth AS (
            SELECT u.role, u.fhir_user FROM auth_session s JOIN app_user u ON u.id = s.user_id
            WHERE s.id = $4::text AND u.id = $5::text AND s.revoked_at IS NULL AND s.expires_at > now()
                AND u.status = 'active' AND NOT EXISTS (SELECT 1 FROM revoked_access_token x WHERE x.jti = $6::text)
            UNION ALL
            SELECT 'system', NULL FROM system_client c
            WHERE c.id = $7::text AND c.revoked_at IS NULL
                AND NOT EXISTS (SELECT 1 FROM revoked_access_token x WHERE x.jti = $6::text)
        )
        SELECT (SELECT role FROM auth LIMIT 1), (SELECT fhir_user FROM auth LIMIT 1),
            r.version_id, r.last_updated, r.deleted, r.content::text, encode(r.sealed, 'base64'), r.key_id,
            CASE WHEN $3::text IS NULL OR r.resource_key IS NULL THEN NULL ELSE ARRAY(
                SELECT DISTINCT c.patient_id FROM resource_patient p
                JOIN care_relationship c ON c.patient_id = p.patient_id AND c.practitioner_id = $3::text
                WHERE p.resource_key = r.resource_key) END,
            CASE WHEN r.resource_key IS NULL OR r.index_version < \(AccessIndex.version) THEN NULL
                ELSE ARRAY(SELECT p.patient_id FROM resource_patient p WHERE p.resource_key = r.resource_key) END
        FROM (SELECT 1) AS one LEFT JOIN resource r ON r.type = $1 AND r.id = $2
        """
    typealias Row = (String?, String?, Int?, Date?, Bool?, String?, String?, String?, [String]?, [String]?)

    let type: String
    let id: String
    var practitionerID: String? = nil
    var check: TokenCheck? = nil

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 7)
        bindings.append(type)
        bindings.append(id)
        bindings.append(practitionerID)
        var sessionID: String?
        var userID: String?
        var clientID: String?
        switch check?.subject {
        case .user(let id, let session):
            userID = id
            sessionID = session
        case .client(let id):
            clientID = id
        case nil:
            break
        }
        bindings.append(sessionID)
        bindings.append(userID)
        bindings.append(check?.tokenID)
        bindings.append(clientID)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(Row.self)
    }
}

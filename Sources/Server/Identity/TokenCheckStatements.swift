import Foundation
import PostgresNIO

/// The per-request revocation checks, prepared once per connection: every authenticated
/// request runs one of them, so PostgreSQL should not parse and plan it each time.
struct ActiveUserStatement: PostgresPreparedStatement {
    static let sql = """
        SELECT u.id, u.role, u.fhir_user FROM auth_session s JOIN app_user u ON u.id = s.user_id
        WHERE s.id = $1 AND u.id = $2 AND s.revoked_at IS NULL AND s.expires_at > now() AND u.status = 'active'
            AND NOT EXISTS (SELECT 1 FROM revoked_access_token r WHERE r.jti = $3)
        """
    typealias Row = (String, String, String?)

    let sessionID: String
    let userID: String
    let tokenID: String

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 3)
        bindings.append(sessionID)
        bindings.append(userID)
        bindings.append(tokenID)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(Row.self)
    }
}

struct ActiveClientStatement: PostgresPreparedStatement {
    static let sql = """
        SELECT c.id FROM system_client c WHERE c.id = $1 AND c.revoked_at IS NULL
            AND NOT EXISTS (SELECT 1 FROM revoked_access_token r WHERE r.jti = $2)
        """
    typealias Row = String

    let clientID: String
    let tokenID: String

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 2)
        bindings.append(clientID)
        bindings.append(tokenID)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(String.self)
    }
}

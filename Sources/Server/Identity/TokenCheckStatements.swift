import Foundation
import PostgresNIO

/// The per-request revocation check on its own (every authenticated request that is not a
/// record read, which carries the check in its own statement), prepared once per connection.
/// The same SQL as the read's (`TokenCheck.withClause`): one row with the current epoch and,
/// when the epoch moved since the token was last confirmed, the account's answer.
struct TokenConfirmStatement: PostgresPreparedStatement {
    static let name = "medrec_token_confirm"
    static let sql = "WITH \(TokenCheck.withClause(firstParameter: 1)) SELECT \(TokenCheck.answerColumns)"
    typealias Row = (Int64?, String?, String?, Date?)

    let check: TokenCheck

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 5)
        TokenCheck.appendBindings(check, to: &bindings)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(Row.self)
    }
}

/// Whether a system client is still registered and unrevoked (a bulk job's owner, checked at
/// every claim).
struct ActiveClientStatement: PostgresPreparedStatement {
    static let name = "medrec_active_client"
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

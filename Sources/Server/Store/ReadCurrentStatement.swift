import Foundation
import PostgresNIO

/// The read of one current resource, the hottest query: prepared once per connection so
/// PostgreSQL skips parsing and planning on every request.
struct ReadCurrentStatement: PostgresPreparedStatement {
    static let sql = """
        SELECT version_id, last_updated, deleted, content::text, encode(sealed, 'base64'), key_id
        FROM resource WHERE type = $1 AND id = $2
        """
    typealias Row = (Int, Date, Bool, String?, String?, String?)

    let type: String
    let id: String

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 2)
        bindings.append(type)
        bindings.append(id)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(Row.self)
    }
}

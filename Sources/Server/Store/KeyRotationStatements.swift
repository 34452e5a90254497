import PostgresNIO

/// The statements of `medrec keys status|rotate` (`KeyRotator`): the rows each key seals, the rows
/// left under other keys, and one batch's lock and re-sealed update. Kept with the store so the
/// store stays the only writer of SQL.
enum KeyRotationStatements {
    /// A table with sealed rows, named by the code (never by input), with its key column.
    enum Table: String, CaseIterable, Sendable {
        case current = "resource"
        case history = "resource_history"

        var keyColumn: String {
            switch self {
            case .current: "resource_key"
            case .history: "history_key"
            }
        }
    }

    /// `(key_id, rows)` of the table's sealed rows, one row per key id.
    static func countsByKey(in table: Table) -> PostgresQuery {
        "SELECT key_id, count(*)::bigint FROM \(unescaped: table.rawValue) WHERE sealed IS NOT NULL GROUP BY key_id ORDER BY key_id"
    }

    /// One row: whether anything is sealed under the keyring: a resource or history row, or an
    /// account (its email is a sealed box with a blind index).
    static let anySealedData: PostgresQuery = """
        SELECT EXISTS (SELECT 1 FROM resource WHERE sealed IS NOT NULL)
            OR EXISTS (SELECT 1 FROM resource_history WHERE sealed IS NOT NULL)
            OR EXISTS (SELECT 1 FROM app_user)
        """

    /// One row: how many sealed rows of both tables are under another key than `activeKeyID`.
    static func remaining(activeKeyID: String) -> PostgresQuery {
        """
        SELECT (SELECT count(*) FROM resource WHERE sealed IS NOT NULL AND key_id IS DISTINCT FROM \(activeKeyID))
             + (SELECT count(*) FROM resource_history WHERE sealed IS NOT NULL AND key_id IS DISTINCT FROM \(activeKeyID))
        """
    }

    /// Locks up to `limit` sealed rows under another key that no writer holds, returning
    /// `(key, type, id, version_id, content, sealed base64, key_id)`. Run inside a transaction.
    static func lockBatch(in table: Table, notUnder activeKeyID: String, limit: Int) -> PostgresQuery {
        """
        SELECT \(unescaped: table.keyColumn), type, id, version_id, content::text, encode(sealed, 'base64'), key_id
        FROM \(unescaped: table.rawValue) WHERE sealed IS NOT NULL AND key_id IS DISTINCT FROM \(activeKeyID)
        ORDER BY \(unescaped: table.keyColumn) LIMIT \(Int64(limit)) FOR UPDATE SKIP LOCKED
        """
    }

    /// Writes one row's re-sealed form: its clear content, its sealed bytes (base64, "" for none)
    /// and key id ("" for none).
    static func update(in table: Table, key: Int64, content: String, sealed: String, keyID: String) -> PostgresQuery {
        """
        UPDATE \(unescaped: table.rawValue) SET content = \(content)::jsonb, sealed = decode(NULLIF(\(sealed), ''), 'base64'),
            key_id = NULLIF(\(keyID), '')
        WHERE \(unescaped: table.keyColumn) = \(key)
        """
    }
}

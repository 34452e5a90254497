import Logging
import PostgresNIO

/// Queries on the pool that always give their connection back.
///
/// `PostgresClient.query` and `PostgresClient.execute` (postgres-nio 1.33.2) lease a connection
/// and release it when the returned row sequence finishes. When the statement fails before the
/// caller starts reading (a full disk's `could not extend file`, a lock timeout), the row stream is
/// already in its failure state when it is handed over, and that path of
/// `PSQLRowStream.asyncSequence(onFinish:)` never calls `onFinish`: the connection stays leased for
/// good. A dozen such failures took the whole pool, and the server stopped answering (found by
/// `scripts/fault-test.py --only disk`; also the hung requests of `scripts/crash-test.py` part B).
///
/// These run the statement inside `withConnection`, which releases the lease on every outcome,
/// and read the rows there. The rows come back in memory: every caller read them all anyway.
extension PostgresClient {
    func rows(_ query: PostgresQuery, logger: Logger) async throws -> FetchedRows<PostgresRow> {
        try await withConnection { connection in
            var rows: [PostgresRow] = []
            for try await row in try await connection.query(query, logger: logger) { rows.append(row) }
            return FetchedRows(rows)
        }
    }

    func rows<Statement: PostgresPreparedStatement>(
        _ statement: Statement, logger: Logger
    ) async throws -> FetchedRows<Statement.Row> where Statement.Row: Sendable {
        try await withConnection { connection in
            var rows: [Statement.Row] = []
            for try await row in try await connection.execute(statement, logger: logger) { rows.append(row) }
            return FetchedRows(rows)
        }
    }
}

extension PostgresConnection {
    /// The same shape on a connection the caller already holds (a transaction), so that code
    /// running on either reads alike.
    func rows(_ query: PostgresQuery, logger: Logger) async throws -> FetchedRows<PostgresRow> {
        var rows: [PostgresRow] = []
        for try await row in try await self.query(query, logger: logger) { rows.append(row) }
        return FetchedRows(rows)
    }
}

/// Rows already read, as an async sequence, so that callers keep `for try await … in rows` and
/// postgres-nio's `decode(_:)` (defined on any async sequence of `PostgresRow`).
struct FetchedRows<Element: Sendable>: AsyncSequence, Sendable {
    let elements: [Element]

    init(_ elements: [Element]) {
        self.elements = elements
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: IndexingIterator<[Element]>
        mutating func next() async throws -> Element? { base.next() }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: elements.makeIterator()) }
}

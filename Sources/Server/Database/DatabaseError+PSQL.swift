import PostgresNIO

extension DatabaseError {
    /// A one-line reason for a postgres-nio failure. `PSQLError`'s own description is deliberately
    /// generic; the server message and SQLSTATE are what an operator needs. Only used for
    /// connection and schema errors, whose messages carry no row data.
    static func reason(for error: any Error) -> String {
        if let error = error as? PSQLError {
            if let info = error.serverInfo, let message = info[.message] {
                let state = info[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
                return message + state
            }
            if let underlying = error.underlying {
                // NIO's connection errors nest every attempt; the errno text is what matters.
                let text = String(describing: underlying)
                for known in ["Connection refused", "No route to host", "Network is unreachable", "No such file or directory"]
                where text.contains(known) {
                    return known.lowercased()
                }
                return "\(error.code): \(text)"
            }
            return error.code.description
        }
        if let error = error as? PostgresTransactionError {
            if let inner = error.closureError ?? error.commitError ?? error.beginError {
                return reason(for: inner)
            }
        }
        return String(describing: error)
    }

    /// The SQLSTATE a server error carries, if any.
    static func sqlState(of error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }
}

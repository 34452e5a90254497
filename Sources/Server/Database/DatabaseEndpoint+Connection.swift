import Logging
import PostgresNIO

extension DatabaseEndpoint {
    /// Opens one dedicated connection for `body` and closes it afterwards.
    ///
    /// Used where a pool does not fit: migrations hold a session-level advisory lock, and
    /// administration (`CREATE DATABASE`) must not run in a transaction. Connecting gives up after
    /// `connectTimeout`, whatever stage (TCP, TLS, authentication) it is stuck in.
    @discardableResult
    public func withConnection<Result: Sendable>(
        logger: Logger,
        _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let connection = try await connect(logger: logger)
        do {
            let result = try await body(connection)
            try? await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// Fails within `connectTimeout` with a one-line error when the database cannot be used.
    public func checkReachable(logger: Logger) async throws(DatabaseError) {
        do {
            try await withConnection(logger: logger) { connection in
                _ = try await connection.query("SELECT 1", logger: logger)
            }
        } catch let error as DatabaseError {
            throw error
        } catch {
            throw DatabaseError(.unreachable, "database at \(displayLocation) is unreachable: \(DatabaseError.reason(for: error))")
        }
    }

    private func connect(logger: Logger) async throws -> PostgresConnection {
        let configuration = try connectionConfiguration()
        let timeout = connectTimeout
        let location = displayLocation
        return try await withThrowingTaskGroup(of: PostgresConnection?.self) { group in
            group.addTask {
                try await PostgresConnection.connect(
                    configuration: configuration, id: Int.random(in: 1...Int.max), logger: logger)
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            do {
                guard let first = try await group.next(), let connection = first else {
                    throw DatabaseError(.unreachable, "database at \(location) is unreachable: no connection within \(timeout)")
                }
                return connection
            } catch let error as DatabaseError {
                throw error
            } catch {
                throw DatabaseError(.unreachable, "database at \(location) is unreachable: \(DatabaseError.reason(for: error))")
            }
        }
    }
}

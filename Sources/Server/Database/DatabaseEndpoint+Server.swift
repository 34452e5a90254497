import PostgresNIO

extension DatabaseEndpoint {
    /// The pool configuration the server uses (and `Benchmarks/StackCeiling`, so that the
    /// benchmark's ceiling runs on the very same pool): every connection gets the per-statement
    /// timeout; size and keep-alive from `ServerSettings.DatabasePoolSettings`.
    public func clientConfiguration(
        statementTimeoutMilliseconds: Int, pool: ServerSettings.DatabasePoolSettings
    ) -> PostgresClient.Configuration {
        var configuration = clientConfiguration()
        configuration.options.additionalStartupParameters.append(("statement_timeout", "\(statementTimeoutMilliseconds)"))
        configuration.options.maximumConnections = pool.size
        // One, never more or less: see `DatabasePoolSettings` (postgres-nio 1.33.2 traps at a
        // database restart with a larger minimum, and strands a waiting request with none).
        configuration.options.minimumConnections = 1
        configuration.options.connectionIdleTimeout = ServerSettings.DatabasePoolSettings.idleTimeout
        configuration.options.keepAliveBehavior =
            pool.keepAliveSeconds > 0 ? .init(frequency: .seconds(pool.keepAliveSeconds)) : nil
        return configuration
    }
}

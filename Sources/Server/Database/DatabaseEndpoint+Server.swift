import PostgresNIO

extension DatabaseEndpoint {
    /// The pool configuration the server uses (and `Benchmarks/StackCeiling`, so that the
    /// benchmark's ceiling runs on the very same pool): every connection gets the per-statement
    /// timeout; size, warm minimum and keep-alive from `ServerSettings.DatabasePoolSettings`.
    public func clientConfiguration(
        statementTimeoutMilliseconds: Int, pool: ServerSettings.DatabasePoolSettings
    ) -> PostgresClient.Configuration {
        var configuration = clientConfiguration()
        configuration.options.additionalStartupParameters.append(("statement_timeout", "\(statementTimeoutMilliseconds)"))
        configuration.options.maximumConnections = pool.size
        configuration.options.minimumConnections = pool.minimum ?? pool.size
        configuration.options.keepAliveBehavior =
            pool.keepAliveSeconds > 0 ? .init(frequency: .seconds(pool.keepAliveSeconds)) : nil
        return configuration
    }
}

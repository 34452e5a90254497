import PostgresNIO

extension DatabaseEndpoint {
    /// The pool configuration the server uses: every connection gets the per-statement timeout.
    func clientConfiguration(statementTimeoutMilliseconds: Int) -> PostgresClient.Configuration {
        var configuration = clientConfiguration()
        configuration.options.additionalStartupParameters.append(("statement_timeout", "\(statementTimeoutMilliseconds)"))
        return configuration
    }
}

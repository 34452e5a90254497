/// Limits that bound what one request may cost. Refusals go out as OperationOutcome.
public struct ServerLimits: Sendable {
    /// Largest request body (413 past it). Synthea's largest bundle is about 2 MB.
    public var maxBodyBytes: Int
    /// Most entries in one batch or transaction Bundle.
    public var maxBundleEntries: Int
    /// Per-statement database timeout, in milliseconds.
    public var statementTimeoutMilliseconds: Int
    /// Largest `_count` a page may ask for.
    public var maxPageSize: Int

    public init(
        maxBodyBytes: Int = 32 << 20, maxBundleEntries: Int = 10_000,
        statementTimeoutMilliseconds: Int = 30_000, maxPageSize: Int = 1_000
    ) {
        self.maxBodyBytes = maxBodyBytes
        self.maxBundleEntries = maxBundleEntries
        self.statementTimeoutMilliseconds = statementTimeoutMilliseconds
        self.maxPageSize = maxPageSize
    }
}

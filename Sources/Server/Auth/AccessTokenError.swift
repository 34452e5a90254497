/// Why an access token was refused. `reason` is safe to log: it names the failed check, never the token or its claims.
public struct AccessTokenError: Error, Sendable, CustomStringConvertible {
    public let reason: String

    public init(_ reason: String) {
        self.reason = reason
    }

    public var description: String { "access token rejected: \(reason)" }
}

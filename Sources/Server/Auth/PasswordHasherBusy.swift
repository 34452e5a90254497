/// Too many password hashes are already queued: the caller should answer 503 (or 429) with `Retry-After` rather
/// than queue more work behind a login flood.
public struct PasswordHasherBusy: Error, Sendable, CustomStringConvertible {
    public init() {}

    public var description: String { "password hashing is saturated; retry later" }
}

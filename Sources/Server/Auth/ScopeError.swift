/// A scope string that cannot be granted as written, e.g. `patient/Foo.rs` or `user/*.rx`.
public struct ScopeError: Error, Sendable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

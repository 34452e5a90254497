/// A service refused an access it audited. How a face answers depends on `kind`: a denied
/// read must look like absence (the same 404 a missing record gets), a denied write is a 403.
/// The message names types and interactions only, never record content.
public struct AccessDenied: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Answer as if the record did not exist.
        case hidden
        /// Answer "forbidden".
        case forbidden
    }

    public let kind: Kind
    public let message: String
    /// The denial's audit record, until the service has stored it (after any transaction the
    /// denial rolled back); nil once audited.
    let record: AuditRecord?

    init(_ kind: Kind, _ message: String, record: AuditRecord? = nil) {
        self.kind = kind
        self.message = message
        self.record = record
    }

    public var description: String { message }

    /// The same denial, its record stored.
    var audited: AccessDenied { AccessDenied(kind, message) }
}

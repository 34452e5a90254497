/// A search the parser refuses: an unknown parameter under strict handling, a malformed value,
/// an unsupported modifier or sort. Names the parameter (cut to 64 characters), never its
/// value. Each face renders it once: a 400 OperationOutcome on the FHIR face, a `bad_parameter`
/// on the platform face.
public struct SearchQueryError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// The value or the combination is not valid.
        case invalid
        /// Valid FHIR, but not something this server searches by.
        case notSupported
    }

    public let code: Code
    public let message: String
    /// The parameter (`birthdate`, `_sort`), for the OperationOutcome's expression.
    public let parameter: String?

    init(_ code: Code, _ message: String, parameter: String?) {
        self.code = code
        self.message = message
        self.parameter = parameter.map { String($0.prefix(64)) }
    }

    public var description: String { message }
}

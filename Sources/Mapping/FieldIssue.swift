/// One invalid field of a request body: where (`address.postalCode`, `workSchedule[1].endTime`)
/// and what is wrong. Never quotes the value (it may be PHI).
public struct FieldIssue: Sendable, Equatable, CustomStringConvertible {
    public let field: String
    public let issue: String

    public init(field: String, issue: String) {
        self.field = field
        self.issue = issue
    }

    public var description: String { "\(field): \(issue)" }
}

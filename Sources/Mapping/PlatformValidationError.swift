/// A request body that does not make a valid platform model, with every bad field.
public struct PlatformValidationError: Error, Sendable, Equatable {
    public var issues: [FieldIssue]

    public init(_ issues: [FieldIssue]) {
        self.issues = issues
    }
}

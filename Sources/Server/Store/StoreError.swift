import FHIRModels

/// Why a store operation did not happen. Becomes an HTTP status and OperationOutcome only at the edge.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        case notFound
        /// The resource was deleted; carries the deletion's version.
        case gone(version: Int)
        /// `If-Match` named another version than the current one.
        case versionConflict(current: Int?)
        /// A conditional interaction matched more than one resource.
        case multipleMatches
        /// The resource failed validation; carries the issues.
        case invalid
        /// The request is not allowed in this state, e.g. an id that differs from the URL.
        case badRequest
        /// The database could not be reached or answered too slowly.
        case unavailable
        /// A database limit was hit (statement timeout).
        case timeout
        /// Stored data failed its integrity check (sealed elements did not open): fail closed.
        case integrity
    }

    public let code: Code
    public let message: String
    public let issues: [OutcomeIssue]

    public init(_ code: Code, _ message: String, issues: [OutcomeIssue] = []) {
        self.code = code
        self.message = message
        self.issues = issues
    }

    public var description: String { message }
}

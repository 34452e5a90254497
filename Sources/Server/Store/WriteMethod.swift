/// How a version came about, as history records it (`resource_history.method`) and history
/// Bundles report it (`entry.request.method`). Typed so the store receives an operation, not a
/// string a caller could misspell.
public enum WriteMethod: String, Sendable {
    /// A create (`POST`).
    case post = "POST"
    /// An update, or an update that created (`PUT`).
    case put = "PUT"
    case patch = "PATCH"
    case delete = "DELETE"
}

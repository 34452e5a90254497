/// The problems found while decoding one request body. Shared by the nested readers of that
/// body so that every bad field is reported at once, in the order met.
final class BodyIssues {
    private(set) var list: [FieldIssue] = []

    func report(_ field: String, _ issue: String) {
        list.append(FieldIssue(field: field, issue: issue))
    }

    /// Throws when anything was reported.
    func check() throws(PlatformValidationError) {
        if !list.isEmpty { throw PlatformValidationError(list) }
    }
}

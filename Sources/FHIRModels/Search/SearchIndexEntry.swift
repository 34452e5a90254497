/// One row of a resource's search index: a parameter code and one of its values.
public struct SearchIndexEntry: Sendable, Hashable {
    public let code: String
    public let value: SearchIndexValue

    public init(code: String, value: SearchIndexValue) {
        self.code = code
        self.value = value
    }
}

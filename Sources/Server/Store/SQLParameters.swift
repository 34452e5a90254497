import PostgresNIO

/// The bound values of one statement, in order. `bind` appends a value and returns its
/// placeholder (`$1`, `$2`, …), so statements written as text number their parameters by
/// construction and never by offset arithmetic, and fragments (the search index CTEs, the audit
/// insert) can be composed into larger statements.
struct SQLParameters: Sendable {
    private(set) var bindings = PostgresBindings()

    /// How many values are bound so far.
    var count: Int { bindings.count }

    init() {}

    /// Binds `value` and returns its placeholder.
    mutating func bind<Value: PostgresDynamicTypeEncodable>(_ value: Value) -> String {
        bindings.append(value)
        return "$\(bindings.count)"
    }

    /// The statement `text` with these values bound (the text's placeholders came from `bind`).
    func query(_ text: String) -> PostgresQuery {
        PostgresQuery(unsafeSQL: text, binds: bindings)
    }
}

import FHIRModels

/// Rewrites the entries of a FHIR list that a platform list maps (other telecoms,
/// qualifications, work schedules, record items) to a new platform list. Entries the platform
/// does not map keep their place; an entry whose platform value stays is reused as it is, so
/// its foreign details (use, period, extensions) survive; new values are appended in order.
enum ListRewrite {
    static func apply<Value: Equatable>(
        _ entries: [JSONValue],
        mapped: (Int, JSONValue) -> Value?,
        to newValues: [Value],
        make: (Value) -> JSONValue
    ) -> [JSONValue] {
        var result: [JSONValue] = []
        var reusable: [(value: Value, entry: JSONValue)] = []
        for (index, entry) in entries.enumerated() {
            if let value = mapped(index, entry) {
                reusable.append((value, entry))
            } else {
                result.append(entry)
            }
        }
        for value in newValues {
            if let match = reusable.firstIndex(where: { $0.value == value }) {
                result.append(reusable.remove(at: match).entry)
            } else {
                result.append(make(value))
            }
        }
        return result
    }
}

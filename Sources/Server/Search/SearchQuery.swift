import Foundation

/// A whole search request, parsed: what to match (AND-ed conditions per resource type), how to
/// order and page, what to include, and which parameters were not understood.
public struct SearchQuery: Sendable {
    /// The types searched, each with its own conditions (the parameter hashes differ per type).
    var targets: [Target]
    /// For a system search without `_type`: every type, conditions on the resource row only.
    var anyType = false
    /// Conditions that hold for every type (`_id`, `_lastUpdated`, the caller's compartment).
    var common: [SearchCondition] = []
    var sort: [SortKey] = []
    var count: Int
    var total: Total = .none
    var summary: Summary? = nil
    var elements: [String]? = nil
    var includes: [Include] = []
    var revincludes: [Include] = []
    var cursor: SearchCursor? = nil
    /// Parameters ignored because they are unknown or unsupported (reported in the Bundle).
    var ignored: [String] = []

    /// One searched type and its AND-ed conditions.
    struct Target: Sendable {
        var type: String
        var conditions: [SearchCondition]
    }

    init(targets: [Target], count: Int) {
        self.targets = targets
        self.count = count
    }

    enum Total: String, Sendable { case none, estimate, accurate }
    enum Summary: String, Sendable { case `true`, text, data, count, `false` }

    /// One `_sort` key: a parameter of a sortable kind, or a resource-row column.
    struct SortKey: Sendable {
        enum Source: Sendable {
            case lastUpdated
            case id
            /// Minimum (ascending) or maximum (descending) of the parameter's rows in `table`.
            case index(table: String, ascendingColumn: String, descendingColumn: String, params: [Int64])
        }
        var code: String
        var source: Source
        var descending: Bool
    }

    /// `_include`/`_revinclude`: `sourceType:param[:targetType]`, `:iterate` for one more level.
    public struct Include: Sendable {
        var sourceType: String
        var paramCode: String
        var param: Int64
        var targetType: String?
        var iterate: Bool
        /// The text as given, for the self link.
        var text: String
    }

    var types: [String] { targets.map(\.type) }
}

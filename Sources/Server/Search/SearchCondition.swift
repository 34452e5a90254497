import Foundation

/// One AND-ed condition of a search, parsed and typed; its values are OR-ed. Compiled to SQL
/// by `SearchSQL`, where every value becomes a bound parameter.
indirect enum SearchCondition: Sendable {
    /// `_id`.
    case ids([String], negated: Bool)
    /// `_lastUpdated`: tests against the resource row's own timestamp.
    case lastUpdated([DateTest])
    /// Token hashes (`SearchTokenHash`) of the parameter: any of them matches; `negated` is `:not`.
    case token(TokenHashes, negated: Bool)
    /// Folded-string matches in `search_string` for `param` (strings, and token `:text`).
    case string(param: Int64, [StringMatch])
    case date(param: Int64, [DateTest])
    /// Repeated single-value date tests of one parameter (`date=ge2015&date=lt2016`), to hold on
    /// the same index row, so the range is one bounded index scan.
    case dateRange(param: Int64, [DateTest])
    case number(param: Int64, [NumberTest])
    case quantity(param: Int64, [QuantityTest])
    case reference(param: Int64, [ReferenceTarget])
    case uri(param: Int64, [URIMatch])
    /// `:missing`: `missing` true means no index row of the parameter in any of `rows`.
    case missing([IndexRows], missing: Bool)
    /// `subject:Patient.name=x`: some reference of `param` points at a resource satisfying the
    /// condition for its type.
    case chain(param: Int64, targets: [ChainTarget])
    /// `_has:Observation:patient:code=x`: some `sourceType` resource, satisfying `condition`,
    /// references this one through `param`.
    case reverseChain(sourceType: String, param: Int64, condition: SearchCondition)
    /// Resources in any of these patients' compartments (`resource_patient`).
    case compartment(patients: [String])
    /// Resources a doctor may see without break-glass: every patient whose compartment holds
    /// the resource is one `practitioner` cares for (`care_relationship`); resources outside
    /// every compartment pass. The same rule `AccessControl` applies per resource, in SQL, so a
    /// doctor's pages are full and `_total` counts what they may see.
    case caredFor(practitioner: String)
    /// Sealed `email`/`phone`: blind-index HMACs (base64) of the parameter.
    case blind(param: String, hashes: [String])
    /// A token and a date condition of a pair in `SearchIndexRows.compositeDatePairs` (built by
    /// `SearchSQL`, not the parser): the composite `search_date` rows under `composite` (one key
    /// per `system|code`) that satisfy `date`, plus the rows of `type` indexed before composite
    /// rows existed that satisfy both `token` and `date`.
    case tokenDate(type: String, composite: [Int64], token: SearchCondition, date: SearchCondition)
    /// Never matches (a value that can match nothing, such as a reference to another server).
    case none

    /// The index rows of one parameter: a table and the parameter's key.
    struct IndexRows: Sendable {
        var table: String
        var param: Int64
    }

    /// One type a chained reference may point to, and the condition on it.
    struct ChainTarget: Sendable {
        var type: String
        var condition: SearchCondition
    }

    struct TokenHashes: Sendable {
        var param: Int64
        var systemCodes: [Int64] = []
        var codes: [Int64] = []
        var systems: [Int64] = []
    }

    enum Prefix: String, Sendable, CaseIterable {
        case eq, ne, gt, lt, ge, le, sa, eb, ap
    }

    /// A date query value as the span it covers, with its prefix.
    struct DateTest: Sendable {
        var prefix: Prefix
        var low: Date
        var high: Date
    }

    struct StringMatch: Sendable {
        enum Kind: Sendable { case startsWith, exact, contains }
        var kind: Kind
        /// Folded for `startsWith`/`contains`; as written for `exact`.
        var value: String
    }

    /// A number with its implied precision: `100` covers [99.5, 100.5).
    struct NumberTest: Sendable {
        var prefix: Prefix
        var value: Decimal
        var low: Decimal
        var high: Decimal
    }

    struct QuantityTest: Sendable {
        var number: NumberTest
        var system: String?
        var code: String?
    }

    struct ReferenceTarget: Sendable {
        /// Types the id may have (from `Type/id`, `:Type`, or the parameter's targets); empty: any.
        var types: [String]
        var id: String?
        /// An absolute or canonical URL matched as written.
        var url: String?
    }

    struct URIMatch: Sendable {
        enum Kind: Sendable { case exact, below, above }
        var kind: Kind
        var value: String
    }
}

import Foundation

/// One indexable value of a search parameter, already in the form a query compares against:
/// strings folded, dates as ranges, references split into type and id.
public enum SearchIndexValue: Sendable, Hashable {
    /// `Coding`, each coding of a `CodeableConcept` (its `text` as a separate display-only
    /// value, for `:text`), `Identifier` (system, value), `ContactPoint` (its `system` code,
    /// value), and `code`/`boolean`/`string`/`uri`/`id` primitives as a code without system.
    case token(system: String?, code: String?, display: String?)
    /// `normalized` is `SearchIndexValue.normalizedString(exact)`, for the default
    /// starts-with/contains matching; `exact` is the text as written, for `:exact`.
    case string(normalized: String, exact: String)
    /// Inclusive `low`, exclusive `high`: the whole span the (possibly partial) value covers.
    /// See `SearchIndexValue.dateRange(_:)` for precision and dates without a time zone.
    case date(low: Date, high: Date)
    /// `Patient/123` is (Patient, 123, nil); an absolute URL ending in `Type/id` keeps the URL
    /// too; anything else (contained `#id`, `urn:uuid:`, canonicals) is kept as `url` only.
    case reference(type: String?, id: String?, url: String?)
    /// The value only: FHIR applies the implied precision range to the query's value, not to
    /// the stored one.
    case number(Decimal)
    /// `Quantity` and its profiles (`Age`, `Duration`, ...); `Money` with its currency as code
    /// and system `urn:iso:std:iso:4217`.
    case quantity(value: Decimal, system: String?, code: String?, unit: String?)
    case uri(String)
}

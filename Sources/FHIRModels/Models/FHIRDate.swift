import Foundation

/// A FHIR `date`: a year, a year and month, or a full date, with no time and no zone.
///
/// The string is kept exactly as written, so `1974` stays a year and `1974-12` a month.
/// Equality compares that text.
public struct FHIRDate: FHIRPrimitiveValue, LosslessStringConvertible {
    public enum Precision: Int, Sendable, Hashable, Comparable {
        case year, month, day

        public static func < (lhs: Precision, rhs: Precision) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// The exact text, as read or written.
    public let lexicalForm: String
    public let precision: Precision

    /// Reads a `date` string; `nil` when it is not one.
    public init?(_ description: String) {
        guard let parts = FHIRTemporalLexer.dateTime(description), parts.precision <= .day else { return nil }
        lexicalForm = description
        switch parts.precision {
        case .year: precision = .year
        case .month: precision = .month
        default: precision = .day
        }
    }

    /// A date of the given precision: pass `month` for month precision, `month` and `day`
    /// for a full date. `nil` when out of range (year 1...9999, month 1...12, day 1...31).
    public init?(year: Int, month: Int? = nil, day: Int? = nil) {
        guard (1...9999).contains(year), day == nil || month != nil else { return nil }
        var text = String(format: "%04d", year)
        if let month { text += String(format: "-%02d", month) }
        if let day { text += String(format: "-%02d", day) }
        self.init(text)
    }

    /// The calendar day of `date` in `timeZone`.
    public init(_ date: Date, timeZone: TimeZone = .gmt) {
        let text = FHIRTemporalLexer.format(date, timeZone: timeZone, includeTime: false, fractionalSeconds: false)
        self.init(text)!  // format writes a valid date
    }

    public var description: String { lexicalForm }

    public var year: Int { FHIRTemporalLexer.integer(in: lexicalForm, at: 0, digits: 4) }
    public var month: Int? { precision >= .month ? FHIRTemporalLexer.integer(in: lexicalForm, at: 5, digits: 2) : nil }
    public var day: Int? { precision >= .day ? FHIRTemporalLexer.integer(in: lexicalForm, at: 8, digits: 2) : nil }

    /// The first instant of the period (`1974` is 1974-01-01T00:00) in `timeZone`.
    public func date(in timeZone: TimeZone = .gmt) -> Date? {
        var components = DateComponents()
        components.year = year
        components.month = month ?? 1
        components.day = day ?? 1
        return FHIRTemporalLexer.calendar(in: timeZone).date(from: components)
    }

    public init(fhirJSON json: JSONValue) throws(FHIRFormatError) {
        guard case .string(let string) = json else {
            throw FHIRFormatError(.wrongType, "Expected a JSON string")
        }
        guard let value = FHIRDate(string) else {
            throw FHIRFormatError(.wrongType, "Not a valid FHIR date")
        }
        self = value
    }

    public var fhirJSON: JSONValue { .string(lexicalForm) }
}

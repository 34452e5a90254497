import Foundation

/// A FHIR `dateTime`: a year, year-month, date, or date and time, possibly with a zone.
///
/// The string is kept exactly as written (`2015-02-07T13:28:17.239+02:00` stays so, `1974`
/// stays a year), because precision is meaning in FHIR: `1974` is the whole year, not its
/// first instant. Equality compares that text.
public struct FHIRDateTime: FHIRPrimitiveValue, LosslessStringConvertible {
    /// How much of the date-time is given. `minute` (no seconds) is tolerated on input.
    public enum Precision: Int, Sendable, Hashable, Comparable {
        case year, month, day, minute, second, fractionalSecond

        public static func < (lhs: Precision, rhs: Precision) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// The exact text, as read or written.
    public let lexicalForm: String
    public let precision: Precision
    /// Where the zone designator starts in the text, if there is one.
    private let zoneStart: Int?

    /// Reads a `dateTime` string; `nil` when it is not one.
    public init?(_ description: String) {
        guard let parts = FHIRTemporalLexer.dateTime(description) else { return nil }
        lexicalForm = description
        precision = parts.precision
        zoneStart = parts.zoneStart
    }

    /// The instant `date` to the second (or millisecond), written in `timeZone`.
    public init(_ date: Date, timeZone: TimeZone = .gmt, includesFractionalSeconds: Bool = false) {
        let text = FHIRTemporalLexer.format(
            date, timeZone: timeZone, includeTime: true, fractionalSeconds: includesFractionalSeconds)
        self.init(text)!  // format writes a valid dateTime
    }

    public var description: String { lexicalForm }

    public var year: Int { FHIRTemporalLexer.integer(in: lexicalForm, at: 0, digits: 4) }
    public var month: Int? { precision >= .month ? FHIRTemporalLexer.integer(in: lexicalForm, at: 5, digits: 2) : nil }
    public var day: Int? { precision >= .day ? FHIRTemporalLexer.integer(in: lexicalForm, at: 8, digits: 2) : nil }
    public var hour: Int? { precision >= .minute ? FHIRTemporalLexer.integer(in: lexicalForm, at: 11, digits: 2) : nil }
    public var minute: Int? { precision >= .minute ? FHIRTemporalLexer.integer(in: lexicalForm, at: 14, digits: 2) : nil }
    public var second: Int? { precision >= .second ? FHIRTemporalLexer.integer(in: lexicalForm, at: 17, digits: 2) : nil }

    /// Seconds east of UTC, when the text has a zone (`Z` is 0).
    public var timeZoneOffset: Int? {
        zoneStart.map { FHIRTemporalLexer.zoneOffset(in: lexicalForm, at: $0) }
    }

    /// The first instant the value covers (`1974` is 1974-01-01T00:00:00). A value without
    /// a zone is taken as UTC.
    public var date: Date? {
        let zone = TimeZone(secondsFromGMT: timeZoneOffset ?? 0) ?? .gmt
        var components = DateComponents()
        components.year = year
        components.month = month ?? 1
        components.day = day ?? 1
        components.hour = hour ?? 0
        components.minute = minute ?? 0
        components.second = second ?? 0
        guard let whole = FHIRTemporalLexer.calendar(in: zone).date(from: components) else { return nil }
        guard precision == .fractionalSecond else { return whole }
        return whole.addingTimeInterval(FHIRTemporalLexer.fraction(in: lexicalForm, at: 19))
    }

    public init(fhirJSON json: JSONValue) throws(FHIRFormatError) {
        guard case .string(let string) = json else {
            throw FHIRFormatError(.wrongType, "Expected a JSON string")
        }
        guard let value = FHIRDateTime(string) else {
            throw FHIRFormatError(.wrongType, "Not a valid FHIR dateTime")
        }
        self = value
    }

    public var fhirJSON: JSONValue { .string(lexicalForm) }
}

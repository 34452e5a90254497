import Foundation

/// A FHIR `instant`: a full date and time to the second or finer, with a zone
/// (`meta.lastUpdated`, `Bundle.timestamp`). The text is kept exactly as written.
public struct FHIRInstant: FHIRPrimitiveValue, LosslessStringConvertible {
    /// The exact text, as read or written.
    public let lexicalForm: String
    private let dateTime: FHIRDateTime

    /// Reads an `instant` string; `nil` when it is not one (seconds and zone are required).
    public init?(_ description: String) {
        guard let dateTime = FHIRDateTime(description), dateTime.precision >= .second,
              dateTime.timeZoneOffset != nil else { return nil }
        lexicalForm = description
        self.dateTime = dateTime
    }

    /// `date` in UTC (`Z`), to the millisecond unless `includesFractionalSeconds` is false.
    public init(_ date: Date, includesFractionalSeconds: Bool = true) {
        let text = FHIRTemporalLexer.format(
            date, timeZone: .gmt, includeTime: true, fractionalSeconds: includesFractionalSeconds)
        self.init(text)!  // format writes a valid instant
    }

    public var description: String { lexicalForm }

    /// Whether fractional seconds are given.
    public var hasFractionalSeconds: Bool { dateTime.precision == .fractionalSecond }

    /// Seconds east of UTC of the zone written in the text.
    public var timeZoneOffset: Int { dateTime.timeZoneOffset ?? 0 }

    public var date: Date {
        dateTime.date ?? Date(timeIntervalSince1970: 0)  // a checked instant always converts
    }

    public init(fhirJSON json: JSONValue) throws(FHIRFormatError) {
        guard case .string(let string) = json else {
            throw FHIRFormatError(.wrongType, "Expected a JSON string")
        }
        guard let value = FHIRInstant(string) else {
            throw FHIRFormatError(.wrongType, "Not a valid FHIR instant")
        }
        self = value
    }

    public var fhirJSON: JSONValue { .string(lexicalForm) }

    public static func == (lhs: FHIRInstant, rhs: FHIRInstant) -> Bool { lhs.lexicalForm == rhs.lexicalForm }

    public func hash(into hasher: inout Hasher) { hasher.combine(lexicalForm) }
}

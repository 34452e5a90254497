import Foundation

/// A FHIR `time` of day, `hh:mm:ss` with optional fractional seconds and no zone. The text is
/// kept exactly as written.
public struct FHIRTime: FHIRPrimitiveValue, LosslessStringConvertible {
    /// The exact text, as read or written.
    public let lexicalForm: String

    /// Reads a `time` string; `nil` when it is not one.
    public init?(_ description: String) {
        guard FHIRTemporalLexer.isTime(description) else { return nil }
        lexicalForm = description
    }

    /// `nil` when out of range (hour 0...23, minute 0...59, second 0...59).
    public init?(hour: Int, minute: Int, second: Int = 0) {
        guard (0...23).contains(hour), (0...59).contains(minute), (0...59).contains(second) else { return nil }
        self.init(String(format: "%02d:%02d:%02d", hour, minute, second))
    }

    public var description: String { lexicalForm }

    public var hour: Int { FHIRTemporalLexer.integer(in: lexicalForm, at: 0, digits: 2) }
    public var minute: Int { FHIRTemporalLexer.integer(in: lexicalForm, at: 3, digits: 2) }
    public var second: Int { FHIRTemporalLexer.integer(in: lexicalForm, at: 6, digits: 2) }

    /// Whether fractional seconds are given.
    public var hasFractionalSeconds: Bool { lexicalForm.utf8.count > 8 }

    public init(fhirJSON json: JSONValue) throws(FHIRFormatError) {
        guard case .string(let string) = json else {
            throw FHIRFormatError(.wrongType, "Expected a JSON string")
        }
        guard let value = FHIRTime(string) else {
            throw FHIRFormatError(.wrongType, "Not a valid FHIR time")
        }
        self = value
    }

    public var fhirJSON: JSONValue { .string(lexicalForm) }
}

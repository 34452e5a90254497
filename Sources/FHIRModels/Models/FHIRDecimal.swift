import Foundation

/// A FHIR `decimal`, kept in its lexical form: `1.50` stays `1.50`, because trailing zeros
/// state precision in FHIR. Equality compares that text (`1.5` and `1.50` differ); compare
/// `decimal` for numeric equality.
public struct FHIRDecimal: FHIRPrimitiveValue, LosslessStringConvertible {
    /// The exact text, as read or written.
    public let lexicalForm: String

    /// Reads a JSON number's text (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`);
    /// `nil` when it is not one.
    public init?(_ description: String) {
        guard Self.isDecimal(description) else { return nil }
        lexicalForm = description
    }

    /// The decimal in plain notation; `nil` for NaN.
    public init?(_ decimal: Decimal) {
        guard !decimal.isNaN else { return nil }
        self.init(decimal.description)
    }

    public init(_ integer: Int) {
        lexicalForm = String(integer)
    }

    public var description: String { lexicalForm }

    /// The value as a Foundation `Decimal`; NaN when it is outside `Decimal`'s range
    /// (an exponent beyond about ±127).
    public var decimal: Decimal {
        Decimal(string: lexicalForm, locale: Locale(identifier: "en_US_POSIX")) ?? .nan
    }

    public init(fhirJSON json: JSONValue) throws(FHIRFormatError) {
        guard case .number(let lexical) = json else {
            throw FHIRFormatError(.wrongType, "Expected a JSON number")
        }
        guard let value = FHIRDecimal(lexical) else {
            throw FHIRFormatError(.wrongType, "Not a valid FHIR decimal")
        }
        self = value
    }

    public var fhirJSON: JSONValue { .number(lexicalForm) }

    private static func isDecimal(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        var index = 0
        func digits() -> Int {
            let start = index
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
            return index - start
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        let integerStart = index
        let integerDigits = digits()
        guard integerDigits > 0, integerDigits == 1 || bytes[integerStart] != UInt8(ascii: "0") else { return false }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { return false }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { return false }
        }
        return index == bytes.count
    }
}

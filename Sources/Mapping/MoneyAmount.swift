import FHIRModels
import Foundation

/// An amount of money on the platform face: `{"value": "150.00", "currency": "USD"}`. The value
/// stays a decimal string (never a binary floating-point number) and is compared exactly as a
/// `Decimal`. Named `MoneyAmount` because FHIRModels already has the FHIR datatype `Money`.
public struct MoneyAmount: Sendable, Equatable {
    /// Decimal string, as written: `150.00` and `150` are different texts of the same amount.
    public var value: String
    /// ISO 4217 code; may be absent on a FHIR Money written by another system.
    public var currency: String?

    public init(value: String, currency: String?) {
        self.value = value
        self.currency = currency
    }

    /// The exact amount, when `value` is a decimal.
    public var decimal: Decimal? {
        PlatformFormat.decimal(value)
    }

    var json: JSONValue {
        var object: JSONObject = ["value": .string(value)]
        object.setString("currency", currency)
        return .object(object)
    }

    /// FHIR Money: the same decimal, as a JSON number.
    var fhir: JSONValue {
        var object: JSONObject = ["value": .number(value)]
        object.setString("currency", currency)
        return .object(object)
    }

    /// A FHIR Money with a value; nil without one.
    init?(fhir: JSONValue?) {
        guard let value = fhir?["value"]?.numberLexical else { return nil }
        self.init(value: value, currency: fhir?["currency"]?.stringValue)
    }
}

extension BodyReader {
    /// A money object: `value` a non-negative decimal string, `currency` three upper-case letters.
    func money(_ key: String, required: Bool) -> MoneyAmount? {
        guard let reader = object(key, required: required, accepted: ["value", "currency"]) else { return nil }
        var value: String?
        switch reader.object["value"] {
        case nil, .null?:
            reader.report("value", "is required")
        case .string(let text)? where text.trimmingCharacters(in: .whitespaces).hasPrefix("-"),
             .number(let text)? where text.hasPrefix("-"):
            reader.report("value", "must not be negative")
        case .string(let text)?:
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if PlatformFormat.isMoneyValue(trimmed) {
                value = trimmed
            } else {
                reader.report("value", "must be a decimal string with up to 12 digits, no leading zero, and up to 4 decimals")
            }
        default:
            reader.report("value", "must be a decimal string (a JSON string, not a number)")
        }
        let currency = reader.formatted("currency", required: true, rule: "must be an ISO 4217 code of 3 upper-case letters") {
            PlatformFormat.isCurrency($0) ? $0 : nil
        }
        guard let value, let currency else { return nil }
        return MoneyAmount(value: value, currency: currency)
    }
}

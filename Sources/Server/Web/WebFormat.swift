import FHIRModels
import Foundation
import Mapping

/// Values formatted for people, the same on every page: dates as "5 Dec 2026", times in UTC
/// with the zone said, money with its currency, names as "Given Family". FHIR's own forms
/// (partial dates, zoneless times) are shown at the precision they have, never invented.
enum WebFormat {
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// A FHIR date or dateTime as a date: "2026", "Dec 2026", "5 Dec 2026".
    static func date(_ text: String?) -> String? {
        guard let text, text.count >= 4 else { return nil }
        let parts = text.prefix(10).split(separator: "-")
        guard let year = parts.first, year.count == 4 else { return text }
        guard parts.count >= 2, let month = Int(parts[1]), (1...12).contains(month) else { return String(year) }
        guard parts.count >= 3, let day = Int(parts[2]) else { return "\(months[month - 1]) \(year)" }
        return "\(day) \(months[month - 1]) \(year)"
    }

    /// A FHIR dateTime with its time: "5 Dec 2026, 14:30 UTC" (converted to UTC when it has a
    /// zone; a date alone, or a time without a zone, which FHIR leaves unknown, stays a date).
    /// Parsed and printed by hand: a chart formats hundreds of these per page, and Foundation's
    /// ISO8601DateFormatter, Calendar and String(format:) built ICU formatters for each (55 % of
    /// the chart page's time in a profile).
    static func dateTime(_ text: String?) -> String? {
        guard let text else { return nil }
        guard text.count > 10 else { return date(text) }
        let zoned = text.hasSuffix("Z") || text.utf8.dropFirst(10).contains { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") }
        guard zoned, let instant = SearchIndexValue.dateRange(text)?.low else { return date(text) }
        return dateTime(instant)
    }

    static func dateTime(_ instant: Date) -> String {
        let seconds = Int(instant.timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let ofDay = seconds - days * 86_400
        let (year, month, day) = civil(days: days)
        return "\(day) \(months[month - 1]) \(year), \(twoDigits(ofDay / 3600)):\(twoDigits(ofDay % 3600 / 60)) UTC"
    }

    /// The proleptic Gregorian (year, month, day) of a count of days since 1970-01-01 (H. Hinnant's algorithm).
    static func civil(days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func twoDigits(_ value: Int) -> String {
        value < 10 ? "0\(value)" : String(value)
    }

    /// `value` with `digits` (0–3) decimals, rounded half to even like `%.Nf`, without
    /// `String(format:)` (an ICU number formatter each call).
    static func fixed(_ value: Double, digits: Int) -> String {
        let scale = [1.0, 10.0, 100.0, 1000.0][max(0, min(digits, 3))]
        let scaled = (abs(value) * scale).rounded(.toNearestOrEven)
        guard value.isFinite, scaled < 1e15 else { return String(value) }
        let whole = Int(scaled), unit = Int(scale)
        let sign = value < 0 && whole != 0 ? "-" : ""
        guard unit > 1 else { return sign + String(whole) }
        var fraction = String(whole % unit)
        while fraction.count < digits { fraction = "0" + fraction }
        return "\(sign)\(whole / unit).\(fraction)"
    }

    /// "120.50 USD"; the amount as stored (a decimal string), never through a binary float.
    static func money(_ amount: MoneyAmount?) -> String? {
        guard let amount else { return nil }
        return [amount.value, amount.currency].compactMap { $0 }.joined(separator: " ")
    }

    /// "Given Family" from platform fields.
    static func name(first: String?, last: String?) -> String {
        let text = [first, last].compactMap { $0?.isEmpty == false ? $0 : nil }.joined(separator: " ")
        return text.isEmpty ? "(no name)" : text
    }

    /// The first usable name of a FHIR resource (Patient, Practitioner): "Given Family".
    static func name(of resource: JSONValue) -> String {
        let names = resource["name"]?.arrayValue ?? []
        let chosen = names.first { $0["use"]?.stringValue == "official" } ?? names.first
        guard let chosen else { return "(no name)" }
        if let text = chosen["text"]?.stringValue, !text.isEmpty { return text }
        let given = (chosen["given"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: " ")
        return name(first: given, last: chosen["family"]?.stringValue)
    }

    /// The display text of a CodeableConcept: its text, else its first coding's display or code.
    static func concept(_ value: JSONValue?) -> String? {
        guard let value else { return nil }
        if let text = value["text"]?.stringValue, !text.isEmpty { return text }
        for coding in value["coding"]?.arrayValue ?? [] {
            if let display = coding["display"]?.stringValue, !display.isEmpty { return display }
        }
        return value["coding"]?.arrayValue?.first?["code"]?.stringValue
    }

    /// A Quantity as "7.2 mmol/L".
    static func quantity(_ value: JSONValue?) -> String? {
        guard let value, let number = value["value"]?.numberLexical else { return nil }
        let unit = value["unit"]?.stringValue ?? value["code"]?.stringValue
        return [number, unit].compactMap { $0 }.joined(separator: " ")
    }
}

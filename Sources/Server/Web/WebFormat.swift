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
    /// zone; a date alone stays a date).
    static func dateTime(_ text: String?) -> String? {
        guard let text else { return nil }
        guard text.count > 10 else { return date(text) }
        guard let instant = PlatformDates.instant(text) else { return date(text) }
        return dateTime(instant)
    }

    static func dateTime(_ instant: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: instant)
        let time = String(format: "%02d:%02d", c.hour ?? 0, c.minute ?? 0)
        return "\(c.day ?? 1) \(months[(c.month ?? 1) - 1]) \(c.year ?? 1970), \(time) UTC"
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

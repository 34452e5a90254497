import Foundation

/// Date checks of the platform's query parameters: `YYYY-MM-DD` (a real calendar date) and
/// ISO 8601 date-times with a zone.
enum PlatformDates {
    static func isDate(_ text: String) -> Bool {
        date(text) != nil
    }

    /// Midnight UTC of a `YYYY-MM-DD` that names a real day.
    static func date(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else { return nil }
        guard let year = Int(text.prefix(4)), let month = Int(text.dropFirst(5).prefix(2)), let day = Int(text.suffix(2)),
              text.prefix(4).allSatisfy(\.isASCII), year >= 1, (1...12).contains(month), (1...31).contains(day) else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let components = DateComponents(year: year, month: month, day: day)
        guard let result = calendar.date(from: components),
              calendar.component(.day, from: result) == day, calendar.component(.month, from: result) == month else { return nil }
        return result
    }

    /// A `YYYY-MM-DD` (midnight UTC) or a date-time with seconds and a zone.
    static func instant(_ text: String) -> Date? {
        if let day = date(text) { return day }
        guard text.count <= 40 else { return nil }
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        if let value = plain.date(from: text) { return value }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: text)
    }
}

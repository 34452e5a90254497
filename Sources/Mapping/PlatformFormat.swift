import FHIRModels
import Foundation

/// The lexical formats of the platform face (dates, times, ids, money), checked by hand so the
/// rules are exact and visible: a date must exist in the calendar, a decimal must also be a
/// valid JSON number, since it becomes FHIR `Money.value`.
public enum PlatformFormat {
    /// `YYYY-MM-DD`, a real calendar date (no `2023-02-30`), year from 0001.
    public static func isDate(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
              let year = number(bytes[0..<4]), let month = number(bytes[5..<7]), let day = number(bytes[8..<10])
        else { return false }
        return year >= 1 && (1...12).contains(month) && (1...daysIn(month: month, year: year)).contains(day)
    }

    /// Whether the `YYYY-MM-DD` date `text` is not after today: today in UTC, with one day of
    /// slack, so a birth today east of UTC passes. The one rule for dates of birth (patients'
    /// bodies and registration).
    public static func isNotInTheFuture(_ text: String, now: Date = Date()) -> Bool {
        text <= date(now.addingTimeInterval(24 * 60 * 60))
    }

    /// ISO 8601 date and time with seconds and a zone: `2026-11-29T09:30:00Z`,
    /// `2026-11-29T09:30:00.250+01:00`.
    public static func isDateTime(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes[10] == UInt8(ascii: "T"),
              isDate(String(decoding: bytes[0..<10], as: UTF8.self)),
              isClock(bytes[11..<19], seconds: true)
        else { return false }
        var rest = bytes[19...]
        if rest.first == UInt8(ascii: ".") {
            rest = rest.dropFirst()
            let digits = rest.prefix { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
            guard (1...9).contains(digits.count) else { return false }
            rest = rest.dropFirst(digits.count)
        }
        if Array(rest) == [UInt8(ascii: "Z")] { return true }
        guard rest.count == 6, let sign = rest.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") else {
            return false
        }
        let zone = Array(rest.dropFirst())
        guard zone[2] == UInt8(ascii: ":"), let hours = number(zone[0..<2]), let minutes = number(zone[3..<5]) else {
            return false
        }
        return hours <= 14 && minutes <= 59
    }

    /// `HH:MM` or `HH:MM:SS`, normalized to `HH:MM:SS` (the FHIR `time` form); nil when invalid.
    static func normalizedTime(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        switch bytes.count {
        case 5: return isClock(bytes[0..<5], seconds: false) ? text + ":00" : nil
        case 8: return isClock(bytes[0..<8], seconds: true) ? text : nil
        default: return nil
        }
    }

    /// A FHIR id: 1–64 of `A-Z a-z 0-9 - .`, so a reference built from it cannot point elsewhere.
    static func isFHIRID(_ text: String) -> Bool {
        FHIRLexical.isID(text)
    }

    /// Up to 12 integer digits without a leading zero (it must also be a JSON number) and up
    /// to 4 decimals: `150`, `150.00`, `0.5`.
    static func isMoneyValue(_ text: String) -> Bool {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let integer = parts[0]
        guard (1...12).contains(integer.count), integer.allSatisfy(\.isASCIIDigit),
              integer.count == 1 || integer.first != "0"
        else { return false }
        if parts.count == 2 {
            return (1...4).contains(parts[1].count) && parts[1].allSatisfy(\.isASCIIDigit)
        }
        return true
    }

    /// ISO 4217 form: three upper-case letters.
    static func isCurrency(_ text: String) -> Bool {
        text.utf8.count == 3 && text.utf8.allSatisfy { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }
    }

    /// The exact value of a decimal string; `Decimal` is base 10, so `0.1 + 0.2 == 0.3` holds.
    static func decimal(_ text: String) -> Decimal? {
        Decimal(string: text, locale: Locale(identifier: "en_US_POSIX"))
    }

    /// `2026-11-29T09:30:00Z`: the FHIR dateTime of a server-set instant, to the second.
    static func dateTime(_ date: Date) -> String {
        let parts = utcCalendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func padded(_ value: Int?, _ width: Int) -> String {
            let digits = String(value ?? 0)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(padded(parts.year, 4))-\(padded(parts.month, 2))-\(padded(parts.day, 2))"
            + "T\(padded(parts.hour, 2)):\(padded(parts.minute, 2)):\(padded(parts.second, 2))Z"
    }

    /// `YYYY-MM-DD` of an instant in UTC.
    static func date(_ date: Date) -> String {
        String(dateTime(date).prefix(10))
    }

    private static let utcCalendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    private static func isClock(_ bytes: ArraySlice<UInt8>, seconds: Bool) -> Bool {
        let bytes = Array(bytes)
        guard bytes.count == (seconds ? 8 : 5), bytes[2] == UInt8(ascii: ":"),
              let hours = number(bytes[0..<2]), let minutes = number(bytes[3..<5]), hours <= 23, minutes <= 59
        else { return false }
        guard seconds else { return true }
        guard bytes[5] == UInt8(ascii: ":"), let secs = number(bytes[6..<8]) else { return false }
        return secs <= 59
    }

    private static func number<C: Collection>(_ digits: C) -> Int? where C.Element == UInt8 {
        var value = 0
        for byte in digits {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return digits.isEmpty ? nil : value
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}

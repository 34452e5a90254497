import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Formats and parses the timestamps the store writes (`meta.lastUpdated`) and the HTTP
/// `Last-Modified` header. Formatting is done by hand on `gmtime_r`: Foundation's formatters
/// cost tens of microseconds per call, which shows on every read and write.
enum StoreTimestamp {
    /// Now, truncated to milliseconds, so the JSON value and the database column agree.
    static func now() -> Date {
        let milliseconds = (Date().timeIntervalSince1970 * 1000).rounded(.down)
        return Date(timeIntervalSince1970: milliseconds / 1000)
    }

    private static func brokenDown(_ date: Date) -> (tm, milliseconds: Int) {
        let totalMilliseconds = Int((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(totalMilliseconds.floorDivided(by: 1000))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return (parts, totalMilliseconds - Int(seconds) * 1000)
    }

    private static func pad(_ value: Int32, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    /// FHIR instant in UTC with milliseconds, e.g. `2024-03-01T09:30:00.123Z`.
    static func string(_ date: Date) -> String {
        let (parts, milliseconds) = brokenDown(date)
        return pad(parts.tm_year + 1900, 4) + "-" + pad(parts.tm_mon + 1, 2) + "-" + pad(parts.tm_mday, 2)
            + "T" + pad(parts.tm_hour, 2) + ":" + pad(parts.tm_min, 2) + ":" + pad(parts.tm_sec, 2)
            + "." + pad(Int32(milliseconds), 3) + "Z"
    }

    private static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// RFC 7231 date for `Last-Modified`, e.g. `Fri, 01 Mar 2024 09:30:00 GMT`.
    static func httpDate(_ date: Date) -> String {
        let (parts, _) = brokenDown(date)
        return weekdays[Int(parts.tm_wday)] + ", " + pad(parts.tm_mday, 2) + " " + months[Int(parts.tm_mon)] + " "
            + pad(parts.tm_year + 1900, 4) + " " + pad(parts.tm_hour, 2) + ":" + pad(parts.tm_min, 2) + ":"
            + pad(parts.tm_sec, 2) + " GMT"
    }

    /// Parses FHIR dateTime/instant values used in `_since` (full date-times with a zone, or a date).
    static func parse(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: .iso8601) { return date }
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) { return date }
        if text.count == 10, let date = try? Date(text + "T00:00:00Z", strategy: .iso8601) { return date }
        return nil
    }
}

private extension Int {
    func floorDivided(by divisor: Int) -> Int {
        let quotient = self / divisor
        return (self % divisor < 0) ? quotient - 1 : quotient
    }
}

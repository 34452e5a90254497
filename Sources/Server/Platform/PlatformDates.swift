import Foundation
import Mapping

/// The instants of the platform's time filters (`from`, `to`), in the platform's own formats
/// (`PlatformFormat`): a `YYYY-MM-DD` means its first moment in UTC; a date-time has seconds
/// and a zone.
enum PlatformDates {
    static func instant(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        if PlatformFormat.isDate(text) { return formatter.date(from: text + "T00:00:00Z") }
        guard PlatformFormat.isDateTime(text) else { return nil }
        if let plain = formatter.date(from: text) { return plain }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }
}

import Foundation

extension SearchIndexValue {
    /// Hours added on each side of a value written without a time zone: FHIR leaves its zone
    /// unknown, and zones span UTC-12 to UTC+14, so the widest reading is ±14 h.
    public static let zonelessMargin: TimeInterval = 14 * 3600

    /// The span a FHIR `date`, `dateTime` or `instant` covers, inclusive low, exclusive high:
    /// "2024" is the year, "2024-02" the month, "2024-02-10" the day, "…T10:00:00Z" that second,
    /// "…T10:00:00.25Z" that hundredth of a second. A value without a time zone (all dates,
    /// and zoneless dateTimes) is read as UTC and widened by `zonelessMargin` on both sides.
    /// `nil` when the text is not such a value (or names an impossible day or time).
    /// Queries must be converted with the same function so that equal texts give equal spans.
    public static func dateRange(_ text: String) -> (low: Date, high: Date)? {
        var scanner = DigitScanner(text.utf8)
        guard let year = scanner.number(digits: 4) else { return nil }
        if scanner.atEnd { return zoneless(days(year, 1, 1), days(year + 1, 1, 1)) }
        guard scanner.take(UInt8(ascii: "-")), let month = scanner.number(digits: 2), (1...12).contains(month) else { return nil }
        if scanner.atEnd {
            let next = month == 12 ? days(year + 1, 1, 1) : days(year, month + 1, 1)
            return zoneless(days(year, month, 1), next)
        }
        guard scanner.take(UInt8(ascii: "-")), let day = scanner.number(digits: 2),
              (1...daysIn(month, of: year)).contains(day) else { return nil }
        let dayStart = days(year, month, day)
        if scanner.atEnd { return zoneless(dayStart, dayStart + 1) }
        guard scanner.take(UInt8(ascii: "T")), let hour = scanner.number(digits: 2), hour < 24,
              scanner.take(UInt8(ascii: ":")), let minute = scanner.number(digits: 2), minute < 60 else { return nil }
        var seconds = Double(dayStart) * 86400 + Double(hour * 3600 + minute * 60)
        var width: Double = 60
        if scanner.take(UInt8(ascii: ":")) {
            // A leap second (60) is accepted and read as the last instant of the minute.
            guard let second = scanner.number(digits: 2), second <= 60 else { return nil }
            seconds += Double(min(second, 59))
            width = 1
            if scanner.take(UInt8(ascii: ".")) {
                var digits = 0
                var fraction: Double = 0
                while let digit = scanner.digit() {
                    digits += 1
                    if digits <= 9 { fraction = fraction * 10 + Double(digit) }
                }
                guard digits > 0 else { return nil }
                let kept = min(digits, 9)
                width = pow(10, -Double(kept))
                seconds += fraction * width
            }
        }
        if scanner.atEnd {
            return (Date(timeIntervalSince1970: seconds - zonelessMargin),
                    Date(timeIntervalSince1970: seconds + width + zonelessMargin))
        }
        if scanner.take(UInt8(ascii: "Z")) {
            guard scanner.atEnd else { return nil }
        } else {
            let sign: Double
            if scanner.take(UInt8(ascii: "+")) { sign = 1 } else if scanner.take(UInt8(ascii: "-")) { sign = -1 } else { return nil }
            guard let offsetHours = scanner.number(digits: 2), offsetHours <= 14, scanner.take(UInt8(ascii: ":")),
                  let offsetMinutes = scanner.number(digits: 2), offsetMinutes < 60, scanner.atEnd else { return nil }
            seconds -= sign * Double(offsetHours * 3600 + offsetMinutes * 60)
        }
        return (Date(timeIntervalSince1970: seconds), Date(timeIntervalSince1970: seconds + width))
    }

    private static func zoneless(_ lowDay: Int, _ highDay: Int) -> (low: Date, high: Date) {
        (Date(timeIntervalSince1970: Double(lowDay) * 86400 - zonelessMargin),
         Date(timeIntervalSince1970: Double(highDay) * 86400 + zonelessMargin))
    }

    private static func daysIn(_ month: Int, of year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`):
    /// plain arithmetic, no `Calendar`, because every write converts dates.
    private static func days(_ year: Int, _ month: Int, _ day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146097 + dayOfEra - 719468
    }

    /// Reads fixed-width ASCII fields of a date text.
    private struct DigitScanner {
        let bytes: [UInt8]
        var index = 0

        init(_ utf8: String.UTF8View) { bytes = Array(utf8) }

        var atEnd: Bool { index == bytes.count }

        mutating func take(_ byte: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        mutating func digit() -> Int? {
            guard index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) else { return nil }
            defer { index += 1 }
            return Int(bytes[index] - UInt8(ascii: "0"))
        }

        mutating func number(digits count: Int) -> Int? {
            var value = 0
            for _ in 0..<count {
                guard let digit = digit() else { return nil }
                value = value * 10 + digit
            }
            return value
        }
    }
}

import Foundation

/// Scans the lexical forms of FHIR `date`, `dateTime`, `instant` and `time`, so that the
/// temporal types can check a string once and then keep it verbatim.
///
/// Accepted: `YYYY(-MM(-DD(Thh:mm(:ss(.f+)?)?(Z|(+|-)hh:mm)?)?)?)?` for dates and date-times
/// (R4 requires seconds and a zone once a time is given; both are tolerated here and the
/// exact text is kept, so validation can still report them), `hh:mm:ss(.f+)?` for times.
struct FHIRTemporalLexer {
    /// What a date-time string holds, as positions in its UTF-8 bytes.
    struct DateTimeParts {
        var precision: FHIRDateTime.Precision
        /// Start of the zone designator (`Z`, `+`, `-`), if any.
        var zoneStart: Int?
    }

    private let bytes: [UInt8]
    private var position = 0

    init(_ string: String) {
        bytes = Array(string.utf8)
    }

    static func dateTime(_ string: String) -> DateTimeParts? {
        var lexer = FHIRTemporalLexer(string)
        return lexer.scanDateTime()
    }

    static func isTime(_ string: String) -> Bool {
        var lexer = FHIRTemporalLexer(string)
        guard lexer.scanClock(requireSeconds: true) != nil else { return false }
        return lexer.position == lexer.bytes.count
    }

    private mutating func scanDateTime() -> DateTimeParts? {
        guard let year = number(digits: 4), year >= 1 else { return nil }
        if atEnd { return DateTimeParts(precision: .year) }
        guard consume(UInt8(ascii: "-")), let month = number(digits: 2), (1...12).contains(month) else { return nil }
        if atEnd { return DateTimeParts(precision: .month) }
        guard consume(UInt8(ascii: "-")), let day = number(digits: 2), (1...31).contains(day) else { return nil }
        if atEnd { return DateTimeParts(precision: .day) }
        guard consume(UInt8(ascii: "T")), let precision = scanClock(requireSeconds: false) else { return nil }
        var parts = DateTimeParts(precision: precision)
        if atEnd { return parts }
        parts.zoneStart = position
        guard scanZone(), atEnd else { return nil }
        return parts
    }

    /// `hh:mm(:ss(.f+)?)?`; returns the precision reached.
    private mutating func scanClock(requireSeconds: Bool) -> FHIRDateTime.Precision? {
        guard let hour = number(digits: 2), hour <= 23,
              consume(UInt8(ascii: ":")), let minute = number(digits: 2), minute <= 59 else { return nil }
        guard consume(UInt8(ascii: ":")) else { return requireSeconds ? nil : .minute }
        guard let second = number(digits: 2), second <= 60 else { return nil }
        guard consume(UInt8(ascii: ".")) else { return .second }
        let start = position
        while let byte = peek, isDigit(byte) { position += 1 }
        return position > start ? .fractionalSecond : nil
    }

    /// `Z` or `(+|-)hh:mm` with hh:mm at most 14:00.
    private mutating func scanZone() -> Bool {
        if consume(UInt8(ascii: "Z")) { return true }
        guard consume(UInt8(ascii: "+")) || consume(UInt8(ascii: "-")) else { return false }
        guard let hours = number(digits: 2), consume(UInt8(ascii: ":")), let minutes = number(digits: 2),
              minutes <= 59, hours * 60 + minutes <= 14 * 60 else { return false }
        return true
    }

    private var atEnd: Bool { position == bytes.count }

    private var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

    private func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        guard peek == byte else { return false }
        position += 1
        return true
    }

    private mutating func number(digits: Int) -> Int? {
        guard position + digits <= bytes.count else { return nil }
        var value = 0
        for offset in 0..<digits {
            let byte = bytes[position + offset]
            guard isDigit(byte) else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        position += digits
        return value
    }

    // MARK: Components of checked strings

    /// The integer at a fixed offset of an already checked string.
    static func integer(in string: String, at offset: Int, digits: Int) -> Int {
        var value = 0
        for byte in string.utf8.dropFirst(offset).prefix(digits) {
            value = value * 10 + Int(byte &- UInt8(ascii: "0"))
        }
        return value
    }

    /// Seconds east of UTC for a zone designator starting at `offset`.
    static func zoneOffset(in string: String, at offset: Int) -> Int {
        let utf8 = Array(string.utf8.dropFirst(offset))
        guard let sign = utf8.first, sign != UInt8(ascii: "Z") else { return 0 }
        let hours = integer(in: string, at: offset + 1, digits: 2)
        let minutes = integer(in: string, at: offset + 4, digits: 2)
        let seconds = (hours * 60 + minutes) * 60
        return sign == UInt8(ascii: "-") ? -seconds : seconds
    }

    /// The fractional seconds after the `.` at `offset`, up to the zone or the end.
    static func fraction(in string: String, at offset: Int) -> Double {
        var digits = "0."
        for byte in string.utf8.dropFirst(offset + 1) {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { break }
            digits.unicodeScalars.append(Unicode.Scalar(byte))
        }
        return Double(digits) ?? 0
    }

    /// A Gregorian calendar in the given zone, for turning components into a `Date`.
    static func calendar(in timeZone: TimeZone) -> Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        return calendar
    }

    /// `YYYY-MM-DD`, `YYYY-MM-DDThh:mm:ss` (and `.sss`) and the zone, for a `Date`.
    static func format(_ date: Date, timeZone: TimeZone, includeTime: Bool, fractionalSeconds: Bool) -> String {
        let milliseconds = (date.timeIntervalSince1970 * 1000).rounded(.down)
        let wholeSeconds = (milliseconds / 1000).rounded(.down)
        let millisecond = Int(milliseconds - wholeSeconds * 1000)
        let whole = Date(timeIntervalSince1970: wholeSeconds)
        let calendar = calendar(in: timeZone)
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: whole)
        var text = pad(parts.year ?? 1, 4) + "-" + pad(parts.month ?? 1, 2) + "-" + pad(parts.day ?? 1, 2)
        guard includeTime else { return text }
        text += "T" + pad(parts.hour ?? 0, 2) + ":" + pad(parts.minute ?? 0, 2) + ":" + pad(parts.second ?? 0, 2)
        if fractionalSeconds {
            text += "." + pad(millisecond, 3)
        }
        let offset = timeZone.secondsFromGMT(for: whole)
        if offset == 0 {
            text += "Z"
        } else {
            let minutes = abs(offset) / 60
            text += (offset < 0 ? "-" : "+") + pad(minutes / 60, 2) + ":" + pad(minutes % 60, 2)
        }
        return text
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}

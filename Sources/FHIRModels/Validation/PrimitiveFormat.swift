/// The lexical rules of the FHIR R4 primitive datatypes, from the `regex` extensions of their
/// StructureDefinitions, as hand-written byte matchers: validation runs on every primitive of
/// every resource written, and a regex engine would dominate its cost.
enum PrimitiveFormat: Sendable {
    /// `[ \r\n\t\S]+`: not empty, and (string page) no control characters other than tab, CR and LF.
    case string
    /// `[^\s]+(\s[^\s]+)*`
    case code
    /// `[A-Za-z0-9\-\.]{1,64}`
    case id
    /// `\S*` (uri, url, canonical), plus the JSON rule that strings are not empty.
    case uri
    /// `urn:oid:[0-2](\.(0|[1-9][0-9]*))+`
    case oid
    /// `urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`
    case uuid
    /// `(\s*([0-9a-zA-Z\+/=]){4}\s*)+`, with padding only at the end.
    case base64Binary
    case date
    case dateTime
    case instant
    case time
    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    case decimal
    /// `-?([0]|([1-9][0-9]*))` within the 32-bit signed range.
    case integer
    /// `+?[1-9][0-9]*` within the 32-bit signed range.
    case positiveInt
    /// `[0]|([1-9][0-9]*)` within the 32-bit signed range.
    case unsignedInt
    /// Narrative XHTML: here only "a `div` element"; the XML reader checks the content.
    case xhtml

    /// The rule for a primitive type code; `nil` for `boolean` (a JSON literal) and non-primitives.
    init?(typeCode: String) {
        switch typeCode {
        case "string", "markdown": self = .string
        case "code": self = .code
        case "id": self = .id
        case "uri", "url", "canonical": self = .uri
        case "oid": self = .oid
        case "uuid": self = .uuid
        case "base64Binary": self = .base64Binary
        case "date": self = .date
        case "dateTime": self = .dateTime
        case "instant": self = .instant
        case "time": self = .time
        case "decimal": self = .decimal
        case "integer": self = .integer
        case "positiveInt": self = .positiveInt
        case "unsignedInt": self = .unsignedInt
        case "xhtml": self = .xhtml
        default: return nil
        }
    }

    /// Whether the lexical form is valid for this type.
    func accepts(_ text: String) -> Bool {
        if let result = text.utf8.withContiguousStorageIfAvailable({ accepts(bytes: $0) }) {
            return result
        }
        return Array(text.utf8).withUnsafeBufferPointer { accepts(bytes: $0) }
    }

    func accepts(bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var scanner = ByteScanner(bytes)
        switch self {
        case .string: return Self.isString(bytes)
        case .code: return Self.isCode(bytes)
        case .id:
            return !bytes.isEmpty && bytes.count <= 64 && bytes.allSatisfy { Self.isAlphanumeric($0) || $0 == 0x2D || $0 == 0x2E }
        case .uri: return !bytes.isEmpty && !bytes.contains(where: Self.isWhitespace)
        case .oid: return Self.isOID(&scanner)
        case .uuid: return Self.isUUID(bytes)
        case .base64Binary: return Self.isBase64(bytes)
        case .date:
            return scanner.date(requireFull: false) != nil && scanner.atEnd
        case .dateTime:
            guard let full = scanner.date(requireFull: false) else { return false }
            if scanner.atEnd { return true }
            return full && scanner.skip(0x54) && scanner.time() && scanner.timeZone() && scanner.atEnd
        case .instant:
            return scanner.date(requireFull: true) == true && scanner.skip(0x54) && scanner.time()
                && scanner.timeZone() && scanner.atEnd
        case .time:
            return scanner.time() && scanner.atEnd
        case .decimal: return Self.isDecimal(&scanner)
        case .integer: return Self.integerValue(bytes, allowSign: true).map { $0 >= Int64(Int32.min) } ?? false
        case .positiveInt: return Self.integerValue(bytes, allowSign: false).map { $0 >= 1 } ?? false
        case .unsignedInt: return Self.integerValue(bytes, allowSign: false) != nil
        case .xhtml:
            return bytes.count >= 4 && bytes[0] == 0x3C && bytes[1] == 0x64 && bytes[2] == 0x69 && bytes[3] == 0x76
        }
    }

    // MARK: - Character classes

    /// `\s` in the spec's (Java) regexes: space, tab, LF, VT, FF, CR.
    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (byte >= 0x09 && byte <= 0x0D)
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
    }

    // MARK: - Matchers

    private static func isString(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard !bytes.isEmpty else { return false }
        for byte in bytes where byte < 0x20 && byte != 0x09 && byte != 0x0A && byte != 0x0D {
            return false
        }
        return true
    }

    private static func isCode(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let first = bytes.first, let last = bytes.last, !isWhitespace(first), !isWhitespace(last) else {
            return false
        }
        var previousWasSpace = false
        for byte in bytes {
            let space = isWhitespace(byte)
            if space && previousWasSpace { return false }
            previousWasSpace = space
        }
        return true
    }

    private static func isOID(_ scanner: inout ByteScanner) -> Bool {
        guard scanner.skip("urn:oid:"), let root = scanner.next(), root >= 0x30 && root <= 0x32 else { return false }
        var arcs = 0
        while scanner.skip(0x2E) {
            guard let first = scanner.next(), isDigit(first) else { return false }
            if first == 0x30 {
                if let following = scanner.peek, isDigit(following) { return false }
            } else {
                while let following = scanner.peek, isDigit(following) { scanner.advance() }
            }
            arcs += 1
        }
        return arcs > 0 && scanner.atEnd
    }

    private static func isUUID(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let prefix = Array("urn:uuid:".utf8)
        guard bytes.count == prefix.count + 36, bytes.starts(with: prefix) else { return false }
        for (offset, byte) in bytes.dropFirst(prefix.count).enumerated() {
            if offset == 8 || offset == 13 || offset == 18 || offset == 23 {
                if byte != 0x2D { return false }
            } else if !(isDigit(byte) || (byte >= 0x61 && byte <= 0x66)) {
                return false
            }
        }
        return true
    }

    private static func isBase64(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var count = 0
        var padding = 0
        for byte in bytes {
            if isWhitespace(byte) { continue }
            if byte == 0x3D {
                padding += 1
            } else if isAlphanumeric(byte) || byte == 0x2B || byte == 0x2F {
                if padding > 0 { return false }  // data after padding
            } else {
                return false
            }
            count += 1
        }
        return count > 0 && count % 4 == 0 && padding <= 2
    }

    private static func isDecimal(_ scanner: inout ByteScanner) -> Bool {
        _ = scanner.skip(0x2D)
        guard scanner.unsignedNumber() else { return false }
        if scanner.skip(0x2E) {
            guard scanner.digits() > 0 else { return false }
        }
        if scanner.skip(0x65) || scanner.skip(0x45) {
            if !scanner.skip(0x2B) { _ = scanner.skip(0x2D) }
            guard scanner.digits() > 0 else { return false }
        }
        return scanner.atEnd
    }

    /// The value of a canonical integer lexical form (no leading zeros, `-` only when allowed),
    /// or `nil` when malformed or above `Int32.max`.
    static func integerValue(_ bytes: UnsafeBufferPointer<UInt8>, allowSign: Bool) -> Int64? {
        var scanner = ByteScanner(bytes)
        let negative = allowSign && scanner.skip(0x2D)
        let start = scanner.position
        guard scanner.unsignedNumber(), scanner.atEnd else { return nil }
        let digitCount = scanner.position - start
        guard digitCount <= 10 else { return nil }
        var value: Int64 = 0
        for byte in bytes[start...] { value = value * 10 + Int64(byte - 0x30) }
        if negative { value = -value }
        guard value <= Int64(Int32.max) else { return nil }
        return value
    }
}

/// A cursor over UTF-8 bytes for the date and number matchers.
struct ByteScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    var atEnd: Bool { position == bytes.count }
    var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

    mutating func advance() { position += 1 }

    mutating func next() -> UInt8? {
        guard position < bytes.count else { return nil }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func skip(_ byte: UInt8) -> Bool {
        guard position < bytes.count, bytes[position] == byte else { return false }
        position += 1
        return true
    }

    mutating func skip(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard bytes.count - position >= count else { return false }
        let start = literal.utf8Start
        for offset in 0..<count where bytes[position + offset] != start[offset] {
            return false
        }
        position += count
        return true
    }

    /// Consumes digits; returns how many.
    mutating func digits() -> Int {
        let start = position
        while let byte = peek, PrimitiveFormat.isDigit(byte) { position += 1 }
        return position - start
    }

    /// `0|[1-9][0-9]*`
    mutating func unsignedNumber() -> Bool {
        guard let first = peek, PrimitiveFormat.isDigit(first) else { return false }
        if first == 0x30 {
            position += 1
            return true
        }
        _ = digits()
        return true
    }

    /// Exactly `count` digits as a number, or `nil`.
    mutating func fixedDigits(_ count: Int) -> Int? {
        guard bytes.count - position >= count else { return nil }
        var value = 0
        for offset in 0..<count {
            let byte = bytes[position + offset]
            guard PrimitiveFormat.isDigit(byte) else { return nil }
            value = value * 10 + Int(byte - 0x30)
        }
        position += count
        return value
    }

    /// `YYYY(-MM(-DD)?)?` with the spec's ranges (year not 0000, month 01-12, day 01-31).
    /// Returns whether the date was complete (had a day), or `nil` when malformed.
    mutating func date(requireFull: Bool) -> Bool? {
        guard let year = fixedDigits(4), year > 0 else { return nil }
        guard skip(0x2D) else { return requireFull ? nil : false }
        guard let month = fixedDigits(2), (1...12).contains(month) else { return nil }
        guard skip(0x2D) else { return requireFull ? nil : false }
        guard let day = fixedDigits(2), (1...31).contains(day) else { return nil }
        return true
    }

    /// `hh:mm:ss(.f+)?` with hours 00-23, minutes 00-59, seconds 00-60.
    mutating func time() -> Bool {
        guard let hour = fixedDigits(2), hour <= 23, skip(0x3A),
              let minute = fixedDigits(2), minute <= 59, skip(0x3A),
              let second = fixedDigits(2), second <= 60 else { return false }
        if skip(0x2E) {
            return digits() > 0
        }
        return true
    }

    /// `Z|(+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)`
    mutating func timeZone() -> Bool {
        if skip(0x5A) { return true }
        guard skip(0x2B) || skip(0x2D) else { return false }
        guard let hour = fixedDigits(2), skip(0x3A), let minute = fixedDigits(2) else { return false }
        return (hour <= 13 && minute <= 59) || (hour == 14 && minute == 0)
    }
}

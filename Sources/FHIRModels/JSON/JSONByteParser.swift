/// A recursive-descent JSON parser over raw bytes. Grammar errors carry the line and
/// column; no message quotes document content.
struct JSONByteParser {
    private let buffer: UnsafeBufferPointer<UInt8>
    private let maxDepth: Int
    /// Plain JSON (the platform face) allows `null` members; FHIR JSON does not.
    private let allowsNullMembers: Bool
    private var position = 0
    private var depth = 0

    init(buffer: UnsafeBufferPointer<UInt8>, maxDepth: Int, allowsNullMembers: Bool = false) {
        self.buffer = buffer
        self.maxDepth = maxDepth
        self.allowsNullMembers = allowsNullMembers
    }

    mutating func parseDocument() throws(FHIRFormatError) -> JSONValue {
        if buffer.count >= 3, buffer[0] == 0xEF, buffer[1] == 0xBB, buffer[2] == 0xBF {
            throw error(.malformedJSON, "a byte order mark is not allowed before JSON")
        }
        skipWhitespace()
        if position < buffer.count, buffer[position] == UInt8(ascii: "n") {
            throw error(.forbiddenNull, "null is not allowed here: FHIR allows null only inside arrays of primitives")
        }
        let value = try parseValue()
        skipWhitespace()
        if position != buffer.count {
            throw error(.malformedJSON, "unexpected content after the end of the JSON document")
        }
        return value
    }

    // MARK: - Values

    private mutating func parseValue() throws(FHIRFormatError) -> JSONValue {
        guard position < buffer.count else { throw error(.malformedJSON, "unexpected end of JSON") }
        switch buffer[position] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try parseNumber())
        default:
            throw error(.malformedJSON, "unexpected character where a JSON value was expected")
        }
    }

    private mutating func enter() throws(FHIRFormatError) {
        depth += 1
        if depth > maxDepth {
            throw error(.tooDeep, "JSON nesting is deeper than the limit of \(maxDepth)")
        }
    }

    private mutating func parseObject() throws(FHIRFormatError) -> JSONValue {
        try enter()
        position += 1
        var object = JSONObject(reservingCapacity: 8)
        skipWhitespace()
        if position < buffer.count, buffer[position] == UInt8(ascii: "}") {
            position += 1
            depth -= 1
            return .object(object)
        }
        var seen: Set<String>? = nil
        while true {
            skipWhitespace()
            guard position < buffer.count, buffer[position] == UInt8(ascii: "\"") else {
                throw error(.malformedJSON, "expected a quoted member name")
            }
            let keyStart = position
            let key = try parseString()
            if object.count < 16 {
                if object.keys.contains(key) { throw duplicate(at: keyStart) }
            } else {
                if seen == nil { seen = Set(object.keys) }
                if !seen!.insert(key).inserted { throw duplicate(at: keyStart) }
            }
            skipWhitespace()
            guard position < buffer.count, buffer[position] == UInt8(ascii: ":") else {
                throw error(.malformedJSON, "expected ':' after a member name")
            }
            position += 1
            skipWhitespace()
            if !allowsNullMembers, position < buffer.count, buffer[position] == UInt8(ascii: "n") {
                throw error(.forbiddenNull, "null is not allowed as a member value")
            }
            let value = try parseValue()
            object.append(key: key, value: value)
            skipWhitespace()
            guard position < buffer.count else { throw error(.malformedJSON, "unexpected end of JSON inside an object") }
            let byte = buffer[position]
            position += 1
            if byte == UInt8(ascii: ",") { continue }
            if byte == UInt8(ascii: "}") { break }
            position -= 1
            throw error(.malformedJSON, "expected ',' or '}' in an object")
        }
        depth -= 1
        return .object(object)
    }

    private func duplicate(at offset: Int) -> FHIRFormatError {
        var copy = self
        copy.position = offset
        return copy.error(.duplicateKey, "duplicate member name in a JSON object")
    }

    private mutating func parseArray() throws(FHIRFormatError) -> JSONValue {
        try enter()
        position += 1
        var array: [JSONValue] = []
        skipWhitespace()
        if position < buffer.count, buffer[position] == UInt8(ascii: "]") {
            position += 1
            depth -= 1
            return .array(array)
        }
        while true {
            skipWhitespace()
            array.append(try parseValue())
            skipWhitespace()
            guard position < buffer.count else { throw error(.malformedJSON, "unexpected end of JSON inside an array") }
            let byte = buffer[position]
            position += 1
            if byte == UInt8(ascii: ",") { continue }
            if byte == UInt8(ascii: "]") { break }
            position -= 1
            throw error(.malformedJSON, "expected ',' or ']' in an array")
        }
        depth -= 1
        return .array(array)
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(FHIRFormatError) {
        let count = literal.utf8CodeUnitCount
        guard position + count <= buffer.count else { throw error(.malformedJSON, "invalid literal") }
        let bytes = literal.utf8Start
        for offset in 0..<count where buffer[position + offset] != bytes[offset] {
            throw error(.malformedJSON, "invalid literal")
        }
        position += count
    }

    // MARK: - Numbers

    private mutating func parseNumber() throws(FHIRFormatError) -> String {
        let start = position
        if buffer[position] == UInt8(ascii: "-") { position += 1 }
        guard position < buffer.count, isDigit(buffer[position]) else {
            throw error(.malformedJSON, "invalid number")
        }
        if buffer[position] == UInt8(ascii: "0") {
            position += 1
            if position < buffer.count, isDigit(buffer[position]) {
                throw error(.malformedJSON, "numbers must not have leading zeros")
            }
        } else {
            while position < buffer.count, isDigit(buffer[position]) { position += 1 }
        }
        if position < buffer.count, buffer[position] == UInt8(ascii: ".") {
            position += 1
            guard position < buffer.count, isDigit(buffer[position]) else {
                throw error(.malformedJSON, "invalid number: digits must follow the decimal point")
            }
            while position < buffer.count, isDigit(buffer[position]) { position += 1 }
        }
        if position < buffer.count, buffer[position] == UInt8(ascii: "e") || buffer[position] == UInt8(ascii: "E") {
            position += 1
            if position < buffer.count, buffer[position] == UInt8(ascii: "+") || buffer[position] == UInt8(ascii: "-") {
                position += 1
            }
            guard position < buffer.count, isDigit(buffer[position]) else {
                throw error(.malformedJSON, "invalid number exponent")
            }
            while position < buffer.count, isDigit(buffer[position]) { position += 1 }
        }
        return String(decoding: UnsafeBufferPointer(rebasing: buffer[start..<position]), as: UTF8.self)
    }

    @inline(__always) private func isDigit(_ byte: UInt8) -> Bool {
        byte &- UInt8(ascii: "0") < 10
    }

    // MARK: - Strings

    private mutating func parseString() throws(FHIRFormatError) -> String {
        position += 1
        let start = position
        var hasNonASCII = false
        while position < buffer.count {
            let byte = buffer[position]
            if byte == UInt8(ascii: "\"") {
                let slice = UnsafeBufferPointer(rebasing: buffer[start..<position])
                position += 1
                if !hasNonASCII { return String(decoding: slice, as: UTF8.self) }
                guard let string = String(validating: slice, as: UTF8.self) else {
                    position = start
                    throw error(.invalidUTF8, "string is not valid UTF-8")
                }
                return string
            }
            if byte == UInt8(ascii: "\\") {
                return try parseEscapedString(from: start)
            }
            if byte < 0x20 { throw error(.malformedJSON, "control character in a string must be escaped") }
            if byte >= 0x80 { hasNonASCII = true }
            position += 1
        }
        throw error(.malformedJSON, "unterminated string")
    }

    /// The slow path, for strings that contain escapes.
    private mutating func parseEscapedString(from start: Int) throws(FHIRFormatError) -> String {
        var bytes = [UInt8](UnsafeBufferPointer(rebasing: buffer[start..<position]))
        while position < buffer.count {
            let byte = buffer[position]
            if byte == UInt8(ascii: "\"") {
                position += 1
                guard let string = String(validating: bytes, as: UTF8.self) else {
                    throw error(.invalidUTF8, "string is not valid UTF-8")
                }
                return string
            }
            if byte < 0x20 { throw error(.malformedJSON, "control character in a string must be escaped") }
            if byte != UInt8(ascii: "\\") {
                bytes.append(byte)
                position += 1
                continue
            }
            position += 1
            guard position < buffer.count else { break }
            let escaped = buffer[position]
            position += 1
            switch escaped {
            case UInt8(ascii: "\""): bytes.append(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "/"): bytes.append(UInt8(ascii: "/"))
            case UInt8(ascii: "b"): bytes.append(0x08)
            case UInt8(ascii: "f"): bytes.append(0x0C)
            case UInt8(ascii: "n"): bytes.append(0x0A)
            case UInt8(ascii: "r"): bytes.append(0x0D)
            case UInt8(ascii: "t"): bytes.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try parseHex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    guard position + 1 < buffer.count, buffer[position] == UInt8(ascii: "\\"),
                          buffer[position + 1] == UInt8(ascii: "u") else {
                        throw error(.invalidUTF8, "lone surrogate in a \\u escape")
                    }
                    position += 2
                    let low = try parseHex4()
                    guard (0xDC00...0xDFFF).contains(low) else {
                        throw error(.invalidUTF8, "lone surrogate in a \\u escape")
                    }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw error(.invalidUTF8, "lone surrogate in a \\u escape")
                }
                guard let unicode = Unicode.Scalar(scalar) else {
                    throw error(.invalidUTF8, "invalid \\u escape")
                }
                bytes.append(contentsOf: String(Character(unicode)).utf8)
            default:
                position -= 1
                throw error(.malformedJSON, "invalid escape sequence in a string")
            }
        }
        throw error(.malformedJSON, "unterminated string")
    }

    private mutating func parseHex4() throws(FHIRFormatError) -> UInt32 {
        guard position + 4 <= buffer.count else { throw error(.malformedJSON, "invalid \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = buffer[position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw error(.malformedJSON, "invalid \\u escape")
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }

    // MARK: - Helpers

    @inline(__always) private mutating func skipWhitespace() {
        while position < buffer.count {
            switch buffer[position] {
            case 0x20, 0x0A, 0x0D, 0x09: position += 1
            default: return
            }
        }
    }

    private func error(_ kind: FHIRFormatError.Kind, _ message: String) -> FHIRFormatError {
        var line = 1
        var column = 1
        let end = min(position, buffer.count)
        for index in 0..<end {
            if buffer[index] == 0x0A {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return FHIRFormatError(kind, message, line: line, column: column)
    }
}

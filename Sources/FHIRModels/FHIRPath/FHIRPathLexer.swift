/// Splits FHIRPath text into tokens, skipping whitespace and comments.
struct FHIRPathLexer {
    enum Token: Equatable {
        /// A name; `delimited` when written in backticks (never a keyword then).
        case identifier(String, delimited: Bool)
        case string(String)
        case number(String)
        /// `%name`, `%'name'` or ``%`name` ``.
        case constant(String)
        /// `$this`, `$index`, `$total`.
        case variable(String)
        /// `@2015-02-04`, `@T14:34`: lexed so that they are refused as unsupported, not as syntax.
        case dateTime(String)
        case symbol(String)
        case end
    }

    static func tokens(_ text: String) throws(FHIRPathError) -> [(token: Token, offset: Int)] {
        let chars = Array(text.unicodeScalars)
        var result: [(Token, Int)] = []
        var i = 0
        func isIdentifierStart(_ c: Unicode.Scalar) -> Bool { c == "_" || (c.properties.isAlphabetic && c.isASCII) }
        func isIdentifierPart(_ c: Unicode.Scalar) -> Bool { isIdentifierStart(c) || ("0"..."9").contains(c) }
        func quoted(_ close: Unicode.Scalar) throws(FHIRPathError) -> String {
            let start = i
            i += 1
            var value = String.UnicodeScalarView()
            while i < chars.count, chars[i] != close {
                if chars[i] == "\\" {
                    i += 1
                    guard i < chars.count else { break }
                    switch chars[i] {
                    case "n": value.append("\n")
                    case "t": value.append("\t")
                    case "r": value.append("\r")
                    case "f": value.append("\u{0C}")
                    case "u":
                        guard i + 4 < chars.count,
                              let code = UInt32(String(String.UnicodeScalarView(chars[(i + 1)...(i + 4)])), radix: 16),
                              let scalar = Unicode.Scalar(code)
                        else { throw .syntax("bad \\u escape at offset \(i)") }
                        value.append(scalar)
                        i += 4
                    default: value.append(chars[i])
                    }
                } else {
                    value.append(chars[i])
                }
                i += 1
            }
            guard i < chars.count else { throw .syntax("unterminated quoted text at offset \(start)") }
            i += 1
            return String(value)
        }
        while i < chars.count {
            let c = chars[i]
            let start = i
            if c.properties.isWhitespace { i += 1; continue }
            if c == "/", i + 1 < chars.count, chars[i + 1] == "/" {
                while i < chars.count, chars[i] != "\n" { i += 1 }
                continue
            }
            if c == "/", i + 1 < chars.count, chars[i + 1] == "*" {
                i += 2
                while i + 1 < chars.count, !(chars[i] == "*" && chars[i + 1] == "/") { i += 1 }
                guard i + 1 < chars.count else { throw .syntax("unterminated comment at offset \(start)") }
                i += 2
                continue
            }
            if c == "'" {
                result.append((.string(try quoted("'")), start))
            } else if c == "`" {
                result.append((.identifier(try quoted("`"), delimited: true), start))
            } else if ("0"..."9").contains(c) {
                while i < chars.count, ("0"..."9").contains(chars[i]) { i += 1 }
                if i + 1 < chars.count, chars[i] == ".", ("0"..."9").contains(chars[i + 1]) {
                    i += 1
                    while i < chars.count, ("0"..."9").contains(chars[i]) { i += 1 }
                }
                result.append((.number(String(String.UnicodeScalarView(chars[start..<i]))), start))
            } else if isIdentifierStart(c) {
                while i < chars.count, isIdentifierPart(chars[i]) { i += 1 }
                result.append((.identifier(String(String.UnicodeScalarView(chars[start..<i])), delimited: false), start))
            } else if c == "%" {
                i += 1
                if i < chars.count, chars[i] == "'" || chars[i] == "`" {
                    result.append((.constant(try quoted(chars[i])), start))
                } else {
                    let nameStart = i
                    while i < chars.count, isIdentifierPart(chars[i]) { i += 1 }
                    guard i > nameStart else { throw .syntax("empty constant name at offset \(start)") }
                    result.append((.constant(String(String.UnicodeScalarView(chars[nameStart..<i]))), start))
                }
            } else if c == "$" {
                i += 1
                while i < chars.count, isIdentifierPart(chars[i]) { i += 1 }
                result.append((.variable(String(String.UnicodeScalarView(chars[start..<i]))), start))
            } else if c == "@" {
                i += 1
                while i < chars.count, isIdentifierPart(chars[i]) || ":-+.".unicodeScalars.contains(chars[i]) { i += 1 }
                result.append((.dateTime(String(String.UnicodeScalarView(chars[start..<i]))), start))
            } else {
                let two = i + 1 < chars.count ? String(String.UnicodeScalarView([c, chars[i + 1]])) : ""
                if ["!=", "!~", "<=", ">="].contains(two) {
                    result.append((.symbol(two), start))
                    i += 2
                } else if "|=~<>+-*/&.,()[]{}".unicodeScalars.contains(c) {
                    result.append((.symbol(String(c)), start))
                    i += 1
                } else {
                    throw .syntax("unexpected character at offset \(start)")
                }
            }
        }
        result.append((.end, chars.count))
        return result
    }
}

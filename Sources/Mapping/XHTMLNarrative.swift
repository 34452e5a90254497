import Foundation

/// The narrative (`section.text.div`) of the medical record sections. Text fields are written as
/// one escaped `div`, and read back exactly from that form; foreign XHTML is read as its text
/// with the tags stripped and the white space collapsed.
enum XHTMLNarrative {
    static let open = #"<div xmlns="http://www.w3.org/1999/xhtml">"#
    static let close = "</div>"
    /// Opens the generated list of record items, so a rewrite can find and replace it while
    /// keeping any foreign narrative that follows.
    static let itemsOpen = #"<ul class="record-items">"#

    static func div(text: String) -> String {
        open + escape(text) + close
    }

    /// The list of `items` followed by `rest` (foreign narrative kept from before).
    static func div(items: [RecordItem], rest: String) -> String {
        let list = items.isEmpty ? "" : itemsOpen + items.map { "<li>\($0.narrative)</li>" }.joined() + "</ul>"
        return open + list + rest + close
    }

    static func text(of div: String) -> String {
        if div.hasPrefix(open), div.hasSuffix(close) {
            let inner = div.dropFirst(open.count).dropLast(close.count)
            if !inner.contains("<") { return unescape(inner) }
        }
        return collapsingWhitespace(unescape(strippingTags(div)))
    }

    /// The content of a section `div` other than the generated list of record items.
    static func rest(of div: String) -> String {
        guard let start = div.firstIndex(of: ">"), let end = div.range(of: close, options: .backwards)?.lowerBound,
              start < end
        else { return "" }
        var inner = div[div.index(after: start)..<end]
        if inner.hasPrefix(itemsOpen), let listEnd = inner.range(of: "</ul>") {
            inner = inner[listEnd.upperBound...]
        }
        return String(inner)
    }

    static func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            default: result.append(character)
            }
        }
        return result
    }

    static func unescape<S: StringProtocol>(_ text: S) -> String {
        guard text.contains("&") else { return String(text) }
        var result = ""
        var rest = Substring(text)
        while let ampersand = rest.firstIndex(of: "&") {
            result += rest[..<ampersand]
            rest = rest[ampersand...]
            guard let semicolon = rest.prefix(12).firstIndex(of: ";"),
                  let decoded = entity(rest[rest.index(after: rest.startIndex)..<semicolon])
            else {
                result.append("&")
                rest = rest.dropFirst()
                continue
            }
            result += decoded
            rest = rest[rest.index(after: semicolon)...]
        }
        return result + rest
    }

    private static func entity(_ name: Substring) -> String? {
        switch name {
        case "amp": return "&"
        case "lt": return "<"
        case "gt": return ">"
        case "quot": return "\""
        case "apos": return "'"
        case "nbsp": return "\u{A0}"
        default:
            guard name.hasPrefix("#") else { return nil }
            let digits = name.dropFirst()
            let value = digits.hasPrefix("x") || digits.hasPrefix("X")
                ? UInt32(digits.dropFirst(), radix: 16) : UInt32(digits, radix: 10)
            return value.flatMap(Unicode.Scalar.init).map { String(Character($0)) }
        }
    }

    private static func strippingTags(_ xhtml: String) -> String {
        var result = ""
        var inTag = false
        for character in xhtml {
            if inTag {
                if character == ">" {
                    inTag = false
                    result.append(" ")
                }
            } else if character == "<" {
                inTag = true
            } else {
                result.append(character)
            }
        }
        return result
    }

    private static func collapsingWhitespace(_ text: String) -> String {
        text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }
}

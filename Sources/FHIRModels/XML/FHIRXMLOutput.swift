/// A byte buffer for writing XML, with the escaping rules for text and attribute
/// values. Works on UTF-8 bytes and appends unchanged runs in one copy.
struct FHIRXMLOutput {
    var bytes: [UInt8] = []
    /// Set when escaped content held a control character that XML 1.0 cannot carry.
    var sawControlCharacter = false

    init(reservingCapacity capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    @inline(__always)
    mutating func append(_ literal: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    @inline(__always)
    mutating func append(_ byte: UInt8) {
        bytes.append(byte)
    }

    mutating func append(_ string: String) {
        var string = string
        string.withUTF8 { bytes.append(contentsOf: $0) }
    }

    mutating func append(raw: some Collection<UInt8>) {
        bytes.append(contentsOf: raw)
    }

    mutating func appendEscapedAttribute(_ string: String) {
        var string = string
        string.withUTF8 { appendEscaped($0, attribute: true) }
    }

    mutating func appendEscaped(_ slice: ArraySlice<UInt8>, attribute: Bool) {
        slice.withUnsafeBufferPointer { appendEscaped($0, attribute: attribute) }
    }

    /// Text escapes `&`, `<`, `>`, `"` (as HL7's own tools do in narrative) and carriage
    /// return (which a parser would otherwise normalize away). Attribute values also
    /// escape tab and line feed, so that attribute-value normalization gives back the
    /// same string.
    mutating func appendEscaped(_ input: UnsafeBufferPointer<UInt8>, attribute: Bool) {
        var chunk = 0
        var index = 0
        let count = input.count
        while index < count {
            let byte = input[index]
            if byte > UInt8(ascii: ">") || (byte >= 0x20 && byte != UInt8(ascii: "&") && byte != UInt8(ascii: "<") && byte != UInt8(ascii: ">") && byte != UInt8(ascii: "\"")) {
                index += 1
                continue
            }
            let replacement: StaticString
            switch byte {
            case UInt8(ascii: "&"): replacement = "&amp;"
            case UInt8(ascii: "<"): replacement = "&lt;"
            case UInt8(ascii: ">"): replacement = "&gt;"
            case UInt8(ascii: "\""): replacement = "&quot;"
            case 0x0D: replacement = "&#13;"
            case 0x0A where attribute: replacement = "&#10;"
            case 0x09 where attribute: replacement = "&#9;"
            case 0x09, 0x0A:
                index += 1
                continue
            default:
                if byte < 0x20 { sawControlCharacter = true }
                index += 1
                continue
            }
            if chunk < index { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: input[chunk..<index])) }
            append(replacement)
            index += 1
            chunk = index
        }
        if chunk < count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: input[chunk..<count])) }
    }
}

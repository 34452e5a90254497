extension FHIRMetadata.Catalog {
    /// Decodes the line format written by `scripts/generate-metadata.py`. The input is generated
    /// and compiled in, so a malformed line is a build defect and traps. Works on UTF-8 bytes:
    /// this runs on first use of any metadata, so it must stay in the low milliseconds.
    init(decoding text: String) {
        var text = text
        let (types, names) = text.withUTF8 { Self.decode($0) }
        self.types = types
        self.resourceTypeNames = names
    }

    private static func decode(_ bytes: UnsafeBufferPointer<UInt8>) -> ([String: TypeInfo], [String]) {
        var types: [String: TypeInfo] = [:]
        types.reserveCapacity(700)
        var resourceNames: [String] = []
        // Element names and type codes repeat thousands of times; share one string per spelling.
        var interned: [String: String] = [:]
        interned.reserveCapacity(2_000)
        func intern(_ range: Range<Int>) -> String {
            let string = String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
            if let existing = interned[string] { return existing }
            interned[string] = string
            return string
        }

        var current: (name: String, kind: FHIRTypeKind, isAbstract: Bool)?
        var elements: [ElementInfo] = []
        func finish() {
            guard let type = current else { return }
            types[type.name] = TypeInfo(name: type.name, kind: type.kind, isAbstract: type.isAbstract, elements: elements)
            if type.kind == .resource && !type.isAbstract { resourceNames.append(type.name) }
            elements.removeAll(keepingCapacity: true)
        }

        var fields: [Range<Int>] = []
        fields.reserveCapacity(6)
        var lineStart = 0
        while lineStart < bytes.count {
            var lineEnd = lineStart
            while lineEnd < bytes.count && bytes[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
            defer { lineStart = lineEnd + 1 }
            if lineEnd == lineStart { continue }
            fields.removeAll(keepingCapacity: true)
            var fieldStart = lineStart
            for position in lineStart...lineEnd where position == lineEnd || bytes[position] == UInt8(ascii: " ") {
                fields.append(fieldStart..<position)
                fieldStart = position + 1
            }
            switch bytes[lineStart] {
            case UInt8(ascii: "T"):
                precondition(fields.count == 4, "metadata: bad type line")
                finish()
                let kind: FHIRTypeKind
                switch bytes[fields[2].lowerBound] {
                case UInt8(ascii: "p"): kind = .primitive
                case UInt8(ascii: "c"): kind = .complex
                case UInt8(ascii: "r"): kind = .resource
                case UInt8(ascii: "b"): kind = .backbone
                default: preconditionFailure("metadata: bad type kind")
                }
                current = (intern(fields[1]), kind, bytes[fields[3].lowerBound] == UInt8(ascii: "a"))
            case UInt8(ascii: "E"):
                precondition(fields.count == 6 && current != nil, "metadata: bad element line")
                var isChoice = false, isSummary = false
                var representation = ElementRepresentation.element
                for position in fields[4] {
                    switch bytes[position] {
                    case UInt8(ascii: "c"): isChoice = true
                    case UInt8(ascii: "s"): isSummary = true
                    case UInt8(ascii: "x"): representation = .xmlAttribute
                    case UInt8(ascii: "h"): representation = .xhtml
                    default: break
                    }
                }
                var typeCodes: [String] = []
                var codeStart = fields[5].lowerBound
                for position in fields[5].lowerBound...fields[5].upperBound
                where position == fields[5].upperBound || bytes[position] == UInt8(ascii: "|") {
                    typeCodes.append(intern(codeStart..<position))
                    codeStart = position + 1
                }
                elements.append(ElementInfo(
                    name: intern(fields[1]),
                    min: number(fields[2]) ?? 0,
                    max: number(fields[3]),
                    types: typeCodes,
                    isChoice: isChoice,
                    isSummary: isSummary,
                    representation: representation))
            default:
                preconditionFailure("metadata: bad line")
            }
        }
        finish()
        return (types, resourceNames.sorted())

        /// A decimal field, or `nil` for `*`.
        func number(_ range: Range<Int>) -> Int? {
            if bytes[range.lowerBound] == UInt8(ascii: "*") { return nil }
            var value = 0
            for position in range {
                let digit = bytes[position] &- UInt8(ascii: "0")
                precondition(digit < 10, "metadata: bad number")
                value = value * 10 + Int(digit)
            }
            return value
        }
    }
}

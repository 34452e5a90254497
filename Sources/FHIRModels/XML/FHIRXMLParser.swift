/// A small, strict, non-validating XML 1.0 parser with namespaces, written for FHIR.
///
/// It accepts: an XML declaration (UTF-8 only), comments, processing instructions
/// (skipped), elements with attributes and namespaces, text, CDATA, the five predefined
/// entities and numeric character references.
///
/// It refuses, with line and column: any DTD or other `<!` declaration
/// (`.forbiddenDTD`, so external entities and entity expansion cannot happen),
/// unknown named entities, references to code points that are not XML characters,
/// malformed markup, mismatched tags, unbound prefixes, duplicate attributes,
/// control characters, invalid UTF-8 (`.invalidUTF8`) and nesting deeper than
/// `maximumDepth` elements (`.tooDeep`).
struct FHIRXMLParser {
    /// Deepest element nesting accepted. FHIR resources rarely exceed 20 levels; a
    /// Bundle of resources with narrative stays well under 100.
    static let maximumDepth = 256
    /// Largest document accepted (offsets are stored in 32 bits).
    static let maximumSize = 1 << 30

    private struct Binding {
        var prefixStart: Int
        var prefixEnd: Int
        var namespace: Int32
    }

    private struct RawAttribute {
        var nameStart: Int
        var colon: Int
        var nameEnd: Int
        var value: FHIRXMLSpan
    }

    private struct OpenElement {
        var node: Int32
        var nameStart: Int
        var nameEnd: Int
        var bindingCount: Int
        var lastChild: Int32
    }

    private let input: UnsafeBufferPointer<UInt8>
    private let fragment: Bool
    private var position = 0
    private var arena: [UInt8] = []
    private var nodes: [FHIRXMLNode] = []
    private var attributes: [FHIRXMLAttribute] = []
    private var namespaces: [[UInt8]] = [
        [], FHIRXMLDocument.xmlNamespaceURI, FHIRXMLDocument.fhirNamespaceURI, FHIRXMLDocument.xhtmlNamespaceURI,
    ]
    private var bindings: [Binding] = []
    private var rawAttributes: [RawAttribute] = []
    private var stack: [OpenElement] = []
    private var root = -1

    private init(input: UnsafeBufferPointer<UInt8>, fragment: Bool) {
        self.input = input
        self.fragment = fragment
        nodes.reserveCapacity(input.count / 24)
        attributes.reserveCapacity(input.count / 24)
    }

    static func parse(_ bytes: [UInt8], fragment: Bool) throws(FHIRFormatError) -> FHIRXMLDocument {
        guard bytes.count <= maximumSize else {
            throw FHIRFormatError(.tooLarge, "The XML document is larger than \(maximumSize) bytes.")
        }
        var result: Result<FHIRXMLDocument, FHIRFormatError>!
        bytes.withUnsafeBufferPointer { buffer in
            var parser = FHIRXMLParser(input: buffer, fragment: fragment)
            do throws(FHIRFormatError) {
                try parser.parseDocument()
                result = .success(FHIRXMLDocument(
                    source: bytes, arena: parser.arena, nodes: parser.nodes, attributes: parser.attributes,
                    namespaces: parser.namespaces, root: parser.root
                ))
            } catch {
                result = .failure(error)
            }
        }
        return try result.get()
    }

    static func location(of offset: Int, in source: some Collection<UInt8>) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        for byte in source.prefix(offset) {
            if byte == 0x0A {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        return (line, column)
    }

    // MARK: - Document structure

    private mutating func parseDocument() throws(FHIRFormatError) {
        try validateCharacters()
        if !fragment, starts(with: [0xEF, 0xBB, 0xBF]) {
            position = 3
        }
        if starts(with: Self.xmlDeclarationStart), position + 5 < input.count, isWhitespace(input[position + 5]) {
            if fragment {
                throw error(.malformedXML, "An XML declaration is not allowed here.", at: position)
            }
            try parseXMLDeclaration()
        }
        try parseMisc()
        guard position < input.count, input[position] == UInt8(ascii: "<") else {
            throw error(.malformedXML, "Expected the root element.", at: position)
        }
        try parseContent()
        try parseMisc()
        guard position == input.count else {
            throw error(.malformedXML, "Unexpected content after the root element.", at: position)
        }
    }

    private static let xmlDeclarationStart: [UInt8] = Array("<?xml".utf8)
    private static let commentStart: [UInt8] = Array("<!--".utf8)
    private static let cdataStart: [UInt8] = Array("<![CDATA[".utf8)

    /// White space, comments and processing instructions outside the root element.
    private mutating func parseMisc() throws(FHIRFormatError) {
        while true {
            skipWhitespace()
            guard position + 1 < input.count, input[position] == UInt8(ascii: "<") else { return }
            switch input[position + 1] {
            case UInt8(ascii: "!"):
                if starts(with: Self.commentStart) {
                    try skipComment()
                } else {
                    throw declarationError()
                }
            case UInt8(ascii: "?"):
                try skipProcessingInstruction()
            default:
                return
            }
        }
    }

    private mutating func parseXMLDeclaration() throws(FHIRFormatError) {
        let start = position
        position += 5
        var sawVersion = false
        while true {
            let hadSpace = skipWhitespace()
            guard position + 1 < input.count else {
                throw error(.malformedXML, "Unterminated XML declaration.", at: start)
            }
            if input[position] == UInt8(ascii: "?"), input[position + 1] == UInt8(ascii: ">") {
                position += 2
                break
            }
            guard hadSpace else { throw error(.malformedXML, "Malformed XML declaration.", at: position) }
            let nameStart = position
            while position < input.count, isASCIILetter(input[position]) { position += 1 }
            let name = String(decoding: input[nameStart..<position], as: UTF8.self)
            skipWhitespace()
            guard position < input.count, input[position] == UInt8(ascii: "=") else {
                throw error(.malformedXML, "Malformed XML declaration.", at: position)
            }
            position += 1
            skipWhitespace()
            guard position < input.count, input[position] == UInt8(ascii: "\"") || input[position] == UInt8(ascii: "'") else {
                throw error(.malformedXML, "Malformed XML declaration.", at: position)
            }
            let quote = input[position]
            position += 1
            let valueStart = position
            while position < input.count, input[position] != quote { position += 1 }
            guard position < input.count else { throw error(.malformedXML, "Unterminated XML declaration.", at: start) }
            let value = String(decoding: input[valueStart..<position], as: UTF8.self)
            position += 1
            switch name {
            case "version":
                guard !sawVersion, value.hasPrefix("1.") else {
                    throw error(.malformedXML, "Unsupported XML version.", at: valueStart)
                }
                sawVersion = true
            case "encoding":
                guard sawVersion, value.lowercased() == "utf-8" else {
                    throw error(.malformedXML, "Only UTF-8 encoded XML is accepted.", at: valueStart)
                }
            case "standalone":
                guard sawVersion, value == "yes" || value == "no" else {
                    throw error(.malformedXML, "Malformed XML declaration.", at: valueStart)
                }
            default:
                throw error(.malformedXML, "Malformed XML declaration.", at: nameStart)
            }
        }
        guard sawVersion else { throw error(.malformedXML, "The XML declaration has no version.", at: start) }
    }

    /// `<!` that is neither a comment nor CDATA: a DTD or one of its declarations.
    private func declarationError() -> FHIRFormatError {
        if position + 2 < input.count, isASCIILetter(input[position + 2]) {
            return error(.forbiddenDTD, "Document type declarations (DTDs) and entity declarations are not accepted.", at: position)
        }
        return error(.malformedXML, "Malformed markup declaration.", at: position)
    }

    // MARK: - Elements

    private mutating func parseContent() throws(FHIRFormatError) {
        try parseStartTag()
        while !stack.isEmpty {
            guard position < input.count else {
                let open = stack[stack.count - 1]
                throw error(.malformedXML, "Element is not closed.", at: Int(nodes[Int(open.node)].sourceStart))
            }
            if input[position] != UInt8(ascii: "<") {
                try parseText()
                continue
            }
            guard position + 1 < input.count else {
                throw error(.malformedXML, "Unexpected end of document.", at: position)
            }
            switch input[position + 1] {
            case UInt8(ascii: "/"):
                try parseEndTag()
            case UInt8(ascii: "!"):
                if starts(with: Self.commentStart) {
                    try skipComment()
                } else if starts(with: Self.cdataStart) {
                    try parseCDATA()
                } else {
                    throw declarationError()
                }
            case UInt8(ascii: "?"):
                try skipProcessingInstruction()
            default:
                try parseStartTag()
            }
        }
    }

    private mutating func parseStartTag() throws(FHIRFormatError) {
        let start = position
        if stack.count >= Self.maximumDepth {
            throw error(.tooDeep, "Elements are nested deeper than \(Self.maximumDepth) levels.", at: start)
        }
        position += 1
        let (nameStart, colon, nameEnd) = try scanQualifiedName()
        let bindingCount = bindings.count
        rawAttributes.removeAll(keepingCapacity: true)
        var isEmpty = false
        while true {
            let hadSpace = skipWhitespace()
            guard position < input.count else {
                throw error(.malformedXML, "Unterminated start tag.", at: start)
            }
            let byte = input[position]
            if byte == UInt8(ascii: ">") {
                position += 1
                break
            }
            if byte == UInt8(ascii: "/") {
                guard position + 1 < input.count, input[position + 1] == UInt8(ascii: ">") else {
                    throw error(.malformedXML, "Malformed start tag.", at: position)
                }
                position += 2
                isEmpty = true
                break
            }
            guard hadSpace else {
                throw error(.malformedXML, "Attributes must be separated by white space.", at: position)
            }
            let attributeStart = position
            let (attributeNameStart, attributeColon, attributeNameEnd) = try scanQualifiedName()
            skipWhitespace()
            guard position < input.count, input[position] == UInt8(ascii: "=") else {
                throw error(.malformedXML, "Expected '=' after an attribute name.", at: position)
            }
            position += 1
            skipWhitespace()
            let value = try scanAttributeValue()
            if attributeColon < 0, equals(attributeNameStart..<attributeNameEnd, Self.xmlnsName) {
                try declare(prefixStart: attributeNameStart, prefixEnd: attributeNameStart, value: value, bindingCount: bindingCount, at: attributeStart)
            } else if attributeColon >= 0, equals(attributeNameStart..<attributeColon, Self.xmlnsName) {
                try declare(prefixStart: attributeColon + 1, prefixEnd: attributeNameEnd, value: value, bindingCount: bindingCount, at: attributeStart)
            } else {
                rawAttributes.append(RawAttribute(nameStart: attributeNameStart, colon: attributeColon, nameEnd: attributeNameEnd, value: value))
            }
        }

        let namespace = try resolve(
            prefixStart: nameStart, prefixEnd: colon < 0 ? nameStart : colon, isElement: true, at: start
        )
        let firstAttribute = attributes.count
        for raw in rawAttributes {
            let attributeNamespace = raw.colon < 0
                ? FHIRXMLDocument.noNamespace
                : try resolve(prefixStart: raw.nameStart, prefixEnd: raw.colon, isElement: false, at: raw.nameStart)
            let localStart = raw.colon < 0 ? raw.nameStart : raw.colon + 1
            for index in firstAttribute..<attributes.count {
                let other = attributes[index]
                if other.namespace == attributeNamespace,
                   equals(localStart..<raw.nameEnd, Int(other.localName.start)..<Int(other.localName.end)) {
                    throw error(.malformedXML, "Duplicate attribute.", at: raw.nameStart)
                }
            }
            attributes.append(FHIRXMLAttribute(
                namespace: attributeNamespace,
                localName: FHIRXMLSpan(start: localStart, end: raw.nameEnd, isDecoded: false),
                value: raw.value,
                sourceOffset: Int32(truncatingIfNeeded: raw.nameStart)
            ))
        }
        let parent: Int32 = stack.isEmpty ? -1 : stack[stack.count - 1].node
        let node = FHIRXMLNode(
            kind: .element,
            namespace: namespace,
            value: FHIRXMLSpan(start: colon < 0 ? nameStart : colon + 1, end: nameEnd, isDecoded: false),
            prefix: FHIRXMLSpan(start: nameStart, end: colon < 0 ? nameStart : colon, isDecoded: false),
            parent: parent,
            attributeStart: Int32(truncatingIfNeeded: firstAttribute),
            attributeEnd: Int32(truncatingIfNeeded: attributes.count),
            sourceStart: start,
            sourceEnd: position,
            isWhitespace: false
        )
        let index = append(node)
        if isEmpty {
            bindings.removeSubrange(bindingCount...)
        } else {
            stack.append(OpenElement(node: index, nameStart: nameStart, nameEnd: nameEnd, bindingCount: bindingCount, lastChild: -1))
        }
    }

    private mutating func parseEndTag() throws(FHIRFormatError) {
        let start = position
        position += 2
        let (nameStart, _, nameEnd) = try scanQualifiedName()
        skipWhitespace()
        guard position < input.count, input[position] == UInt8(ascii: ">") else {
            throw error(.malformedXML, "Malformed end tag.", at: position)
        }
        position += 1
        let open = stack.removeLast()
        guard equals(nameStart..<nameEnd, open.nameStart..<open.nameEnd) else {
            throw error(.malformedXML, "End tag does not match the start tag.", at: start)
        }
        nodes[Int(open.node)].sourceEnd = Int32(truncatingIfNeeded: position)
        bindings.removeSubrange(open.bindingCount...)
    }

    /// Appends a node as the last child of the open element (or as the root).
    private mutating func append(_ node: FHIRXMLNode) -> Int32 {
        let index = Int32(truncatingIfNeeded: nodes.count)
        nodes.append(node)
        if stack.isEmpty {
            root = Int(index)
        } else {
            let last = stack[stack.count - 1].lastChild
            if last >= 0 {
                nodes[Int(last)].nextSibling = index
            } else {
                nodes[Int(stack[stack.count - 1].node)].firstChild = index
            }
            stack[stack.count - 1].lastChild = index
        }
        return index
    }

    // MARK: - Namespaces

    private static let xmlnsName: [UInt8] = Array("xmlns".utf8)
    private static let xmlName: [UInt8] = Array("xml".utf8)

    private mutating func declare(prefixStart: Int, prefixEnd: Int, value: FHIRXMLSpan, bindingCount: Int, at offset: Int) throws(FHIRFormatError) {
        let uri = Array(spanBytes(value))
        let isDefault = prefixStart == prefixEnd
        let isXMLPrefix = !isDefault && equals(prefixStart..<prefixEnd, Self.xmlName)
        if !isDefault, equals(prefixStart..<prefixEnd, Self.xmlnsName) {
            throw error(.malformedXML, "The xmlns prefix cannot be declared.", at: offset)
        }
        if isXMLPrefix != (uri == FHIRXMLDocument.xmlNamespaceURI) || uri == Self.xmlnsNamespaceURI {
            throw error(.malformedXML, "Reserved namespace prefix or name misused.", at: offset)
        }
        if !isDefault, uri.isEmpty {
            throw error(.malformedXML, "A namespace prefix cannot be bound to an empty name.", at: offset)
        }
        for binding in bindings[bindingCount...] where equals(binding.prefixStart..<binding.prefixEnd, prefixStart..<prefixEnd) {
            throw error(.malformedXML, "Duplicate namespace declaration.", at: offset)
        }
        let namespace: Int32
        if uri.isEmpty {
            namespace = FHIRXMLDocument.noNamespace
        } else if let existing = namespaces.firstIndex(of: uri) {
            namespace = Int32(existing)
        } else {
            namespace = Int32(namespaces.count)
            namespaces.append(uri)
        }
        bindings.append(Binding(prefixStart: prefixStart, prefixEnd: prefixEnd, namespace: namespace))
    }

    private static let xmlnsNamespaceURI: [UInt8] = Array("http://www.w3.org/2000/xmlns/".utf8)

    private func resolve(prefixStart: Int, prefixEnd: Int, isElement: Bool, at offset: Int) throws(FHIRFormatError) -> Int32 {
        let isDefault = prefixStart == prefixEnd
        if !isDefault, equals(prefixStart..<prefixEnd, Self.xmlName) {
            return FHIRXMLDocument.xmlNamespace
        }
        var index = bindings.count - 1
        while index >= 0 {
            let binding = bindings[index]
            if equals(binding.prefixStart..<binding.prefixEnd, prefixStart..<prefixEnd) {
                return binding.namespace
            }
            index -= 1
        }
        if isDefault { return FHIRXMLDocument.noNamespace }
        throw error(.malformedXML, "Namespace prefix is not declared.", at: offset)
    }

    // MARK: - Character data

    /// The previous text node of the open element, when only comments or processing
    /// instructions separate it from the text about to be read: the two are merged.
    private mutating func textToExtend() -> Int? {
        let last = stack[stack.count - 1].lastChild
        guard last >= 0, Int(last) == nodes.count - 1, nodes[Int(last)].kind == .text else { return nil }
        var node = nodes[Int(last)]
        if !node.value.isDecoded {
            let start = arena.count
            arena.append(contentsOf: input[Int(node.value.start)..<Int(node.value.end)])
            node.value = FHIRXMLSpan(start: start, end: arena.count, isDecoded: true)
            nodes[Int(last)] = node
        }
        return Int(last)
    }

    private mutating func parseText() throws(FHIRFormatError) {
        let start = position
        let extending = textToExtend()
        var index = position
        var isWhitespace = true
        var needsDecoding = extending != nil
        while index < input.count {
            let byte = input[index]
            if byte == UInt8(ascii: "<") { break }
            if byte == UInt8(ascii: "&") || byte == 0x0D {
                needsDecoding = true
                break
            }
            if byte == UInt8(ascii: ">"), index - start >= 2, input[index - 1] == UInt8(ascii: "]"), input[index - 2] == UInt8(ascii: "]") {
                throw error(.malformedXML, "']]>' is not allowed in text.", at: index - 2)
            }
            if isWhitespace, byte != 0x20, byte != 0x0A, byte != 0x09 { isWhitespace = false }
            index += 1
        }
        if !needsDecoding {
            position = index
            addText(FHIRXMLSpan(start: start, end: index, isDecoded: false), isWhitespace: isWhitespace, extending: nil, at: start)
            return
        }
        let arenaStart = arena.count
        var chunk = start
        while position < input.count {
            let byte = input[position]
            if byte == UInt8(ascii: "<") { break }
            if byte == UInt8(ascii: "&") {
                arena.append(contentsOf: input[chunk..<position])
                try appendReference()
                chunk = position
            } else if byte == 0x0D {
                arena.append(contentsOf: input[chunk..<position])
                arena.append(0x0A)
                position += 1
                if position < input.count, input[position] == 0x0A { position += 1 }
                chunk = position
            } else {
                if byte == UInt8(ascii: ">"), position - start >= 2, input[position - 1] == UInt8(ascii: "]"), input[position - 2] == UInt8(ascii: "]") {
                    throw error(.malformedXML, "']]>' is not allowed in text.", at: position - 2)
                }
                position += 1
            }
        }
        arena.append(contentsOf: input[chunk..<position])
        addText(
            FHIRXMLSpan(start: arenaStart, end: arena.count, isDecoded: true),
            isWhitespace: isAllWhitespace(arena[arenaStart...]), extending: extending, at: start
        )
    }

    private mutating func parseCDATA() throws(FHIRFormatError) {
        let start = position
        let extending = textToExtend()
        position += Self.cdataStart.count
        let contentStart = position
        var sawCarriageReturn = false
        while true {
            guard position + 2 < input.count else {
                throw error(.malformedXML, "Unterminated CDATA section.", at: start)
            }
            let byte = input[position]
            if byte == UInt8(ascii: "]"), input[position + 1] == UInt8(ascii: "]"), input[position + 2] == UInt8(ascii: ">") {
                break
            }
            if byte == 0x0D { sawCarriageReturn = true }
            position += 1
        }
        let contentEnd = position
        position += 3
        if extending == nil, !sawCarriageReturn {
            addText(
                FHIRXMLSpan(start: contentStart, end: contentEnd, isDecoded: false),
                isWhitespace: isAllWhitespace(input[contentStart..<contentEnd]), extending: nil, at: start
            )
            return
        }
        let arenaStart = arena.count
        appendNormalizingLineEnds(contentStart..<contentEnd)
        addText(
            FHIRXMLSpan(start: arenaStart, end: arena.count, isDecoded: true),
            isWhitespace: isAllWhitespace(arena[arenaStart...]), extending: extending, at: start
        )
    }

    private mutating func addText(_ span: FHIRXMLSpan, isWhitespace: Bool, extending: Int?, at offset: Int) {
        if let extending {
            var node = nodes[extending]
            node.value = FHIRXMLSpan(start: Int(node.value.start), end: Int(span.end), isDecoded: true)
            node.isWhitespace = node.isWhitespace && isWhitespace
            node.sourceEnd = Int32(truncatingIfNeeded: position)
            nodes[extending] = node
            return
        }
        guard !span.isEmpty else { return }
        _ = append(FHIRXMLNode(
            kind: .text, namespace: FHIRXMLDocument.noNamespace, value: span, prefix: .empty,
            parent: stack[stack.count - 1].node, attributeStart: 0, attributeEnd: 0,
            sourceStart: offset, sourceEnd: position, isWhitespace: isWhitespace
        ))
    }

    private mutating func appendNormalizingLineEnds(_ range: Range<Int>) {
        var chunk = range.lowerBound
        var index = range.lowerBound
        while index < range.upperBound {
            if input[index] == 0x0D {
                arena.append(contentsOf: input[chunk..<index])
                arena.append(0x0A)
                index += 1
                if index < range.upperBound, input[index] == 0x0A { index += 1 }
                chunk = index
            } else {
                index += 1
            }
        }
        arena.append(contentsOf: input[chunk..<range.upperBound])
    }

    /// An attribute value in quotes, with references decoded and white space
    /// characters normalized to spaces as XML 1.0 section 3.3.3 requires.
    private mutating func scanAttributeValue() throws(FHIRFormatError) -> FHIRXMLSpan {
        guard position < input.count, input[position] == UInt8(ascii: "\"") || input[position] == UInt8(ascii: "'") else {
            throw error(.malformedXML, "Expected a quoted attribute value.", at: position)
        }
        let quote = input[position]
        position += 1
        let start = position
        while position < input.count {
            let byte = input[position]
            if byte == quote {
                position += 1
                return FHIRXMLSpan(start: start, end: position - 1, isDecoded: false)
            }
            if byte == UInt8(ascii: "&") || byte == 0x09 || byte == 0x0A || byte == 0x0D { break }
            if byte == UInt8(ascii: "<") {
                throw error(.malformedXML, "'<' is not allowed in an attribute value.", at: position)
            }
            position += 1
        }
        let arenaStart = arena.count
        arena.append(contentsOf: input[start..<position])
        while position < input.count {
            let byte = input[position]
            switch byte {
            case quote:
                position += 1
                return FHIRXMLSpan(start: arenaStart, end: arena.count, isDecoded: true)
            case UInt8(ascii: "&"):
                try appendReference()
            case UInt8(ascii: "<"):
                throw error(.malformedXML, "'<' is not allowed in an attribute value.", at: position)
            case 0x0D:
                arena.append(0x20)
                position += 1
                if position < input.count, input[position] == 0x0A { position += 1 }
            case 0x09, 0x0A:
                arena.append(0x20)
                position += 1
            default:
                arena.append(byte)
                position += 1
            }
        }
        throw error(.malformedXML, "Unterminated attribute value.", at: start - 1)
    }

    /// Decodes the reference at `position` (`&...;`) into the arena.
    private mutating func appendReference() throws(FHIRFormatError) {
        let start = position
        position += 1
        if position < input.count, input[position] == UInt8(ascii: "#") {
            position += 1
            var radix: UInt32 = 10
            if position < input.count, input[position] == UInt8(ascii: "x") {
                radix = 16
                position += 1
            }
            var value: UInt32 = 0
            var digits = 0
            while position < input.count, input[position] != UInt8(ascii: ";") {
                let byte = input[position]
                let digit: UInt32
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f") where radix == 16: digit = UInt32(byte - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F") where radix == 16: digit = UInt32(byte - UInt8(ascii: "A") + 10)
                default: throw error(.malformedXML, "Malformed character reference.", at: start)
                }
                value = value * radix + digit
                digits += 1
                if value > 0x10FFFF { throw error(.malformedXML, "Character reference out of range.", at: start) }
                position += 1
            }
            guard digits > 0, position < input.count else {
                throw error(.malformedXML, "Malformed character reference.", at: start)
            }
            position += 1
            guard Self.isXMLCharacter(value), let scalar = Unicode.Scalar(value) else {
                throw error(.malformedXML, "Character reference to a code point that XML does not allow.", at: start)
            }
            arena.append(contentsOf: UTF8.encode(scalar)!)
            return
        }
        let nameStart = position
        while position < input.count, position - nameStart <= 8, input[position] != UInt8(ascii: ";") {
            position += 1
        }
        guard position < input.count, input[position] == UInt8(ascii: ";") else {
            throw error(.malformedXML, "Malformed or unknown entity reference; only the five predefined entities are accepted.", at: start)
        }
        let replacement: UInt8
        switch String(decoding: input[nameStart..<position], as: UTF8.self) {
        case "lt": replacement = UInt8(ascii: "<")
        case "gt": replacement = UInt8(ascii: ">")
        case "amp": replacement = UInt8(ascii: "&")
        case "apos": replacement = UInt8(ascii: "'")
        case "quot": replacement = UInt8(ascii: "\"")
        default:
            throw error(.malformedXML, "Unknown entity reference; only the five predefined entities are accepted.", at: start)
        }
        position += 1
        arena.append(replacement)
    }

    static func isXMLCharacter(_ value: UInt32) -> Bool {
        switch value {
        case 0x09, 0x0A, 0x0D, 0x20...0xD7FF, 0xE000...0xFFFD, 0x10000...0x10FFFF: true
        default: false
        }
    }

    // MARK: - Comments and processing instructions

    private mutating func skipComment() throws(FHIRFormatError) {
        let start = position
        position += 4
        while position + 1 < input.count {
            if input[position] == UInt8(ascii: "-"), input[position + 1] == UInt8(ascii: "-") {
                guard position + 2 < input.count, input[position + 2] == UInt8(ascii: ">") else {
                    throw error(.malformedXML, "'--' is not allowed inside a comment.", at: position)
                }
                position += 3
                return
            }
            position += 1
        }
        throw error(.malformedXML, "Unterminated comment.", at: start)
    }

    private mutating func skipProcessingInstruction() throws(FHIRFormatError) {
        let start = position
        position += 2
        let (nameStart, colon, nameEnd) = try scanQualifiedName()
        if colon >= 0 || (nameEnd - nameStart == 3 && String(decoding: input[nameStart..<nameEnd], as: UTF8.self).lowercased() == "xml") {
            throw error(.malformedXML, "Misplaced XML declaration or malformed processing instruction.", at: start)
        }
        while position + 1 < input.count {
            if input[position] == UInt8(ascii: "?"), input[position + 1] == UInt8(ascii: ">") {
                position += 2
                return
            }
            position += 1
        }
        throw error(.malformedXML, "Unterminated processing instruction.", at: start)
    }

    // MARK: - Lexical helpers

    /// A name with at most one colon, not at either end. Returns the colon offset or -1.
    private mutating func scanQualifiedName() throws(FHIRFormatError) -> (start: Int, colon: Int, end: Int) {
        let start = position
        guard position < input.count, Self.isNameStart(input[position]) else {
            throw error(.malformedXML, "Expected a name.", at: position)
        }
        position += 1
        var colon = -1
        while position < input.count {
            let byte = input[position]
            if byte == UInt8(ascii: ":") {
                guard colon < 0, position + 1 < input.count, Self.isNameStart(input[position + 1]) else {
                    throw error(.malformedXML, "Malformed qualified name.", at: start)
                }
                colon = position
            } else if !Self.isNameCharacter(byte) {
                break
            }
            position += 1
        }
        return (start, colon, position)
    }

    /// ASCII name characters per XML 1.0; every non-ASCII character is accepted in
    /// names (the exact Unicode classes do not matter for safety).
    private static func isNameStart(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "_"), 0x80...: true
        default: false
        }
    }

    private static func isNameCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "_"), 0x80...,
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."): true
        default: false
        }
    }

    private func isASCIILetter(_ byte: UInt8) -> Bool {
        (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z")
    }

    private func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x09 || byte == 0x0D
    }

    private func isAllWhitespace(_ bytes: some Collection<UInt8>) -> Bool {
        bytes.allSatisfy { $0 == 0x20 || $0 == 0x0A || $0 == 0x09 || $0 == 0x0D }
    }

    @discardableResult
    private mutating func skipWhitespace() -> Bool {
        let start = position
        while position < input.count, isWhitespace(input[position]) { position += 1 }
        return position > start
    }

    private func starts(with prefix: [UInt8]) -> Bool {
        guard input.count - position >= prefix.count else { return false }
        for index in 0..<prefix.count where input[position + index] != prefix[index] {
            return false
        }
        return true
    }

    private func equals(_ range: Range<Int>, _ other: Range<Int>) -> Bool {
        guard range.count == other.count else { return false }
        var a = range.lowerBound
        var b = other.lowerBound
        while a < range.upperBound {
            if input[a] != input[b] { return false }
            a += 1
            b += 1
        }
        return true
    }

    private func equals(_ range: Range<Int>, _ bytes: [UInt8]) -> Bool {
        guard range.count == bytes.count else { return false }
        for index in 0..<bytes.count where input[range.lowerBound + index] != bytes[index] {
            return false
        }
        return true
    }

    private func spanBytes(_ span: FHIRXMLSpan) -> ArraySlice<UInt8> {
        span.isDecoded ? arena[Int(span.start)..<Int(span.end)] : ArraySlice(input[Int(span.start)..<Int(span.end)])
    }

    // MARK: - Encoding

    /// One pass over the input: valid UTF-8, and only characters XML 1.0 allows.
    private func validateCharacters() throws(FHIRFormatError) {
        var index = 0
        let count = input.count
        while index < count {
            let byte = input[index]
            if byte < 0x80 {
                if byte < 0x20, byte != 0x09, byte != 0x0A, byte != 0x0D {
                    throw error(.malformedXML, "Control characters are not allowed in XML.", at: index)
                }
                index += 1
                continue
            }
            let length: Int
            var lower: UInt8 = 0x80
            var upper: UInt8 = 0xBF
            switch byte {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; lower = 0xA0
            case 0xE1...0xEC, 0xEE, 0xEF: length = 3
            case 0xED: length = 3; upper = 0x9F
            case 0xF0: length = 4; lower = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; upper = 0x8F
            default: throw error(.invalidUTF8, "The document is not valid UTF-8.", at: index)
            }
            guard index + length <= count else { throw error(.invalidUTF8, "The document is not valid UTF-8.", at: index) }
            let second = input[index + 1]
            guard second >= lower, second <= upper else { throw error(.invalidUTF8, "The document is not valid UTF-8.", at: index) }
            if length > 2 {
                guard input[index + 2] & 0xC0 == 0x80 else { throw error(.invalidUTF8, "The document is not valid UTF-8.", at: index) }
                if length > 3 {
                    guard input[index + 3] & 0xC0 == 0x80 else { throw error(.invalidUTF8, "The document is not valid UTF-8.", at: index) }
                } else if byte == 0xEF, second == 0xBF, input[index + 2] >= 0xBE {
                    throw error(.malformedXML, "U+FFFE and U+FFFF are not allowed in XML.", at: index)
                }
            }
            index += length
        }
    }

    private func error(_ kind: FHIRFormatError.Kind, _ message: String, at offset: Int) -> FHIRFormatError {
        let (line, column) = Self.location(of: offset, in: input)
        return FHIRFormatError(kind, message, line: line, column: column)
    }
}

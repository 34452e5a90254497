/// A parsed XML document: a flat tree of elements and text over the source bytes.
///
/// Parsing is done by hand rather than with FoundationXML because libxml2's entity
/// handling is a security risk for documents from other systems (XXE, entity
/// expansion) and because it is slow. The parser accepts what FHIR XML uses and
/// refuses any DTD. See `FHIRXMLParser` for the exact rules and limits.
public struct FHIRXMLDocument: Sendable {
    /// Well-known namespace indexes, fixed in every document.
    public static let noNamespace: Int32 = 0
    public static let xmlNamespace: Int32 = 1
    public static let fhirNamespace: Int32 = 2
    public static let xhtmlNamespace: Int32 = 3

    static let xmlNamespaceURI: [UInt8] = Array("http://www.w3.org/XML/1998/namespace".utf8)
    static let fhirNamespaceURI: [UInt8] = Array("http://hl7.org/fhir".utf8)
    static let xhtmlNamespaceURI: [UInt8] = Array("http://www.w3.org/1999/xhtml".utf8)

    /// Deepest element nesting the parser accepts; deeper documents fail with `.tooDeep`.
    public static let maximumDepth = FHIRXMLParser.maximumDepth

    public let source: [UInt8]
    /// Decoded text that could not be referenced in the source as is.
    public let arena: [UInt8]
    public let nodes: [FHIRXMLNode]
    public let attributes: [FHIRXMLAttribute]
    /// Namespace URIs; indexes are those in nodes and attributes.
    public let namespaces: [[UInt8]]
    /// Index of the root element in `nodes`.
    public let root: Int

    init(source: [UInt8], arena: [UInt8], nodes: [FHIRXMLNode], attributes: [FHIRXMLAttribute], namespaces: [[UInt8]], root: Int) {
        self.source = source
        self.arena = arena
        self.nodes = nodes
        self.attributes = attributes
        self.namespaces = namespaces
        self.root = root
    }

    /// Parses a complete document: optional XML declaration, comments and processing
    /// instructions around exactly one root element.
    public init(parsing bytes: [UInt8]) throws(FHIRFormatError) {
        self = try FHIRXMLParser.parse(bytes, fragment: false)
    }

    /// Parses a standalone element such as a narrative `div` string: no XML
    /// declaration, byte order mark or DTD.
    public init(parsingFragment bytes: [UInt8]) throws(FHIRFormatError) {
        self = try FHIRXMLParser.parse(bytes, fragment: true)
    }
}

extension FHIRXMLDocument {
    /// The bytes of a span.
    @inlinable
    public func bytes(_ span: FHIRXMLSpan) -> ArraySlice<UInt8> {
        span.isDecoded ? arena[Int(span.start)..<Int(span.end)] : source[Int(span.start)..<Int(span.end)]
    }

    public func string(_ span: FHIRXMLSpan) -> String {
        String(decoding: bytes(span), as: UTF8.self)
    }

    /// Whether the span holds exactly the UTF-8 of `text`.
    public func span(_ span: FHIRXMLSpan, equals text: String) -> Bool {
        var text = text
        return text.withUTF8 { utf8 in
            guard utf8.count == span.count else { return false }
            return bytes(span).elementsEqual(utf8)
        }
    }

    public func localName(of node: Int) -> String {
        string(nodes[node].value)
    }

    /// The children of `node` in document order.
    public func children(of node: Int) -> Children {
        Children(nodes: nodes, first: Int(nodes[node].firstChild))
    }

    /// The value of the unprefixed attribute `name` of an element.
    public func attribute(_ name: String, of node: Int) -> FHIRXMLSpan? {
        let element = nodes[node]
        var index = Int(element.attributeStart)
        while index < Int(element.attributeEnd) {
            let attribute = attributes[index]
            if attribute.namespace == Self.noNamespace, span(attribute.localName, equals: name) {
                return attribute.value
            }
            index += 1
        }
        return nil
    }

    public func namespaceURI(of node: Int) -> String {
        String(decoding: namespaces[Int(nodes[node].namespace)], as: UTF8.self)
    }

    /// 1-based line and column (in characters) of a byte offset in the source.
    public func location(ofOffset offset: Int) -> (line: Int, column: Int) {
        FHIRXMLParser.location(of: offset, in: source)
    }

    public func location(of node: Int) -> (line: Int, column: Int) {
        location(ofOffset: Int(nodes[node].sourceStart))
    }

    public struct Children: Sequence, IteratorProtocol {
        let nodes: [FHIRXMLNode]
        var upcoming: Int

        init(nodes: [FHIRXMLNode], first: Int) {
            self.nodes = nodes
            self.upcoming = first
        }

        public mutating func next() -> Int? {
            guard upcoming >= 0 else { return nil }
            defer { upcoming = Int(nodes[upcoming].nextSibling) }
            return upcoming
        }
    }
}

/// One element or text node of a parsed XML document. Nodes live in one flat array of
/// the document and link to each other by index, so a large document costs a few
/// array growths rather than one allocation per node.
public struct FHIRXMLNode: Sendable {
    public enum Kind: UInt8, Sendable {
        case element
        /// Character data: adjacent text, references and CDATA sections merged.
        case text
    }

    public let kind: Kind
    /// Index into the document's namespace table (elements only; 0 is "no namespace").
    public let namespace: Int32
    /// The local name of an element, or the content of a text node.
    public internal(set) var value: FHIRXMLSpan
    /// The prefix of an element's qualified name (empty when unprefixed).
    public let prefix: FHIRXMLSpan
    public let parent: Int32
    public internal(set) var firstChild: Int32 = -1
    public internal(set) var nextSibling: Int32 = -1
    /// Range of this element's attributes in the document's attribute array
    /// (namespace declarations excluded).
    public let attributeStart: Int32
    public internal(set) var attributeEnd: Int32
    /// Byte range of the node in the source, from `<` to the end of its end tag.
    public let sourceStart: Int32
    public internal(set) var sourceEnd: Int32
    /// For text: true when it holds XML white space only.
    public internal(set) var isWhitespace: Bool

    init(
        kind: Kind, namespace: Int32, value: FHIRXMLSpan, prefix: FHIRXMLSpan, parent: Int32,
        attributeStart: Int32, attributeEnd: Int32, sourceStart: Int, sourceEnd: Int, isWhitespace: Bool
    ) {
        self.kind = kind
        self.namespace = namespace
        self.value = value
        self.prefix = prefix
        self.parent = parent
        self.attributeStart = attributeStart
        self.attributeEnd = attributeEnd
        self.sourceStart = Int32(truncatingIfNeeded: sourceStart)
        self.sourceEnd = Int32(truncatingIfNeeded: sourceEnd)
        self.isWhitespace = isWhitespace
    }
}

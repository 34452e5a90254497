/// An attribute of a parsed element, with its namespace resolved. Namespace
/// declarations (`xmlns`, `xmlns:p`) are consumed by the parser and not kept.
public struct FHIRXMLAttribute: Sendable {
    /// Index into the document's namespace table; 0 for unprefixed attributes.
    public let namespace: Int32
    public let localName: FHIRXMLSpan
    /// The value after entity decoding and attribute-value normalization.
    public let value: FHIRXMLSpan
    /// Source offset of the attribute name, for error positions.
    public let sourceOffset: Int32
}

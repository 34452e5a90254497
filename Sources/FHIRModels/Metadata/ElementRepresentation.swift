/// How an element is written in XML. JSON treats all three alike; only XML needs to know.
public enum ElementRepresentation: Sendable {
    /// An ordinary child element.
    case element
    /// An XML attribute: `Element.id` on datatypes and backbone elements, and `Extension.url`.
    case xmlAttribute
    /// Embedded XHTML: `Narrative.div`.
    case xhtml
}

/// Writes FHIR XML (hl7.org/fhir/R4/xml.html) from the FHIR JSON form, driven by the
/// element metadata: elements come out in the specification's order whatever the
/// JSON member order, primitives become `value` attributes (numbers keep their
/// lexical form), `_name` members merge back into their element, `Element.id` and
/// `Extension.url` become attributes and resources inside `contained`,
/// `Bundle.entry.resource` and the like are wrapped in their element.
///
/// Narrative `div` strings are parsed and checked (well-formed, XHTML only, no active
/// content) and then written as they are.
public enum FHIRXMLWriter {
    /// The XML document for a resource. Throws `.unknownElement` for JSON members the
    /// type does not define, `.unknownResourceType`, `.wrongType` for values of the
    /// wrong JSON kind or misaligned primitive arrays, `.forbiddenNull`, and the
    /// narrative errors of `FHIRNarrative`.
    public static func document(for resource: JSONValue, pretty: Bool = false) throws(FHIRFormatError) -> [UInt8] {
        var converter = FHIRJSONToXMLConverter(pretty: pretty)
        try converter.writeDocument(resource)
        return converter.output.bytes
    }
}

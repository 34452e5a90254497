/// Reads FHIR XML (hl7.org/fhir/R4/xml.html) into the FHIR JSON form, driven by the
/// element metadata: which elements repeat, what type each one has and how a primitive
/// is written in JSON. The XML is parsed by `FHIRXMLDocument`, which refuses DTDs.
public enum FHIRXMLReader {
    /// The resource in `bytes` as a JSON value (`resourceType` first).
    ///
    /// Throws `.wrongNamespace` for elements outside `http://hl7.org/fhir` (XHTML is
    /// allowed only as `Narrative.div`), `.unknownElement` for elements and attributes
    /// the type does not define or that are out of order, `.unknownResourceType`,
    /// `.wrongType` for values that do not fit their primitive type, `.activeContent`
    /// for unsafe narrative, `.tooDeep` when the XML or the resulting JSON nests deeper
    /// than their limits, and the parser's errors for malformed or hostile XML.
    public static func resource(from bytes: [UInt8]) throws(FHIRFormatError) -> JSONValue {
        let document = try FHIRXMLDocument(parsing: bytes)
        return try FHIRXMLToJSONConverter.resource(in: document)
    }
}

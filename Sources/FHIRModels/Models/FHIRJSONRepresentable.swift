/// A typed FHIR model that reads and writes FHIR JSON.
///
/// Reading is strict: unknown members, JSON of the wrong kind, an array where one value is
/// expected (or the reverse) and missing required elements are refused with a
/// `FHIRFormatError` whose expression locates the problem. Writing emits members in the
/// order of the specification.
public protocol FHIRJSONRepresentable: Sendable, Hashable {
    init(json: JSONValue) throws(FHIRFormatError)
    func json() -> JSONValue
}

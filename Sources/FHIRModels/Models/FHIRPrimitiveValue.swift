/// The value carried by a FHIR primitive (`FHIRPrimitive.value`), with its exact JSON form.
///
/// Conformers read and write only the JSON value itself; the `_field` object with `id` and
/// `extension` is handled by `FHIRPrimitive`.
public protocol FHIRPrimitiveValue: Sendable, Hashable {
    /// Reads the value from its JSON form, refusing JSON of the wrong kind or an invalid lexical form.
    init(fhirJSON json: JSONValue) throws(FHIRFormatError)
    /// The value's JSON form; `init(fhirJSON:)` reads it back to an equal value.
    var fhirJSON: JSONValue { get }
}

/// Structural validation of a FHIR JSON resource against the R4 element metadata: known
/// resource type, known elements, cardinality, array shape, JSON value kinds, primitive
/// formats, primitive extensions (`_name`) and nested resources.
///
/// It does not check invariants (FHIRPath constraints), terminology bindings, profiles or
/// references. Issues carry a FHIRPath-style `expression` rooted at the resource type, with
/// indices on every repeating element (`Patient.name[0].given[1]`). Nested resources
/// continue the path of the element that holds them (`Bundle.entry[3].resource.name[0]`,
/// `Patient.contained[0].code`). Choice elements are named as in JSON (`Observation.valueQuantity`),
/// and an extension on a primitive is addressed on the primitive (`Patient.birthDate.extension[0]`),
/// not on the `_birthDate` spelling. Diagnostics name elements, never values.
public struct FHIRValidator: Sendable {
    public init() {}

    /// All issues found, in document order; empty when the resource is structurally valid.
    public func validate(_ resource: JSONValue) -> [OutcomeIssue] {
        var walker = StructureWalker()
        walker.walkRoot(resource)
        return walker.issues
    }
}

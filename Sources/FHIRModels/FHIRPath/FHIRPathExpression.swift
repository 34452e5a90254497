/// A compiled FHIRPath expression (hl7.org/fhirpath), in the subset that the R4 search
/// parameters use: paths (choice elements included), `|`, `where`, `exists`, `empty`, `not`,
/// `first`, `last`, `count`, `hasValue`, `extension(url)`, `resolve()`, `ofType`/`as`/`is`,
/// `=`, `!=`, `and`, `or`, `xor`, `implies`, string, number and boolean literals, `%resource`.
///
/// Anything else (arithmetic, comparisons, date literals, other functions) throws
/// `FHIRPathError.unsupported` when compiling, so an expression is never evaluated half-right.
public struct FHIRPathExpression: Sendable {
    public let text: String
    let root: FHIRPathNode

    public init(_ text: String) throws(FHIRPathError) {
        self.text = text
        root = try FHIRPathParser.parse(text)
    }

    /// The result collection for `resource` (FHIR JSON; its `resourceType` types the navigation).
    public func evaluate(_ resource: JSONValue) throws(FHIRPathError) -> [FHIRPathValue] {
        let context = FHIRPathValue(node: resource, typeName: resource["resourceType"]?.stringValue)
        return try FHIRPathEvaluator(resource: context).evaluate(root, focus: [context], this: context)
    }
}

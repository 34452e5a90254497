/// One item of a FHIRPath result collection: a node of the FHIR JSON, with its FHIR type when
/// the navigation knows it.
public struct FHIRPathValue: Sendable, Hashable {
    /// The JSON node: a resource, datatype object or primitive. `.null` for a primitive that has
    /// only extensions, and for a reference `resolve()` could only type, not fetch.
    public let node: JSONValue
    /// The FHIR type (`HumanName`, `date`, `Patient.contact`, `Patient`), or a FHIRPath system
    /// type for literals (`System.String`, `System.Integer`, `System.Decimal`, `System.Boolean`);
    /// `nil` when unknown.
    public let typeName: String?
    /// The `_name` object of a primitive: its `id` and `extension`.
    public let primitiveElement: JSONObject?

    public init(node: JSONValue, typeName: String?, primitiveElement: JSONObject? = nil) {
        self.node = node
        self.typeName = typeName
        self.primitiveElement = primitiveElement
    }

    static func boolean(_ value: Bool) -> FHIRPathValue {
        FHIRPathValue(node: .bool(value), typeName: "System.Boolean")
    }
}

/// Element metadata for every FHIR R4 type: what the JSON and XML codecs and the structural
/// validator need to know about names, order, cardinality and types.
///
/// The data is generated from the official StructureDefinitions by `scripts/generate-metadata.py`
/// into `FHIRMetadata+Data.swift` and decoded once, on first use.
public enum FHIRMetadata {
    /// Datatypes, resources (abstract ones included) and backbone types, by name.
    public static func type(named name: String) -> TypeInfo? {
        catalog.types[name]
    }

    /// Concrete resource types only: `Patient` yes, `Resource`, `DomainResource` and `HumanName` no.
    public static func resource(named name: String) -> TypeInfo? {
        guard let type = catalog.types[name], type.kind == .resource, !type.isAbstract else { return nil }
        return type
    }

    /// Every type (primitive, complex, resource, abstract and backbone), sorted by name: for
    /// describers such as the OpenAPI document's schemas.
    public static var allTypes: [TypeInfo] { catalog.types.keys.sorted().compactMap { catalog.types[$0] } }

    /// The 146 concrete R4 resource types, sorted by name.
    public static let resourceTypeNames: [String] = catalog.resourceTypeNames

    /// How a primitive type is written in JSON; `nil` when `typeCode` is not a primitive type.
    public static func primitiveJSONKind(of typeCode: String) -> FHIRPrimitiveJSONKind? {
        switch typeCode {
        case "boolean": .boolean
        case "integer", "positiveInt", "unsignedInt": .integer
        case "decimal": .decimal
        case "string", "code", "id", "markdown", "uri", "url", "canonical", "oid", "uuid",
             "base64Binary", "date", "dateTime", "instant", "time", "xhtml":
            .string
        default: nil
        }
    }

    /// The JSON name of one variant of a choice element: `value` + `Quantity` is `valueQuantity`.
    public static func choiceName(_ base: String, _ typeCode: String) -> String {
        // Type codes are ASCII; uppercase the first byte without Unicode case mapping.
        var bytes = Array(base.utf8)
        bytes.reserveCapacity(base.utf8.count + typeCode.utf8.count)
        for (offset, byte) in typeCode.utf8.enumerated() {
            bytes.append(offset == 0 && byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") ? byte - 32 : byte)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Decoded on first use; `static let` makes that thread-safe and once only.
    static let catalog = Catalog(decoding: encoded)

    struct Catalog: Sendable {
        let types: [String: TypeInfo]
        let resourceTypeNames: [String]
    }
}

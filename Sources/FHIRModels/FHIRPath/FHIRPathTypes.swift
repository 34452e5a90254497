/// The FHIR and FHIRPath type hierarchy, as far as `is`, `as` and `ofType` need it.
enum FHIRPathTypes {
    /// Specialisations among FHIR datatypes: a `code` is a `string`, an `Age` is a `Quantity`.
    private static let parents: [String: String] = [
        "code": "string", "id": "string", "markdown": "string",
        "url": "uri", "canonical": "uri", "oid": "uri", "uuid": "uri",
        "positiveInt": "integer", "unsignedInt": "integer",
        "Age": "Quantity", "Count": "Quantity", "Distance": "Quantity", "Duration": "Quantity",
        "MoneyQuantity": "Quantity", "SimpleQuantity": "Quantity",
        "DomainResource": "Resource",
    ]

    private static let systemTypes: Set<String> = [
        "Boolean", "String", "Integer", "Decimal", "Date", "DateTime", "Time", "Quantity",
    ]

    /// The canonical name of a type specifier: `FHIR.Patient` is `Patient`; `String` and
    /// `System.String` are `System.String`; `Quantity` is the FHIR type.
    static func canonical(_ specifier: String) -> String {
        if specifier.hasPrefix("FHIR.") { return String(specifier.dropFirst(5)) }
        if specifier.hasPrefix("System.") { return specifier }
        if FHIRMetadata.type(named: specifier) == nil, systemTypes.contains(specifier) { return "System." + specifier }
        return specifier
    }

    /// Whether a value of type `name` is of the canonical type `target` (itself or a supertype).
    static func conforms(_ name: String?, to target: String) -> Bool {
        guard var current = name else { return false }
        while true {
            if current == target { return true }
            if let parent = parent(of: current) { current = parent } else { return false }
        }
    }

    private static func parent(of name: String) -> String? {
        if let parent = parents[name] { return parent }
        guard let type = FHIRMetadata.type(named: name) else { return nil }
        switch type.kind {
        case .resource where name != "Resource":
            return type.elements.contains { $0.name == "text" } ? "DomainResource" : "Resource"
        case .backbone: return "BackboneElement"
        case .complex where name != "Element": return name == "BackboneElement" ? "Element" : "Element"
        case .primitive: return "Element"
        default: return nil
        }
    }
}

/// The FHIR and FHIRPath type hierarchy, as far as `is`, `as` and `ofType` need it.
enum FHIRPathTypes {
    /// Specialisations of FHIR primitives. The R4 suite has `is` honour them (`gender.is(string)`
    /// is true) but `as` and `ofType` not (`gender.as(string)` is empty).
    private static let primitiveParents: [String: String] = [
        "code": "string", "id": "string", "markdown": "string",
        "url": "uri", "canonical": "uri", "oid": "uri", "uuid": "uri",
        "positiveInt": "integer", "unsignedInt": "integer",
    ]

    /// Specialisations among complex FHIR types: an `Age` is a `Quantity`.
    private static let parents: [String: String] = [
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

    /// Whether `canonical(specifier)` names a FHIR type or a FHIRPath system type.
    /// Any `System.` name is accepted (the suite's `is(System.Patient)` is false, not an error).
    static func isKnown(_ canonicalName: String) -> Bool {
        if canonicalName.hasPrefix("System.") { return true }
        return FHIRMetadata.type(named: canonicalName) != nil
    }

    /// Whether a value of type `name` is of the canonical type `target` (itself or a supertype).
    /// `primitiveSubtypes` lets a `code` count as a `string` (for `is`).
    static func conforms(_ name: String?, to target: String, primitiveSubtypes: Bool = false) -> Bool {
        guard var current = name else { return false }
        if primitiveSubtypes, let parent = primitiveParents[current], parent == target { return true }
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

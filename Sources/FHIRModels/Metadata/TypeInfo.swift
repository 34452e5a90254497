/// The elements of one FHIR type (datatype, resource or backbone element), in snapshot order.
/// A class so that the graph of types is shared, not copied, when looked up.
public final class TypeInfo: Sendable {
    /// `Patient`, `HumanName`, `string`, or a backbone path such as `Patient.contact`.
    public let name: String
    public let kind: FHIRTypeKind
    /// `Resource`, `DomainResource`, `Element` and `BackboneElement`: never instantiated directly.
    public let isAbstract: Bool
    /// Spec (snapshot) order, including inherited elements (`id`, `meta`, ..., `extension`, `modifierExtension`).
    public let elements: [ElementInfo]

    private struct JSONName: Sendable {
        let index: Int
        let type: String
    }

    /// Every JSON member name, choice variants expanded, so that lookup is one hash probe.
    private let jsonNames: [String: JSONName]

    /// Indices of the elements with a minimum cardinality of 1 or more, for the validator.
    let requiredIndices: [Int]

    init(name: String, kind: FHIRTypeKind, isAbstract: Bool, elements: [ElementInfo]) {
        precondition(elements.count <= 128, "ElementSet holds at most 128 elements")
        self.name = name
        self.kind = kind
        self.isAbstract = isAbstract
        self.elements = elements
        var jsonNames: [String: JSONName] = [:]
        jsonNames.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            if element.isChoice {
                for type in element.types {
                    jsonNames[FHIRMetadata.choiceName(element.name, type)] = JSONName(index: index, type: type)
                }
            } else {
                jsonNames[element.name] = JSONName(index: index, type: element.types[0])
            }
        }
        self.jsonNames = jsonNames
        requiredIndices = elements.indices.filter { elements[$0].min > 0 }
    }

    /// The element a JSON member name denotes and the concrete type it carries:
    /// `valueQuantity` gives the `value` element and `Quantity`; `gender` gives `gender` and `code`.
    /// Does not handle the `_name` prefix of primitive extensions: callers strip it.
    public func element(forJSONName name: String) -> (element: ElementInfo, index: Int, type: String)? {
        guard let entry = jsonNames[name] else { return nil }
        return (elements[entry.index], entry.index, entry.type)
    }
}

extension TypeInfo: CustomStringConvertible {
    public var description: String { "TypeInfo(\(name))" }
}

/// The element metadata of one type, rearranged for the XML codecs: names as bytes,
/// JSON member names (including `_name`) precomputed, primitive kinds and child types
/// resolved. Built once for every type, so that converting an element costs no string
/// building, no type-code comparison and at most one hash lookup.
final class FHIRXMLTypePlan: Sendable {
    struct Member: Sendable {
        let element: Int
        let variant: Int
        let isExtra: Bool
    }

    let type: TypeInfo
    let elements: [FHIRXMLElementPlan]
    /// Every JSON member name of the type, `_name` forms included.
    let members: [String: Member]
    /// Indexes of the elements written as XML attributes (`id`, `url`).
    let attributeElements: [Int]

    private init(type: TypeInfo, elements: [FHIRXMLElementPlan]) {
        self.type = type
        self.elements = elements
        var members: [String: Member] = [:]
        var attributeElements: [Int] = []
        for (elementIndex, element) in elements.enumerated() {
            if element.representation == .xmlAttribute { attributeElements.append(elementIndex) }
            for (variantIndex, variant) in element.variants.enumerated() {
                members[variant.jsonName] = Member(element: elementIndex, variant: variantIndex, isExtra: false)
                if case .primitive = variant.content, element.representation == .element {
                    members[variant.extraJSONName] = Member(element: elementIndex, variant: variantIndex, isExtra: true)
                }
            }
        }
        self.members = members
        self.attributeElements = attributeElements
    }

    /// Plans for every type in the metadata; `.complex` contents index into it.
    static let all: [FHIRXMLTypePlan] = {
        let types = FHIRMetadata.catalog.types.values.sorted { $0.name < $1.name }
        var indexes: [String: Int] = [:]
        for (index, type) in types.enumerated() { indexes[type.name] = index }
        return types.map { type in
            FHIRXMLTypePlan(type: type, elements: type.elements.map { element in
                let codes = element.types
                let variants = codes.map { code -> FHIRXMLElementPlan.Variant in
                    let jsonName = element.isChoice ? FHIRMetadata.choiceName(element.name, code) : element.name
                    let content: FHIRXMLElementPlan.Content
                    if code == "xhtml" {
                        content = .xhtml
                    } else if let kind = FHIRMetadata.primitiveJSONKind(of: code) {
                        content = .primitive(kind)
                    } else if code == "Resource" {
                        content = .resource
                    } else if let index = indexes[code] {
                        content = .complex(index)
                    } else {
                        content = .unknown
                    }
                    return .init(
                        suffix: Array(jsonName.utf8.dropFirst(element.name.utf8.count)),
                        jsonName: jsonName, extraJSONName: "_" + jsonName, content: content
                    )
                }
                return FHIRXMLElementPlan(
                    name: Array(element.name.utf8), isArray: element.isArray, isChoice: element.isChoice,
                    representation: element.representation, variants: variants
                )
            })
        }
    }()

    private static let indexes: [String: Int] = {
        var indexes: [String: Int] = [:]
        for (index, plan) in all.enumerated() { indexes[plan.type.name] = index }
        return indexes
    }()

    static func plan(named name: String) -> FHIRXMLTypePlan? {
        indexes[name].map { all[$0] }
    }

    /// A concrete resource type's plan.
    static func resource(named name: String) -> FHIRXMLTypePlan? {
        guard let plan = plan(named: name), plan.type.kind == .resource, !plan.type.isAbstract else { return nil }
        return plan
    }

    static let extensionPlan: FHIRXMLTypePlan = plan(named: "Extension")!

    /// The element whose XML name is `bytes`, searching from element `start` on.
    @inline(__always)
    func match(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> (element: Int, variant: Int)? {
        var index = start
        while index < elements.count {
            if let variant = elements[index].variant(matching: bytes) { return (index, variant) }
            index += 1
        }
        return nil
    }
}

/// One element of a FHIR type, from the type's StructureDefinition snapshot.
public struct ElementInfo: Sendable, Hashable {
    /// JSON and XML base name. For a choice element `value[x]` it is `value`.
    public let name: String
    public let min: Int
    /// The maximum cardinality; `nil` means unbounded (`*`).
    public let max: Int?
    /// Type codes: primitive or complex datatype names, `Resource` for any resource, or a
    /// backbone type name such as `Patient.contact`. A `contentReference` is resolved to the
    /// backbone it names (`Questionnaire.item.item` has type `Questionnaire.item`).
    public let types: [String]
    /// A choice element (`[x]`): its JSON name is `name` plus one capitalised type code.
    public let isChoice: Bool
    /// Part of the `_summary=true` view.
    public let isSummary: Bool
    public let representation: ElementRepresentation

    /// A JSON array and a repeating XML element: the spec codes any element whose maximum
    /// cardinality is not 1 as an array, even when a profile restricts it further.
    public var isArray: Bool { max != 1 }

    init(name: String, min: Int, max: Int?, types: [String], isChoice: Bool, isSummary: Bool,
         representation: ElementRepresentation) {
        self.name = name
        self.min = min
        self.max = max
        self.types = types
        self.isChoice = isChoice
        self.isSummary = isSummary
        self.representation = representation
    }
}

/// One R4 search parameter as it applies to one resource type: what a search engine needs to
/// index a resource (`expression`) and to interpret a query (`kind`, `targets`, modifiers).
public struct SearchParameterDefinition: Sendable, Hashable {
    /// The search parameter types of FHIR R4 (`SearchParameter.type`).
    public enum Kind: String, Sendable, Hashable {
        case number, date, string, token, reference, composite, quantity, uri, special
    }

    /// One part of a composite parameter: the canonical URL of the part's definition and the
    /// FHIRPath expression, relative to each value the composite's own expression yields.
    public struct Component: Sendable, Hashable {
        public let definition: String
        public let expression: String

        public init(definition: String, expression: String) {
            self.definition = definition
            self.expression = expression
        }
    }

    /// `birthdate`, `_lastUpdated`.
    public let code: String
    /// The base this entry is for: `Resource` or `DomainResource` for the common parameters.
    public let resourceType: String
    public let kind: Kind
    /// The FHIRPath expression restricted to `resourceType`; `nil` when the definition has none
    /// (`_text`, `_content`, `_query`).
    public let expression: String?
    /// Resource types a reference parameter may point to.
    public let targets: [String]
    public let multipleOr: Bool?
    public let multipleAnd: Bool?
    /// `eq`, `ne`, `gt`, ... when the definition lists them.
    public let comparators: [String]
    /// `missing`, `exact`, ... when the definition lists them.
    public let modifiers: [String]
    public let components: [Component]

    public init(code: String, resourceType: String, kind: Kind, expression: String?, targets: [String] = [],
                multipleOr: Bool? = nil, multipleAnd: Bool? = nil, comparators: [String] = [],
                modifiers: [String] = [], components: [Component] = []) {
        self.code = code
        self.resourceType = resourceType
        self.kind = kind
        self.expression = expression
        self.targets = targets
        self.multipleOr = multipleOr
        self.multipleAnd = multipleAnd
        self.comparators = comparators
        self.modifiers = modifiers
        self.components = components
    }
}

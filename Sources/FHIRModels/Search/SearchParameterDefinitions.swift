/// The search parameters defined by FHIR R4, generated from the specification by
/// `scripts/generate-search-parameters.py` into `SearchParameterDefinitions+Data.swift`.
public enum SearchParameterDefinitions {
    /// The parameters of `resourceType`, followed by the common `Resource` and, for domain
    /// resources, `DomainResource` ones (`_id`, `_lastUpdated`, `_tag`, `_text`, ...).
    /// Empty for a name that is not a resource type.
    public static func parameters(for resourceType: String) -> [SearchParameterDefinition] {
        guard let typeInfo = FHIRMetadata.type(named: resourceType), typeInfo.kind == .resource else { return [] }
        var result = catalog.byType[resourceType] ?? []
        if resourceType != "Resource" {
            if resourceType != "DomainResource", isDomainResource(typeInfo) {
                result += catalog.byType["DomainResource"] ?? []
            }
            result += catalog.byType["Resource"] ?? []
        }
        return result
    }

    /// The parameter `code` of `resourceType` (common ones included), or `nil`.
    public static func parameter(_ code: String, for resourceType: String) -> SearchParameterDefinition? {
        parameters(for: resourceType).first { $0.code == code }
    }

    /// The parameters of `resourceType` (common ones included) by code, built once per process.
    public static func byCode(for resourceType: String) -> [String: SearchParameterDefinition] {
        byTypeAndCode[resourceType] ?? [:]
    }

    private static let byTypeAndCode: [String: [String: SearchParameterDefinition]] = {
        var result: [String: [String: SearchParameterDefinition]] = [:]
        for type in FHIRMetadata.resourceTypeNames {
            var byCode: [String: SearchParameterDefinition] = [:]
            for definition in parameters(for: type) where byCode[definition.code] == nil {
                byCode[definition.code] = definition
            }
            result[type] = byCode
        }
        return result
    }()

    /// Every entry: one per parameter and base resource type, sorted by type then code.
    public static var all: [SearchParameterDefinition] { catalog.all }

    /// `Bundle`, `Binary` and `Parameters` derive from `Resource` directly: no `text`, so no `_text`.
    private static func isDomainResource(_ type: TypeInfo) -> Bool {
        type.elements.contains { $0.name == "text" }
    }

    /// Decoded on first use; `static let` makes that thread-safe and once only.
    private static let catalog = Catalog(decoding: encoded)

    private struct Catalog: Sendable {
        let all: [SearchParameterDefinition]
        let byType: [String: [SearchParameterDefinition]]

        /// The data is generated and compiled in: a malformed entry is a build defect and traps.
        init(decoding text: String) {
            guard case .array(let entries)? = try? FHIRJSON.parse(text) else {
                preconditionFailure("search parameters: embedded data is not a JSON array")
            }
            func strings(_ value: JSONValue?) -> [String] {
                value?.arrayValue?.compactMap(\.stringValue) ?? []
            }
            var all: [SearchParameterDefinition] = []
            all.reserveCapacity(entries.count)
            for entry in entries {
                guard let code = entry["c"]?.stringValue, let type = entry["r"]?.stringValue,
                      let kindName = entry["k"]?.stringValue, let kind = SearchParameterDefinition.Kind(rawValue: kindName)
                else { preconditionFailure("search parameters: malformed entry") }
                let components = (entry["p"]?.arrayValue ?? []).map { pair in
                    let parts = strings(pair)
                    precondition(parts.count == 2, "search parameters: malformed component")
                    return SearchParameterDefinition.Component(definition: parts[0], expression: parts[1])
                }
                all.append(SearchParameterDefinition(
                    code: code, resourceType: type, kind: kind, expression: entry["e"]?.stringValue,
                    targets: strings(entry["t"]), multipleOr: entry["o"]?.boolValue, multipleAnd: entry["a"]?.boolValue,
                    comparators: strings(entry["cmp"]), modifiers: strings(entry["m"]), components: components))
            }
            self.all = all
            self.byType = Dictionary(grouping: all, by: \.resourceType)
        }
    }
}

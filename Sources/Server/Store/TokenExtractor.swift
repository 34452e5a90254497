import FHIRModels

/// Extracts token index values from a resource. For now: the resource's top-level
/// `identifier`, which conditional interactions and conditional references use.
/// The search issue replaces this with extraction driven by the official SearchParameters.
struct TokenExtractor {
    struct Row: Sendable, Hashable {
        let systemCode: Int64
        let code: Int64
    }

    func rows(type: String, resource: JSONValue) -> [Row] {
        guard let identifiers = resource["identifier"] else { return [] }
        let list = identifiers.arrayValue ?? [identifiers]
        var rows: [Row] = []
        var seen = Set<Row>()
        for identifier in list {
            guard let value = identifier["value"]?.stringValue else { continue }
            let system = identifier["system"]?.stringValue ?? ""
            let row = Row(
                systemCode: SearchTokenHash.systemCode(type: type, param: "identifier", system: system, code: value),
                code: SearchTokenHash.code(type: type, param: "identifier", code: value)
            )
            if seen.insert(row).inserted { rows.append(row) }
        }
        return rows
    }
}

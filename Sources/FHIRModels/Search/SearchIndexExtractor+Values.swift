import Foundation

extension SearchIndexExtractor {
    /// The index values of one FHIRPath result item for a parameter of `kind`. Items of a type
    /// the kind cannot use (a `Range` for a quantity parameter, a resource for a reference
    /// parameter) give none. The FHIR type comes from the navigation; when it is unknown the
    /// JSON's shape decides.
    static func values(of item: FHIRPathValue, as kind: SearchParameterDefinition.Kind) -> [SearchIndexValue] {
        let node = item.node
        switch kind {
        case .token: return tokens(node, type: item.typeName)
        case .string: return strings(node, type: item.typeName)
        case .date: return dates(node, type: item.typeName)
        case .reference: return references(node, type: item.typeName)
        case .number:
            guard let lexical = node.numberLexical, let value = decimal(lexical) else { return [] }
            return [.number(value)]
        case .quantity: return quantities(node, type: item.typeName)
        case .uri:
            guard let text = node.stringValue, !text.isEmpty else { return [] }
            return [.uri(text)]
        case .composite, .special: return []
        }
    }

    private static func tokens(_ node: JSONValue, type: String?) -> [SearchIndexValue] {
        switch node {
        case .bool(let flag): return [.token(system: nil, code: flag ? "true" : "false", display: nil)]
        case .string(let text): return text.isEmpty ? [] : [.token(system: nil, code: text, display: nil)]
        case .number(let lexical): return [.token(system: nil, code: lexical, display: nil)]
        case .object: break
        default: return []
        }
        switch type ?? shape(of: node) {
        case "Coding": return coding(node).map { [$0] } ?? []
        case "CodeableConcept":
            var result = (node["coding"]?.arrayValue ?? []).compactMap(coding)
            if let text = node["text"]?.stringValue, !text.isEmpty {
                result.append(.token(system: nil, code: nil, display: text))
            }
            return result
        case "Identifier":
            let system = node["system"]?.stringValue, value = node["value"]?.stringValue
            guard system != nil || value != nil else { return [] }
            return [.token(system: system, code: value, display: nil)]
        case "ContactPoint":
            guard let value = node["value"]?.stringValue else { return [] }
            return [.token(system: node["system"]?.stringValue, code: value, display: nil)]
        default: return []
        }
    }

    private static func coding(_ node: JSONValue) -> SearchIndexValue? {
        let system = node["system"]?.stringValue, code = node["code"]?.stringValue, display = node["display"]?.stringValue
        guard system != nil || code != nil || display != nil else { return nil }
        return .token(system: system, code: code, display: display)
    }

    private static func strings(_ node: JSONValue, type: String?) -> [SearchIndexValue] {
        if let text = node.stringValue { return text.isEmpty ? [] : [.string(text)] }
        guard node.objectValue != nil else { return [] }
        let members: [String]
        switch type ?? shape(of: node) {
        case "HumanName": members = ["family", "given", "prefix", "suffix", "text"]
        case "Address": members = ["line", "city", "district", "state", "postalCode", "country", "text"]
        default: return []
        }
        var result: [SearchIndexValue] = []
        for member in members {
            guard let value = node[member] else { continue }
            for part in value.arrayValue ?? [value] {
                if let text = part.stringValue, !text.isEmpty { result.append(.string(text)) }
            }
        }
        return result
    }

    private static func dates(_ node: JSONValue, type: String?) -> [SearchIndexValue] {
        if let text = node.stringValue {
            guard let range = SearchIndexValue.dateRange(text) else { return [] }
            return [.date(low: range.low, high: range.high)]
        }
        guard node.objectValue != nil else { return [] }
        switch type ?? shape(of: node) {
        case "Period":
            return period(node).map { [.date(low: $0.low, high: $0.high)] } ?? []
        case "Timing":
            // Only the outer limits of a schedule count (R4 search, date parameters).
            var ranges = (node["event"]?.arrayValue ?? []).compactMap { $0.stringValue.flatMap(SearchIndexValue.dateRange) }
            if let bounds = node["repeat"]?["boundsPeriod"], let range = period(bounds) { ranges.append(range) }
            guard let low = ranges.map(\.low).min(), let high = ranges.map(\.high).max() else { return [] }
            return [.date(low: low, high: high)]
        default: return []
        }
    }

    /// A period's span; a missing end is open (`distantFuture`), as is a missing start.
    private static func period(_ node: JSONValue) -> (low: Date, high: Date)? {
        let start = node["start"]?.stringValue, end = node["end"]?.stringValue
        guard start != nil || end != nil else { return nil }
        var low = Date.distantPast, high = Date.distantFuture
        if let start {
            guard let range = SearchIndexValue.dateRange(start) else { return nil }
            low = range.low
        }
        if let end {
            guard let range = SearchIndexValue.dateRange(end) else { return nil }
            high = range.high
        }
        return (low, high)
    }

    private static func references(_ node: JSONValue, type: String?) -> [SearchIndexValue] {
        if let text = node.stringValue {
            // canonical or uri elements: a canonical's `|version` is not part of the target.
            let target = text.split(separator: "|", maxSplits: 1).first.map(String.init) ?? text
            return reference(target, declaredType: nil, keep: text).map { [$0] } ?? []
        }
        guard node.objectValue != nil, node["resourceType"] == nil else { return [] }
        // A logical reference's identifier is indexed as a token of the reference parameter,
        // for the `:identifier` modifier.
        var result: [SearchIndexValue] = []
        if let identifier = node["identifier"], identifier.objectValue != nil,
           let value = identifier["value"]?.stringValue, !value.isEmpty {
            result.append(.token(system: identifier["system"]?.stringValue, code: value, display: nil))
        }
        if let text = node["reference"]?.stringValue,
           let target = reference(text, declaredType: node["type"]?.stringValue, keep: nil) {
            result.append(target)
        }
        return result
    }

    /// `Type/id` (optionally `/_history/v`) relative or at the end of an absolute URL, parsed by
    /// `ResourceReference`; other texts (`#contained`, `urn:uuid:…`, conditional `Type?query`)
    /// are kept as URL only.
    private static func reference(_ text: String, declaredType: String?, keep original: String?) -> SearchIndexValue? {
        guard !text.isEmpty else { return nil }
        let absolute = text.contains(":")
        let url = original ?? (absolute || text.hasPrefix("#") ? text : nil)
        if text.hasPrefix("#") || text.contains("?") { return .reference(type: nil, id: nil, url: text) }
        if let target = ResourceReference(text).target {
            return .reference(type: target.type, id: target.id, url: absolute ? url : nil)
        }
        // A bare id with `Reference.type` is a relative reference too.
        if !absolute, !text.contains("/"), let declaredType, isResourceType(declaredType), FHIRLexical.isID(text) {
            return .reference(type: declaredType, id: text, url: nil)
        }
        return .reference(type: nil, id: nil, url: text)
    }

    private static func isResourceType(_ name: String) -> Bool {
        ResourceReference.isResourceType(name)
    }

    private static func quantities(_ node: JSONValue, type: String?) -> [SearchIndexValue] {
        guard node.objectValue != nil, let lexical = node["value"]?.numberLexical, let value = decimal(lexical) else { return [] }
        switch type ?? shape(of: node) {
        case "Money":
            return [.quantity(value: value, system: "urn:iso:std:iso:4217", code: node["currency"]?.stringValue, unit: nil)]
        case "Quantity", "Age", "Count", "Distance", "Duration", "SimpleQuantity", "MoneyQuantity":
            return [.quantity(value: value, system: node["system"]?.stringValue, code: node["code"]?.stringValue,
                              unit: node["unit"]?.stringValue)]
        default: return []
        }
    }

    private static func decimal(_ lexical: String) -> Decimal? {
        Decimal(string: lexical, locale: posix)
    }

    private static let posix = Locale(identifier: "en_US_POSIX")

    /// A best guess at the FHIR type of an object the navigation could not type.
    private static func shape(of node: JSONValue) -> String {
        if node["coding"] != nil { return "CodeableConcept" }
        if node["currency"] != nil { return "Money" }
        if node["value"]?.numberLexical != nil { return "Quantity" }
        if node["start"] != nil || node["end"] != nil { return "Period" }
        if node["family"] != nil || node["given"] != nil { return "HumanName" }
        if node["city"] != nil || node["line"] != nil || node["postalCode"] != nil { return "Address" }
        if node["code"] != nil { return "Coding" }
        if node["value"] != nil { return "Identifier" }
        return ""
    }
}

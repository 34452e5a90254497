import FHIRModels

/// `_summary` and `_elements` (R4 3.1.1.5.8–9): trims each resource of a search to the
/// requested view and marks it `SUBSETTED`, so no client mistakes it for the whole resource.
struct SearchResultShaper {
    var summary: SearchQuery.Summary?
    var elements: [String]?

    func shape(_ resource: JSONValue) -> JSONValue {
        guard summary != nil || elements != nil, let object = resource.objectValue,
              let type = object["resourceType"]?.stringValue, let info = FHIRMetadata.resource(named: type) else { return resource }
        let keep: (String) -> Bool
        if let elements {
            let wanted = Set(elements)
            // Mandatory elements always stay (R4 3.1.1.5.9), so the result is still valid.
            keep = { key in
                if wanted.contains(key) { return true }
                guard let element = Self.element(key, in: info) else { return false }
                return element.min > 0 || (element.isChoice && wanted.contains(element.name))
            }
        } else {
            switch summary {
            case .true?:
                keep = { key in Self.element(key, in: info)?.isSummary ?? false }
            case .text?:
                keep = { key in key == "text" || (Self.element(key, in: info)?.min ?? 0) > 0 }
            case .data?:
                keep = { key in key != "text" }
            default:
                return resource
            }
        }
        var shaped = JSONObject()
        for (key, value) in object {
            if key == "resourceType" || key == "id" || key == "meta" || keep(key) { shaped.append(key: key, value: value) }
        }
        return .object(markSubsetted(shaped))
    }

    private func markSubsetted(_ object: JSONObject) -> JSONObject {
        var object = object
        var meta = object["meta"]?.objectValue ?? JSONObject()
        var tags = meta["tag"]?.arrayValue ?? []
        // A view already subsetted (the doctor directory's) carries the tag once.
        if !tags.contains(where: DirectoryView.isSubsettedTag) { tags.append(.object([
            "system": .string("http://terminology.hl7.org/CodeSystem/v3-ObservationValue"),
            "code": .string("SUBSETTED"),
            "display": .string("subsetted"),
        ])) }
        meta["tag"] = .array(tags)
        if object["meta"] == nil {
            // Keep `meta` right after `id`, where FHIR JSON puts it.
            var ordered = JSONObject()
            for (key, value) in object {
                ordered.append(key: key, value: value)
                if key == "id" { ordered.append(key: "meta", value: .object(meta)) }
            }
            if ordered["meta"] == nil { ordered.append(key: "meta", value: .object(meta)) }
            return ordered
        }
        object["meta"] = .object(meta)
        return object
    }

    static func element(_ key: String, in info: TypeInfo) -> ElementInfo? {
        info.elements.first { $0.name == key || ($0.isChoice && isChoiceKey(key, $0.name)) }
    }

    /// `valueQuantity` is the choice `value[x]`: the name followed by a capitalised type.
    static func isChoiceKey(_ key: String, _ name: String) -> Bool {
        guard key.hasPrefix(name), key.count > name.count else { return false }
        return key[key.index(key.startIndex, offsetBy: name.count)].isUppercase
    }
}

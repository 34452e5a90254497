import FHIRModels
import Foundation
import Mapping

/// What the tests check on FHIR JSON: structural validity (FHIRValidator plus the few
/// invariants the mapping must keep that it does not check), and where two resources differ.
enum FHIRCheck {
    /// Validator errors, plus ext-1 (an extension has a value or sub-extensions, not both, and a
    /// url), cmp-1 (a Composition section has text, entries or sub-sections) and `resourceType`.
    static func problems(_ resource: JSONValue) -> [String] {
        var problems = FHIRValidator().validate(resource).filter { $0.severity == .error || $0.severity == .fatal }
            .map(\.description)
        if resource["resourceType"]?.stringValue == nil { problems.append("no resourceType") }
        walk(resource, path: resource["resourceType"]?.stringValue ?? "") { value, path in
            guard let object = value.objectValue else { return }
            if let extensions = object["extension"]?.arrayValue {
                for (index, item) in extensions.enumerated() {
                    let hasValue = item.objectValue?.keys.contains { $0.hasPrefix("value") } ?? false
                    let hasNested = item["extension"] != nil
                    if hasValue == hasNested || item["url"]?.stringValue == nil {
                        problems.append("\(path).extension[\(index)]: ext-1")
                    }
                }
            }
        }
        if resource["resourceType"]?.stringValue == "Composition" {
            for (index, section) in (resource["section"]?.arrayValue ?? []).enumerated()
            where section["text"] == nil && section["entry"] == nil && section["section"] == nil {
                problems.append("Composition.section[\(index)]: cmp-1")
            }
        }
        return problems
    }

    static func walk(_ value: JSONValue, path: String, _ visit: (JSONValue, String) -> Void) {
        visit(value, path)
        switch value {
        case .object(let object):
            for (key, member) in object { walk(member, path: "\(path).\(key)", visit) }
        case .array(let array):
            for (index, element) in array.enumerated() { walk(element, path: "\(path)[\(index)]", visit) }
        default:
            break
        }
    }

    /// The paths where `a` and `b` differ (member order ignored), as `name[0].family`.
    static func differences(_ a: JSONValue, _ b: JSONValue, path: String = "") -> [String] {
        switch (a, b) {
        case (.object(let x), .object(let y)):
            let keys = x.keys + y.keys.filter { !x.keys.contains($0) }
            return keys.flatMap { key -> [String] in
                let child = path.isEmpty ? key : "\(path).\(key)"
                switch (x[key], y[key]) {
                case (let u?, let v?): return differences(u, v, path: child)
                case (nil, nil): return []
                default: return [child]
                }
            }
        case (.array(let x), .array(let y)) where x.count == y.count:
            return zip(x, y).enumerated().flatMap { differences($0.element.0, $0.element.1, path: "\(path)[\($0.offset)]") }
        default:
            return a == b ? [] : [path]
        }
    }

    /// Sets `id` and `meta.lastUpdated` as the store does after a write.
    static func stored(_ resource: JSONValue, id: String, lastUpdated: String = "2026-11-29T10:00:00.000Z") -> JSONValue {
        var object = resource.objectValue ?? JSONObject()
        object["id"] = .string(id)
        var meta = object["meta"]?.objectValue ?? JSONObject()
        meta["versionId"] = "1"
        meta["lastUpdated"] = .string(lastUpdated)
        object["meta"] = .object(meta)
        return .object(object)
    }
}

@testable import FHIRModels

/// Where two JSON trees first differ (ignoring member order), for readable failure messages.
enum JSONDifference {
    static func first(_ lhs: JSONValue, _ rhs: JSONValue, path: String = "$") -> String? {
        switch (lhs, rhs) {
        case (.object(let a), .object(let b)):
            for (key, value) in a {
                guard let other = b[key] else { return "\(path).\(key) missing on the right" }
                if let found = first(value, other, path: "\(path).\(key)") { return found }
            }
            for key in b.keys where a[key] == nil {
                return "\(path).\(key) missing on the left"
            }
            return nil
        case (.array(let a), .array(let b)):
            guard a.count == b.count else { return "\(path) has \(a.count) vs \(b.count) items" }
            for index in a.indices {
                if let found = first(a[index], b[index], path: "\(path)[\(index)]") { return found }
            }
            return nil
        default:
            return lhs == rhs ? nil : "\(path) differs: \(lhs) vs \(rhs)"
        }
    }
}

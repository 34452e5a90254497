extension JSONValue {
    /// This tree with every `reference` whose text is a key of `targets` replaced by its value
    /// (a Bundle's `urn:uuid:` placeholders by the `Type/id` a transaction stores), at any depth.
    public func replacingReferences(_ targets: [String: String]) -> JSONValue {
        switch self {
        case .object(var object):
            for key in object.keys {
                if key == "reference", let text = object[key]?.stringValue, let target = targets[text] {
                    object[key] = .string(target)
                } else if let member = object[key] {
                    object[key] = member.replacingReferences(targets)
                }
            }
            return .object(object)
        case .array(let array):
            return .array(array.map { $0.replacingReferences(targets) })
        default:
            return self
        }
    }
}

import FHIRModels

/// The elements removed from one resource, in removal order, each with the path and member
/// position it had. Restoring them in reverse order undoes the removals exactly, including
/// member order, array items and elements nested inside other sealed elements.
struct SealedElements {
    enum Step: Equatable {
        case key(String)
        case index(Int)
    }

    struct Entry {
        /// From the resource root; the last step is the member's key.
        var path: [Step]
        /// The member's index in its object when it was removed.
        var position: Int
        var value: JSONValue
    }

    private(set) var entries: [Entry] = []

    init() {}

    // MARK: Sealing

    /// Removes the policy's paths from the resource at `value`, then does the same for every
    /// resource nested in what is left (`contained`, `Bundle.entry.resource`, `Parameters`...).
    mutating func sealResource(_ value: inout JSONValue, prefix: [Step], policy: EncryptionPolicy) {
        guard case .object(var object) = value, let type = object["resourceType"]?.stringValue else { return }
        value = .null
        for path in policy.components(for: type) {
            remove(path[...], from: &object, prefix: prefix)
        }
        for key in Self.resourceHoldingMembers {
            guard let member = object[key], Self.containsResource(member) else { continue }
            var child = member
            object[key] = .null
            sealNested(&child, prefix: prefix + [.key(key)], policy: policy)
            object[key] = child
        }
        value = .object(object)
    }

    private mutating func sealNested(_ value: inout JSONValue, prefix: [Step], policy: EncryptionPolicy) {
        switch value {
        case .object(var object):
            if object["resourceType"]?.stringValue != nil {
                sealResource(&value, prefix: prefix, policy: policy)
                return
            }
            value = .null
            for key in object.keys {
                guard let member = object[key], Self.containsResource(member) else { continue }
                var child = member
                object[key] = .null
                sealNested(&child, prefix: prefix + [.key(key)], policy: policy)
                object[key] = child
            }
            value = .object(object)
        case .array(var items):
            value = .null
            for index in items.indices where Self.containsResource(items[index]) {
                var child = items[index]
                items[index] = .null
                sealNested(&child, prefix: prefix + [.index(index)], policy: policy)
                items[index] = child
            }
            value = .array(items)
        default:
            return
        }
    }

    /// The members of a resource through which R4 nests other resources: `contained`,
    /// `Bundle.entry` (`resource`, `response.outcome`) and `Parameters.parameter` (`resource`, `part`).
    /// Looking only there keeps sealing from walking every element of every resource.
    private static let resourceHoldingMembers = ["contained", "entry", "parameter"]

    /// In FHIR JSON only resources have a `resourceType` member.
    private static func containsResource(_ value: JSONValue) -> Bool {
        switch value {
        case .object(let object):
            if object["resourceType"]?.stringValue != nil { return true }
            return object.values.contains(where: containsResource)
        case .array(let items):
            return items.contains(where: containsResource)
        default:
            return false
        }
    }

    private mutating func remove(_ path: ArraySlice<String>, from object: inout JSONObject, prefix: [Step]) {
        guard let name = path.first else { return }
        if path.count == 1 {
            for key in [name, "_" + name] {
                guard let position = object.index(forKey: key) else { continue }
                entries.append(Entry(path: prefix + [.key(key)], position: position, value: object[position].value))
                object[key] = nil
            }
            return
        }
        let rest = path.dropFirst()
        switch object[name] {
        case .object(var inner)?:
            object[name] = .null
            remove(rest, from: &inner, prefix: prefix + [.key(name)])
            object[name] = .object(inner)
        case .array(var items)?:
            object[name] = .null
            for index in items.indices {
                guard case .object(var inner) = items[index] else { continue }
                items[index] = .null
                remove(rest, from: &inner, prefix: prefix + [.key(name), .index(index)])
                items[index] = .object(inner)
            }
            object[name] = .array(items)
        default:
            return
        }
    }

    // MARK: Restoring

    func restore(into content: inout JSONValue) throws(SealingError) {
        for entry in entries.reversed() {
            try Self.insert(entry.value, at: entry.path[...], position: entry.position, into: &content)
        }
    }

    private static func insert(
        _ value: JSONValue, at path: ArraySlice<Step>, position: Int, into node: inout JSONValue
    ) throws(SealingError) {
        guard let step = path.first else { throw .contentMismatch }
        switch (step, node) {
        case (.key(let key), .object(var object)):
            node = .null
            if path.count == 1 {
                guard object.index(forKey: key) == nil else { throw .contentMismatch }
                var members = object.map { ($0.key, $0.value) }
                members.insert((key, value), at: min(max(position, 0), members.count))
                node = .object(JSONObject(members))
                return
            }
            guard var child = object[key] else { throw .contentMismatch }
            object[key] = .null
            try insert(value, at: path.dropFirst(), position: position, into: &child)
            object[key] = child
            node = .object(object)
        case (.index(let index), .array(var items)):
            guard path.count > 1, items.indices.contains(index) else { throw .contentMismatch }
            node = .null
            var child = items[index]
            items[index] = .null
            try insert(value, at: path.dropFirst(), position: position, into: &child)
            items[index] = child
            node = .array(items)
        default:
            throw .contentMismatch
        }
    }

    // MARK: Payload

    /// `{"e": [[path, position, value], ...]}`, path steps being keys (strings) and indexes (numbers).
    func payload() -> JSONValue {
        let items: [JSONValue] = entries.map { entry in
            let steps: [JSONValue] = entry.path.map { step in
                switch step {
                case .key(let key): .string(key)
                case .index(let index): .number(String(index))
                }
            }
            return .array([.array(steps), .number(String(entry.position)), entry.value])
        }
        return .object(JSONObject([("e", .array(items))]))
    }

    init(payload bytes: [UInt8]) throws(SealingError) {
        guard let document = try? FHIRJSON.parse(bytes), let items = document["e"]?.arrayValue else {
            throw .malformedPayload
        }
        entries.reserveCapacity(items.count)
        for item in items {
            guard let parts = item.arrayValue, parts.count == 3, let steps = parts[0].arrayValue, !steps.isEmpty,
                  let position = parts[1].numberLexical.flatMap({ Int($0) })
            else { throw .malformedPayload }
            var path: [Step] = []
            path.reserveCapacity(steps.count)
            for step in steps {
                if let key = step.stringValue {
                    path.append(.key(key))
                } else if let index = step.numberLexical.flatMap({ Int($0) }) {
                    path.append(.index(index))
                } else {
                    throw .malformedPayload
                }
            }
            guard case .key = path[path.count - 1] else { throw .malformedPayload }
            entries.append(Entry(path: path, position: position, value: parts[2]))
        }
    }
}

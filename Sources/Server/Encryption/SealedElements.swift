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

/// The read's fast path over an opened payload: when every entry is a top-level member
/// (`[["key"], position, value]`), the members' key literals and value texts, sliced out of
/// the payload bytes as they are, so a read appends them to the stored JSON without building
/// or re-encoding a tree. The payload is our own compact encoding (`payload()`), authenticated
/// before this runs; anything unexpected answers nil and the caller takes the parsing path,
/// which checks everything.
struct TopLevelSealedMembers {
    /// `"key"` as it appears in the payload (a JSON string literal) and the value's JSON text.
    var members: [(keyLiteral: ArraySlice<UInt8>, value: ArraySlice<UInt8>)] = []

    init?(payload bytes: [UInt8]) {
        var scanner = RawJSONScanner(bytes: bytes)
        guard scanner.expect("{"), let key = scanner.string(), bytes[key] == Array("\"e\"".utf8)[...], scanner.expect(":"),
              scanner.expect("[") else { return nil }
        if scanner.expect("]") {
            guard scanner.atEnd("}") else { return nil }
            return
        }
        repeat {
            guard scanner.expect("["), scanner.expect("["), let keyLiteral = scanner.string(), scanner.expect("]"),
                  scanner.expect(","), scanner.skipValue() != nil, scanner.expect(","), let value = scanner.skipValue(),
                  scanner.expect("]") else { return nil }
            members.append((bytes[keyLiteral], bytes[value]))
        } while scanner.expect(",")
        guard scanner.expect("]"), scanner.atEnd("}") else { return nil }
    }
}

/// Finds the extents of JSON values in bytes without decoding them (whitespace tolerated).
/// Strings are delimited by their quotes, honouring backslash escapes; containers by depth.
struct RawJSONScanner {
    let bytes: [UInt8]
    var index = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    private mutating func skipSpace() {
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 {
            index += 1
        }
    }

    /// Consumes `character` (after whitespace) when it is next.
    mutating func expect(_ character: Unicode.Scalar) -> Bool {
        skipSpace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: character) else { return false }
        index += 1
        return true
    }

    /// `character` and then nothing but whitespace.
    mutating func atEnd(_ character: Unicode.Scalar) -> Bool {
        guard expect(character) else { return false }
        skipSpace()
        return index == bytes.count
    }

    /// The range of a string literal, quotes included.
    mutating func string() -> Range<Int>? {
        skipSpace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
        let start = index
        index += 1
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\\"): index += 2
            case UInt8(ascii: "\""):
                index += 1
                return start..<index
            default: index += 1
            }
        }
        return nil
    }

    /// The range of the next value of any kind.
    mutating func skipValue() -> Range<Int>? {
        skipSpace()
        guard index < bytes.count else { return nil }
        let start = index
        switch bytes[index] {
        case UInt8(ascii: "\""):
            return string()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\""):
                    guard string() != nil else { return nil }
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 {
                        index += 1
                        return start..<index
                    }
                default: break
                }
                index += 1
            }
            return nil
        default:
            // A number or a literal: up to the next delimiter.
            while index < bytes.count, ![UInt8(ascii: ","), UInt8(ascii: "]"), UInt8(ascii: "}"), 0x20, 0x0A, 0x0D, 0x09].contains(bytes[index]) {
                index += 1
            }
            return index > start ? start..<index : nil
        }
    }
}

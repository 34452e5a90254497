import Foundation

/// Evaluates compiled FHIRPath against FHIR JSON, typing nodes from `FHIRMetadata` as it goes.
struct FHIRPathEvaluator {
    /// `%resource`: the resource the expression was evaluated on; `resolve()` finds contained
    /// resources in it.
    let resource: FHIRPathValue
    let options: FHIRPathExpression.Options

    func evaluate(_ node: FHIRPathNode, focus: [FHIRPathValue], this: FHIRPathValue) throws(FHIRPathError) -> [FHIRPathValue] {
        switch node {
        case .literal(let values):
            return values
        case .this:
            return [this]
        case .resource:
            return [resource]
        case .member(let base, let name):
            guard let base else {
                // The first name of a path may be the context's type: `Patient.name` on a Patient.
                var result: [FHIRPathValue] = []
                for item in focus {
                    if name.first?.isUppercase == true, item.node.objectValue?["resourceType"] != nil {
                        if FHIRPathTypes.conforms(item.typeName, to: FHIRPathTypes.canonical(name)) { result.append(item) }
                        else if FHIRMetadata.type(named: name) == nil { result += try children(of: item, named: name) }
                    } else {
                        result += try children(of: item, named: name)
                    }
                }
                return result
            }
            var result: [FHIRPathValue] = []
            for item in try evaluate(base, focus: focus, this: this) {
                result += try children(of: item, named: name)
            }
            return result
        case .index(let base, let indexNode):
            let items = try evaluate(base, focus: focus, this: this)
            let index = try evaluate(indexNode, focus: focus, this: this)
            guard index.count == 1, let lexical = index[0].node.numberLexical, let position = Int(lexical) else {
                throw .evaluation("index is not a single integer")
            }
            return position >= 0 && position < items.count ? [items[position]] : []
        case .typeTest(let base, let operation, let type):
            let items = try base.map { node throws(FHIRPathError) in try evaluate(node, focus: focus, this: this) } ?? focus
            let target = FHIRPathTypes.canonical(type)
            switch operation {
            case .ofType:
                return items.filter { FHIRPathTypes.conforms($0.typeName, to: target) }
            case .as:
                guard items.count <= 1 || options.contains(.castsFilter) else {
                    throw .evaluation("'as' applied to more than one item")
                }
                return items.filter { FHIRPathTypes.conforms($0.typeName, to: target) }
            case .is:
                guard items.count <= 1 else { throw .evaluation("'is' applied to more than one item") }
                return items.map { .boolean(FHIRPathTypes.conforms($0.typeName, to: target, primitiveSubtypes: true)) }
            }
        case .function(let base, let function, let arguments):
            let items = try base.map { node throws(FHIRPathError) in try evaluate(node, focus: focus, this: this) } ?? focus
            return try call(function, on: items, arguments: arguments, this: this)
        case .binary(let op, let lhs, let rhs):
            let left = try evaluate(lhs, focus: focus, this: this)
            let right = try evaluate(rhs, focus: focus, this: this)
            switch op {
            case .union:
                var result: [FHIRPathValue] = []
                for item in left + right where !result.contains(where: { Self.equal($0, item) == true }) {
                    result.append(item)
                }
                return result
            case .equals, .notEquals:
                guard !left.isEmpty, !right.isEmpty else { return [] }
                var same = left.count == right.count
                if same {
                    for (a, b) in zip(left, right) where Self.equal(a, b) != true {
                        same = false
                        break
                    }
                }
                return [.boolean(op == .equals ? same : !same)]
            case .and, .or, .xor, .implies:
                let a = try Self.boolean(left), b = try Self.boolean(right)
                let result: Bool? = switch op {
                case .and: a == false || b == false ? false : (a == true && b == true ? true : nil)
                case .or: a == true || b == true ? true : (a == false && b == false ? false : nil)
                case .xor: a == nil || b == nil ? nil : a != b
                default: a == false || b == true ? true : (a == true && b == false ? false : nil)
                }
                return result.map { [.boolean($0)] } ?? []
            }
        }
    }

    private func call(_ function: FHIRPathNode.Function, on items: [FHIRPathValue], arguments: [FHIRPathNode],
                      this: FHIRPathValue) throws(FHIRPathError) -> [FHIRPathValue] {
        switch function {
        case .where:
            var result: [FHIRPathValue] = []
            for item in items where try Self.boolean(try evaluate(arguments[0], focus: [item], this: item)) == true {
                result.append(item)
            }
            return result
        case .exists:
            if let criteria = arguments.first {
                for item in items where try Self.boolean(try evaluate(criteria, focus: [item], this: item)) == true {
                    return [.boolean(true)]
                }
                return [.boolean(false)]
            }
            return [.boolean(!items.isEmpty)]
        case .empty:
            return [.boolean(items.isEmpty)]
        case .not:
            return try Self.boolean(items).map { [.boolean(!$0)] } ?? []
        case .first:
            return Array(items.prefix(1))
        case .last:
            return Array(items.suffix(1))
        case .count:
            return [FHIRPathValue(node: .number(String(items.count)), typeName: "System.Integer")]
        case .hasValue:
            return [.boolean(items.count == 1 && !items[0].node.isNull && items[0].node.objectValue == nil)]
        case .extension:
            let urls = try evaluate(arguments[0], focus: [resource], this: this)
            guard urls.count == 1, let url = urls[0].node.stringValue else {
                throw .evaluation("extension() needs one string url")
            }
            var result: [FHIRPathValue] = []
            for item in items {
                for candidate in try children(of: item, named: "extension")
                where candidate.node["url"]?.stringValue == url {
                    result.append(candidate)
                }
            }
            return result
        case .resolve:
            return items.compactMap(resolve)
        }
    }

    /// A contained resource (`#id`) when the reference names one; otherwise a typed placeholder
    /// (`.null`, typed from `Type/id`) so that `resolve() is Patient` works without fetching.
    private func resolve(_ item: FHIRPathValue) -> FHIRPathValue? {
        guard let reference = item.node["reference"]?.stringValue else { return nil }
        if reference.hasPrefix("#") {
            let id = String(reference.dropFirst())
            let contained = resource.node["contained"]?.arrayValue ?? []
            guard let match = contained.first(where: { $0["id"]?.stringValue == id }) else { return nil }
            return FHIRPathValue(node: match, typeName: match["resourceType"]?.stringValue)
        }
        // `Patient/123`, `Patient/123/_history/2` or an absolute URL ending so.
        var parts = reference.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if parts.count >= 4, parts[parts.count - 2] == "_history" { parts.removeLast(2) }
        guard parts.count >= 2, FHIRMetadata.resource(named: parts[parts.count - 2]) != nil else { return nil }
        return FHIRPathValue(node: .null, typeName: parts[parts.count - 2])
    }

    /// The items a member name selects from one item. Choice elements are matched by their base
    /// name (`value` finds `valueQuantity`; `valueQuantity` itself is not an element name and
    /// fails, as FHIRPath requires); primitives carry their `_name` objects.
    private func children(of item: FHIRPathValue, named name: String) throws(FHIRPathError) -> [FHIRPathValue] {
        guard let object = item.node.objectValue else {
            // A primitive: only its `id` and `extension` live in the `_name` object.
            guard let element = item.primitiveElement, name == "extension" || name == "id" else { return [] }
            return Self.values(element[name], extensions: nil, type: name == "id" ? "string" : "Extension")
        }
        guard let typeName = item.typeName, let type = FHIRMetadata.type(named: typeName) else {
            return Self.values(object[name], extensions: object["_" + name], type: nil)
        }
        if let element = type.elements.first(where: { $0.name == name }) {
            if element.isChoice {
                var result: [FHIRPathValue] = []
                for choice in element.types {
                    let key = FHIRMetadata.choiceName(name, choice)
                    result += Self.values(object[key], extensions: object["_" + key], type: choice)
                }
                return result
            }
            return Self.values(object[name], extensions: object["_" + name], type: element.types[0])
        }
        throw .evaluation("'\(name)' is not an element of \(typeName)")
    }

    /// Flattens a member's JSON (one value or an array) into items, pairing primitives with
    /// their `_name` objects; `Resource`-typed members take the type of the resource they hold.
    private static func values(_ value: JSONValue?, extensions: JSONValue?, type: String?) -> [FHIRPathValue] {
        let nodes: [JSONValue] = value.map { $0.arrayValue ?? [$0] } ?? []
        let elements: [JSONValue] = extensions.map { $0.arrayValue ?? [$0] } ?? []
        var result: [FHIRPathValue] = []
        for index in 0..<max(nodes.count, elements.count) {
            let node = index < nodes.count ? nodes[index] : .null
            let element = index < elements.count ? elements[index].objectValue : nil
            if node.isNull && element == nil { continue }
            var itemType = type
            if type == "Resource", let resourceType = node["resourceType"]?.stringValue { itemType = resourceType }
            result.append(FHIRPathValue(node: node, typeName: itemType, primitiveElement: element))
        }
        return result
    }

    /// Singleton evaluation as a boolean (FHIRPath § 4.5): empty is unknown, one boolean is
    /// itself, one other item is true, several are an error.
    static func boolean(_ items: [FHIRPathValue]) throws(FHIRPathError) -> Bool? {
        guard let item = items.first else { return nil }
        guard items.count == 1 else { throw .evaluation("expected a single boolean, got several items") }
        return item.node.boolValue ?? true
    }

    /// Item equality: primitives by value (numbers numerically), complex values member by member.
    /// `nil` when the items cannot be compared.
    static func equal(_ a: FHIRPathValue, _ b: FHIRPathValue) -> Bool? {
        switch (a.node, b.node) {
        case (.number(let x), .number(let y)):
            guard let dx = Decimal(string: x, locale: Locale(identifier: "en_US_POSIX")),
                  let dy = Decimal(string: y, locale: Locale(identifier: "en_US_POSIX")) else { return x == y }
            return dx == dy
        case (.string(let x), .string(let y)): return x == y
        case (.bool(let x), .bool(let y)): return x == y
        case (.object, .object): return a.node.isEquivalent(to: b.node)
        case (.null, .null): return a.typeName == b.typeName && a.primitiveElement == b.primitiveElement
        default: return false
        }
    }
}

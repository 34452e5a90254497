/// Walks a FHIR JSON value and writes XML into a byte buffer, one element type at a
/// time from the metadata. The FHIRPath location is kept as a stack of names and
/// indexes, turned into a string only when an error is thrown.
struct FHIRJSONToXMLConverter {
    private(set) var output: FHIRXMLOutput
    private let pretty: Bool
    private var path: [(name: String, index: Int)] = []

    /// One JSON member, placed by the element it belongs to.
    private struct Placement {
        var member: FHIRXMLTypePlan.Member
        var position: Int
    }

    init(pretty: Bool) {
        self.pretty = pretty
        output = FHIRXMLOutput(reservingCapacity: 4096)
        path.reserveCapacity(32)
    }

    mutating func writeDocument(_ value: JSONValue) throws(FHIRFormatError) {
        guard case .object(let object) = value else {
            throw failure(.wrongType, "A resource must be a JSON object.")
        }
        output.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
        try writeResource(object, indent: 0, isRoot: true)
        if pretty { output.append(0x0A) }
    }

    private mutating func writeResource(_ object: JSONObject, indent: Int, isRoot: Bool) throws(FHIRFormatError) {
        guard let resourceType = object["resourceType"] else {
            throw failure(.unknownResourceType, "The resource has no resourceType.")
        }
        guard case .string(let name) = resourceType, let plan = FHIRXMLTypePlan.resource(named: name) else {
            throw failure(.unknownResourceType, "Unknown resource type.")
        }
        if isRoot { path.append((name, -1)) }
        try writeElement(name, object, plan: plan, indent: indent, isRoot: isRoot)
    }

    // MARK: - Complex content

    /// An element of a complex type: attributes from the `.xmlAttribute` elements, then
    /// child elements in the type's element order.
    private mutating func writeElement(_ name: String, _ object: JSONObject, plan: FHIRXMLTypePlan, indent: Int, isRoot: Bool = false) throws(FHIRFormatError) {
        var placements: [Placement] = []
        placements.reserveCapacity(object.count)
        let isResource = plan.type.kind == .resource
        var hasChildren = false
        for position in 0..<object.count {
            let key = object.keys[position]
            guard let member = plan.members[key] else {
                if isResource, key == "resourceType" { continue }
                throw failure(.unknownElement, "Unknown element.", member: key)
            }
            if plan.elements[member.element].representation != .xmlAttribute { hasChildren = true }
            // Insertion sort: objects are small and mostly in order already.
            var slot = placements.count
            while slot > 0, placements[slot - 1].member.element > member.element { slot -= 1 }
            placements.insert(Placement(member: member, position: position), at: slot)
        }

        newline(indent)
        output.append(UInt8(ascii: "<"))
        output.append(name)
        if isRoot { output.append(" xmlns=\"http://hl7.org/fhir\"") }
        for placement in placements where plan.elements[placement.member.element].representation == .xmlAttribute {
            let key = object.keys[placement.position]
            guard case .string(let value) = object.values[placement.position] else {
                throw failure(.wrongType, "The value must be a JSON string.", member: key)
            }
            output.append(UInt8(ascii: " "))
            output.append(key)
            output.append("=\"")
            try appendAttributeValue(value, member: key)
            output.append(UInt8(ascii: "\""))
        }
        guard hasChildren else {
            output.append("/>")
            return
        }
        output.append(UInt8(ascii: ">"))

        var start = 0
        while start < placements.count {
            let elementIndex = placements[start].member.element
            var end = start + 1
            while end < placements.count, placements[end].member.element == elementIndex { end += 1 }
            if plan.elements[elementIndex].representation != .xmlAttribute {
                try writeGroup(placements[start..<end], of: object, plan: plan, indent: indent + 1)
            }
            start = end
        }
        newline(indent)
        output.append("</")
        output.append(name)
        output.append(UInt8(ascii: ">"))
    }

    /// The members of one element: its value member and/or its `_name` member.
    private mutating func writeGroup(_ group: ArraySlice<Placement>, of object: JSONObject, plan: FHIRXMLTypePlan, indent: Int) throws(FHIRFormatError) {
        var value: JSONValue?
        var extra: JSONValue?
        let first = group[group.startIndex].member
        for placement in group {
            if placement.member.variant != first.variant {
                throw failure(.wrongType, "Only one type of a choice element may be present.", member: object.keys[placement.position])
            }
            if placement.member.isExtra {
                extra = object.values[placement.position]
            } else {
                value = object.values[placement.position]
            }
        }
        let element = plan.elements[first.element]
        let variant = element.variants[first.variant]
        let name = variant.jsonName
        if case .primitive(let kind) = variant.content {
            if element.isArray {
                let values = try arrayMember(value, name: name)
                let extras = try arrayMember(extra, name: variant.extraJSONName)
                if let values, let extras, values.count != extras.count {
                    throw failure(.wrongType, "The arrays of values and of extensions differ in length.", member: name)
                }
                let count = values?.count ?? extras?.count ?? 0
                for index in 0..<count {
                    path.append((name, index))
                    let itemValue = values.flatMap { $0[index].isNull ? nil : $0[index] }
                    let itemExtra = extras.flatMap { $0[index].isNull ? nil : $0[index] }
                    guard itemValue != nil || itemExtra != nil else {
                        throw failure(.forbiddenNull, "An array entry has neither a value nor extensions.")
                    }
                    try writePrimitive(name, itemValue, itemExtra, kind: kind, indent: indent)
                    path.removeLast()
                }
            } else {
                path.append((name, -1))
                if value?.arrayValue != nil || extra?.arrayValue != nil {
                    throw failure(.wrongType, "The element does not repeat; an array is not allowed.")
                }
                try writePrimitive(name, value, extra, kind: kind, indent: indent)
                path.removeLast()
            }
            return
        }
        guard let value else { return }
        if element.isArray {
            guard case .array(let items) = value else {
                throw failure(.wrongType, "The element repeats; the value must be an array.", member: name)
            }
            for (index, item) in items.enumerated() {
                path.append((name, index))
                try writeComplex(name, item, content: variant.content, indent: indent)
                path.removeLast()
            }
        } else {
            path.append((name, -1))
            if case .array = value {
                throw failure(.wrongType, "The element does not repeat; an array is not allowed.")
            }
            try writeComplex(name, value, content: variant.content, indent: indent)
            path.removeLast()
        }
    }

    private func arrayMember(_ value: JSONValue?, name: String) throws(FHIRFormatError) -> [JSONValue]? {
        guard let value else { return nil }
        guard case .array(let items) = value else {
            throw failure(.wrongType, "The element repeats; the value must be an array.", member: name)
        }
        return items
    }

    private mutating func writeComplex(_ name: String, _ value: JSONValue, content: FHIRXMLElementPlan.Content, indent: Int) throws(FHIRFormatError) {
        switch content {
        case .xhtml:
            guard case .string(let div) = value else {
                throw failure(.wrongType, "Narrative must be a JSON string.")
            }
            let bytes = Array(div.utf8)
            _ = try FHIRNarrative.parse(bytes, expression: expression())
            newline(indent)
            output.append(raw: bytes)
        case .resource:
            guard case .object(let object) = value else {
                throw failure(value.isNull ? .forbiddenNull : .wrongType, "A resource must be a JSON object.")
            }
            newline(indent)
            output.append(UInt8(ascii: "<"))
            output.append(name)
            output.append(UInt8(ascii: ">"))
            try writeResource(object, indent: indent + 1, isRoot: false)
            newline(indent)
            output.append("</")
            output.append(name)
            output.append(UInt8(ascii: ">"))
        case .complex(let index):
            guard case .object(let object) = value else {
                throw failure(value.isNull ? .forbiddenNull : .wrongType, "The value must be a JSON object.")
            }
            try writeElement(name, object, plan: FHIRXMLTypePlan.all[index], indent: indent)
        case .primitive, .unknown:
            throw failure(.unknownElement, "No metadata for this element's type.")
        }
    }

    // MARK: - Primitives

    /// `<name id=".." value="..">` with the `_name` extensions as children.
    private mutating func writePrimitive(_ name: String, _ value: JSONValue?, _ extra: JSONValue?, kind: FHIRPrimitiveJSONKind, indent: Int) throws(FHIRFormatError) {
        var extensions: [JSONValue] = []
        var id: String?
        if let extra {
            guard case .object(let object) = extra else {
                throw failure(extra.isNull ? .forbiddenNull : .wrongType, "The '_' member of a primitive must be a JSON object.")
            }
            for (key, member) in object {
                switch (key, member) {
                case ("id", .string(let string)):
                    id = string
                case ("extension", .array(let items)):
                    extensions = items
                case ("id", _), ("extension", _):
                    throw failure(.wrongType, "Wrong JSON type.", member: key)
                default:
                    throw failure(.unknownElement, "Unknown element.", member: key)
                }
            }
        }
        newline(indent)
        output.append(UInt8(ascii: "<"))
        output.append(name)
        if let id {
            output.append(" id=\"")
            try appendAttributeValue(id, member: "id")
            output.append(UInt8(ascii: "\""))
        }
        if let value {
            output.append(" value=\"")
            switch (kind, value) {
            case (.string, .string(let string)):
                try appendAttributeValue(string, member: nil)
            case (.boolean, .bool(let bool)):
                output.append(bool ? "true" : "false")
            case (.decimal, .number(let lexical)):
                output.append(lexical)
            case (.integer, .number(let lexical)):
                var lexical = lexical
                guard lexical.withUTF8({ FHIRXMLToJSONConverter.isJSONNumber($0, integer: true) }) else {
                    throw failure(.wrongType, "The value must be an integer.")
                }
                output.append(lexical)
            case (_, .null):
                throw failure(.forbiddenNull, "null is not allowed here.")
            default:
                throw failure(.wrongType, "The value has the wrong JSON type for this element.")
            }
            output.append(UInt8(ascii: "\""))
        }
        guard !extensions.isEmpty else {
            output.append("/>")
            return
        }
        output.append(UInt8(ascii: ">"))
        for (index, item) in extensions.enumerated() {
            path.append(("extension", index))
            guard case .object(let object) = item else {
                throw failure(item.isNull ? .forbiddenNull : .wrongType, "An extension must be a JSON object.")
            }
            try writeElement("extension", object, plan: FHIRXMLTypePlan.extensionPlan, indent: indent + 1)
            path.removeLast()
        }
        newline(indent)
        output.append("</")
        output.append(name)
        output.append(UInt8(ascii: ">"))
    }

    private mutating func appendAttributeValue(_ string: String, member: String?) throws(FHIRFormatError) {
        output.appendEscapedAttribute(string)
        if output.sawControlCharacter {
            throw failure(.wrongType, "The string contains a control character, which XML cannot carry.", member: member)
        }
    }

    // MARK: - Layout and errors

    @inline(__always)
    private mutating func newline(_ indent: Int) {
        guard pretty else { return }
        output.append(0x0A)
        for _ in 0..<indent { output.append("  ") }
    }

    private func expression(member: String? = nil) -> String {
        var text = ""
        for (offset, component) in path.enumerated() {
            if offset > 0 { text += "." }
            text += component.name
            if component.index >= 0 { text += "[\(component.index)]" }
        }
        if let member { text += (text.isEmpty ? "" : ".") + member }
        return text
    }

    private func failure(_ kind: FHIRFormatError.Kind, _ message: String, member: String? = nil) -> FHIRFormatError {
        FHIRFormatError(kind, message, expression: expression(member: member))
    }
}

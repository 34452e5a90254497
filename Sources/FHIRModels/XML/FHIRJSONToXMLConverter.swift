/// Walks a FHIR JSON value and writes XML into a byte buffer, one element type at a
/// time from the metadata. The FHIRPath location is kept as a stack of names and
/// indexes, turned into a string only when an error is thrown.
struct FHIRJSONToXMLConverter {
    private(set) var output: FHIRXMLOutput
    private let pretty: Bool
    private var path: [(name: String, index: Int)] = []
    private let extensionType: TypeInfo?

    /// One JSON member, placed by the element it belongs to.
    private struct Placement {
        var elementIndex: Int
        var member: Int
    }

    init(pretty: Bool) {
        self.pretty = pretty
        output = FHIRXMLOutput(reservingCapacity: 4096)
        extensionType = FHIRMetadata.type(named: "Extension")
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
        guard case .string(let name) = resourceType, let type = FHIRMetadata.resource(named: name) else {
            throw failure(.unknownResourceType, "Unknown resource type.")
        }
        if isRoot { path.append((name, -1)) }
        try writeElement(name, object, type: type, indent: indent, isRoot: isRoot)
    }

    // MARK: - Complex content

    /// An element of a complex type: attributes from the `.xmlAttribute` elements, then
    /// child elements in the type's element order.
    private mutating func writeElement(_ name: String, _ object: JSONObject, type: TypeInfo, indent: Int, isRoot: Bool = false) throws(FHIRFormatError) {
        var placements: [Placement] = []
        placements.reserveCapacity(object.count)
        let isResource = type.kind == .resource
        for position in 0..<object.count {
            let key = object.keys[position]
            if isResource, key == "resourceType" { continue }
            let isExtra = key.utf8.first == UInt8(ascii: "_")
            guard let match = type.element(forJSONName: isExtra ? String(key.dropFirst()) : key) else {
                throw failure(.unknownElement, "Unknown element.", member: key)
            }
            if isExtra, FHIRMetadata.primitiveJSONKind(of: match.type) == nil || match.type == "xhtml" || match.element.representation != .element {
                throw failure(.unknownElement, "Unknown element.", member: key)
            }
            // Insertion sort: objects are small and mostly in order already.
            var slot = placements.count
            while slot > 0, placements[slot - 1].elementIndex > match.index { slot -= 1 }
            placements.insert(Placement(elementIndex: match.index, member: position), at: slot)
        }

        newline(indent)
        output.append(UInt8(ascii: "<"))
        output.append(name)
        if isRoot { output.append(" xmlns=\"http://hl7.org/fhir\"") }
        var hasChildren = false
        for placement in placements {
            let element = type.elements[placement.elementIndex]
            guard element.representation == .xmlAttribute else {
                hasChildren = true
                continue
            }
            let key = object.keys[placement.member]
            guard case .string(let value) = object.values[placement.member] else {
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
            var end = start + 1
            while end < placements.count, placements[end].elementIndex == placements[start].elementIndex { end += 1 }
            let element = type.elements[placements[start].elementIndex]
            if element.representation != .xmlAttribute {
                try writeGroup(placements[start..<end], of: object, type: type, indent: indent + 1)
            }
            start = end
        }
        newline(indent)
        output.append("</")
        output.append(name)
        output.append(UInt8(ascii: ">"))
    }

    /// The members of one element: its value member and/or its `_name` member.
    private mutating func writeGroup(_ group: ArraySlice<Placement>, of object: JSONObject, type: TypeInfo, indent: Int) throws(FHIRFormatError) {
        var valueKey: String?
        var value: JSONValue?
        var extra: JSONValue?
        var baseName: Substring?
        for placement in group {
            let key = object.keys[placement.member]
            let base = key.utf8.first == UInt8(ascii: "_") ? key.dropFirst() : Substring(key)
            if let baseName, baseName != base {
                throw failure(.wrongType, "Only one type of a choice element may be present.", member: key)
            }
            baseName = base
            if base.count == key.count {
                valueKey = key
                value = object.values[placement.member]
            } else {
                extra = object.values[placement.member]
            }
        }
        let name = valueKey ?? String(baseName!)
        guard let match = type.element(forJSONName: name) else {
            throw failure(.unknownElement, "Unknown element.", member: name)
        }
        let element = match.element
        if let kind = FHIRMetadata.primitiveJSONKind(of: match.type), match.type != "xhtml" {
            if element.isArray {
                let values = try arrayMember(value, name: name)
                let extras = try arrayMember(extra, name: "_" + name)
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
                try writeComplex(name, item, typeCode: match.type, indent: indent)
                path.removeLast()
            }
        } else {
            path.append((name, -1))
            if case .array = value {
                throw failure(.wrongType, "The element does not repeat; an array is not allowed.")
            }
            try writeComplex(name, value, typeCode: match.type, indent: indent)
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

    private mutating func writeComplex(_ name: String, _ value: JSONValue, typeCode: String, indent: Int) throws(FHIRFormatError) {
        switch typeCode {
        case "xhtml":
            guard case .string(let div) = value else {
                throw failure(.wrongType, "Narrative must be a JSON string.")
            }
            let bytes = Array(div.utf8)
            _ = try FHIRNarrative.parse(bytes, expression: expression())
            newline(indent)
            output.append(raw: bytes)
        case "Resource":
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
        default:
            guard case .object(let object) = value else {
                throw failure(value.isNull ? .forbiddenNull : .wrongType, "The value must be a JSON object.")
            }
            guard let type = FHIRMetadata.type(named: typeCode) else {
                throw failure(.unknownElement, "No metadata for this element's type.")
            }
            try writeElement(name, object, type: type, indent: indent)
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
                guard FHIRXMLToJSONConverter.isJSONNumber(ArraySlice(lexical.utf8), integer: true) else {
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
        guard let extensionType else { throw failure(.unknownElement, "No metadata for Extension.") }
        for (index, item) in extensions.enumerated() {
            path.append(("extension", index))
            guard case .object(let object) = item else {
                throw failure(item.isNull ? .forbiddenNull : .wrongType, "An extension must be a JSON object.")
            }
            try writeElement("extension", object, type: extensionType, indent: indent + 1)
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

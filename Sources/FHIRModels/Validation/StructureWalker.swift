/// The depth-first walk behind `FHIRValidator`. Keeps the current location as a stack of
/// steps and renders it to a FHIRPath string only when an issue is reported, so that valid
/// documents (the common case) allocate no paths.
struct StructureWalker {
    private(set) var issues: [OutcomeIssue] = []
    private var path: [Step] = []

    private enum Step {
        case name(String)
        case index(Int)
    }

    // MARK: - Resources

    mutating func walkRoot(_ value: JSONValue) {
        walkResource(value, isContained: false, isRoot: true)
    }

    private mutating func walkResource(_ value: JSONValue, isContained: Bool, isRoot: Bool) {
        guard case .object(let object) = value else {
            report(.structure, "A resource must be a JSON object")
            return
        }
        guard let resourceTypeValue = object["resourceType"] else {
            report(.required, "The resource has no resourceType")
            return
        }
        guard case .string(let resourceType) = resourceTypeValue else {
            report(.structure, "resourceType must be a JSON string")
            return
        }
        guard let type = FHIRMetadata.resource(named: resourceType) else {
            report(.structure, "resourceType is not a known concrete FHIR R4 resource type")
            return
        }
        if isRoot { path.append(.name(resourceType)) }
        defer { if isRoot { path.removeLast() } }
        if isContained, object["contained"] != nil {
            path.append(.name("contained"))
            report(.structure, "A contained resource must not contain resources itself")
            path.removeLast()
        }
        walkObject(object, type: type, isResource: true)
    }

    // MARK: - Objects

    /// Checks the members of one object of a complex, backbone or resource type, or the
    /// `_name` object of a primitive. `hasValue`: the object is the `_name` of a primitive
    /// whose value is present, so it may carry just an `id`.
    private mutating func walkObject(_ object: JSONObject, type: TypeInfo, isResource: Bool = false,
                                     hasValue: Bool = false) {
        if object.isEmpty {
            report(.structure, "An object must not be empty")
            return
        }
        // ele-1: every element has a value or children other than `id`.
        if !isResource && !hasValue && object.count == 1 && object.keys[0] == "id" {
            report(.structure, type.kind == .primitive ? "A primitive element must have a value or extensions"
                                                        : "An element must have children other than id")
        }
        var present = ElementSet()
        var chosenVariants: [(index: Int, name: String)] = []
        let hasPrimitiveExtensions = object.keys.contains { $0.utf8.first == UInt8(ascii: "_") }

        for (key, value) in object {
            if isResource && key == "resourceType" { continue }
            let isExtensionPart = key.utf8.first == UInt8(ascii: "_")
            let name = isExtensionPart ? String(key.dropFirst()) : key
            guard let (element, index, typeCode) = type.element(forJSONName: name) else {
                path.append(.name(key))
                report(.structure, "Unknown element for \(type.name)")
                path.removeLast()
                continue
            }
            let isPrimitive = FHIRMetadata.primitiveJSONKind(of: typeCode) != nil
            if isExtensionPart && !isPrimitive {
                path.append(.name(key))
                report(.structure, "Only primitive elements have a '_' extension member")
                path.removeLast()
                continue
            }
            if element.max == 0 {
                path.append(.name(name))
                report(.structure, "Element is not allowed here (maximum cardinality 0)")
                path.removeLast()
                continue
            }
            if element.isChoice {
                if let other = chosenVariants.first(where: { $0.index == index }), other.name != name {
                    path.append(.name(name))
                    report(.structure, "Only one type may be given for the choice element '\(element.name)[x]'")
                    path.removeLast()
                } else {
                    chosenVariants.append((index, name))
                }
            }
            present.insert(index)

            if isPrimitive {
                if isExtensionPart {
                    // Walked together with the value when both are present.
                    if object[name] != nil { continue }
                    walkPrimitive(name: name, value: nil, extensions: value, element: element, typeCode: typeCode, owner: type.name)
                } else {
                    let extensions = hasPrimitiveExtensions ? object["_" + key] : nil
                    walkPrimitive(name: key, value: value, extensions: extensions, element: element, typeCode: typeCode, owner: type.name)
                }
            } else {
                walkComplex(name: key, value: value, element: element, typeCode: typeCode, inResource: isResource)
            }
        }

        for index in type.requiredIndices where !present.contains(index) {
            let element = type.elements[index]
            path.append(.name(element.name))
            report(.required, "Missing required element '\(element.name)\(element.isChoice ? "[x]" : "")' (minimum cardinality \(element.min))")
            path.removeLast()
        }
    }

    private mutating func walkComplex(name: String, value: JSONValue, element: ElementInfo, typeCode: String,
                                      inResource: Bool) {
        path.append(.name(name))
        defer { path.removeLast() }
        let isContained = inResource && typeCode == "Resource" && element.name == "contained"
        if element.isArray {
            guard case .array(let items) = value else {
                report(.structure, "Element must be a JSON array (maximum cardinality \(element.max.map(String.init) ?? "*"))")
                return
            }
            guard checkArrayCount(items.count, element: element) else { return }
            for (offset, item) in items.enumerated() {
                path.append(.index(offset))
                walkComplexItem(item, typeCode: typeCode, isContained: isContained)
                path.removeLast()
            }
        } else {
            if case .array = value {
                report(.structure, "Element must not be a JSON array (maximum cardinality 1)")
                return
            }
            walkComplexItem(value, typeCode: typeCode, isContained: isContained)
        }
    }

    private mutating func walkComplexItem(_ value: JSONValue, typeCode: String, isContained: Bool) {
        if case .null = value {
            report(.structure, "null is only allowed in arrays of primitive values")
            return
        }
        if typeCode == "Resource" {
            walkResource(value, isContained: isContained, isRoot: false)
            return
        }
        guard case .object(let object) = value else {
            report(.structure, "Element of type \(typeCode) must be a JSON object")
            return
        }
        guard let type = FHIRMetadata.type(named: typeCode) else {
            report(.exception, "No metadata for type \(typeCode)")
            return
        }
        walkObject(object, type: type)
    }

    private mutating func checkArrayCount(_ count: Int, element: ElementInfo) -> Bool {
        if count == 0 {
            report(.structure, "An array must not be empty")
            return false
        }
        if let max = element.max, count > max {
            report(.structure, "Too many repetitions: \(count) where the maximum is \(max)")
            return false
        }
        return true
    }

    // MARK: - Primitives

    /// A primitive element: its value member `name` and its extension member `_name`, either of
    /// which may be absent. Repeating primitives are parallel arrays aligned by index.
    private mutating func walkPrimitive(name: String, value: JSONValue?, extensions: JSONValue?,
                                        element: ElementInfo, typeCode: String, owner: String) {
        path.append(.name(name))
        defer { path.removeLast() }
        let binding = typeCode == "code" ? RequiredCodes.binding(owner: owner, element: element.name) : nil
        guard let primitiveType = FHIRMetadata.type(named: typeCode) else {
            report(.exception, "No metadata for type \(typeCode)")
            return
        }
        guard element.isArray else {
            if let value {
                if case .array = value {
                    report(.structure, "Element must not be a JSON array (maximum cardinality 1)")
                } else {
                    checkPrimitiveValue(value, typeCode: typeCode)
                    checkRequiredCode(value, binding)
                }
            }
            if let extensions {
                walkPrimitiveExtensions(extensions, type: primitiveType, inArray: false, hasValue: value != nil)
            }
            return
        }

        var values: [JSONValue] = []
        var extensionItems: [JSONValue] = []
        if let value {
            guard case .array(let items) = value else {
                report(.structure, "Element must be a JSON array (maximum cardinality \(element.max.map(String.init) ?? "*"))")
                return
            }
            guard checkArrayCount(items.count, element: element) else { return }
            values = items
        }
        if let extensions {
            guard case .array(let items) = extensions else {
                report(.structure, "The '_' extension member of a repeating element must be a JSON array")
                return
            }
            guard checkArrayCount(items.count, element: element) else { return }
            extensionItems = items
        }
        if value != nil && extensions != nil && values.count != extensionItems.count {
            report(.structure, "The '_' extension array must have the same length as the value array")
            return
        }
        for offset in 0..<max(values.count, extensionItems.count) {
            path.append(.index(offset))
            let item = offset < values.count ? values[offset] : .null
            let extensionItem = offset < extensionItems.count ? extensionItems[offset] : .null
            if item.isNull && extensionItem.isNull {
                report(.structure, "An array position must have a value, extensions, or both")
            } else {
                if !item.isNull {
                    checkPrimitiveValue(item, typeCode: typeCode)
                    checkRequiredCode(item, binding)
                }
                if !extensionItem.isNull { walkPrimitiveExtensions(extensionItem, type: primitiveType, inArray: true, hasValue: !item.isNull) }
            }
            path.removeLast()
        }
    }

    private mutating func walkPrimitiveExtensions(_ value: JSONValue, type: TypeInfo, inArray: Bool, hasValue: Bool) {
        switch value {
        case .object(let object):
            walkObject(object, type: type, hasValue: hasValue)
        case .null:
            report(.structure, "null is only allowed in arrays of primitive values")
        case .array where !inArray:
            report(.structure, "Element must not be a JSON array (maximum cardinality 1)")
        default:
            report(.structure, "The '_' extension member must be a JSON object")
        }
    }

    /// A code outside its required value set. The diagnostic names the value set, not the value.
    private mutating func checkRequiredCode(_ value: JSONValue, _ binding: RequiredCodes.Binding?) {
        guard let binding, case .string(let code) = value, !binding.codes.contains(code),
              PrimitiveFormat(typeCode: "code")?.accepts(code) == true else { return }  // else already reported
        report(.codeInvalid, "The code is not in the required value set \(binding.name)")
    }

    private mutating func checkPrimitiveValue(_ value: JSONValue, typeCode: String) {
        guard let kind = FHIRMetadata.primitiveJSONKind(of: typeCode) else { return }
        switch (kind, value) {
        case (.boolean, .bool):
            return
        case (.integer, .number(let lexical)), (.decimal, .number(let lexical)):
            if let format = PrimitiveFormat(typeCode: typeCode), !format.accepts(lexical) {
                report(.value, "Invalid \(typeCode) value")
            }
        case (.string, .string(let text)):
            if text.isEmpty {
                report(.value, "A string value must not be empty")
            } else if let format = PrimitiveFormat(typeCode: typeCode), !format.accepts(text) {
                report(.value, typeCode == "xhtml" ? "Narrative div must be an XHTML div element"
                                                   : "Invalid \(typeCode) value")
            } else if typeCode == "xhtml" {
                // Well-formed XHTML with no active content, as XML input is checked.
                do throws(FHIRFormatError) {
                    try FHIRNarrative.check(text)
                } catch {
                    report(error.issue.code, error.message)
                }
            }
        case (_, .null):
            report(.structure, "null is only allowed in arrays of primitive values")
        default:
            let expected: String
            switch kind {
            case .boolean: expected = "a JSON boolean"
            case .integer, .decimal: expected = "a JSON number"
            case .string: expected = "a JSON string"
            }
            report(.structure, "A \(typeCode) value must be \(expected)")
        }
    }

    // MARK: - Reporting

    private mutating func report(_ code: OutcomeIssue.Code, _ diagnostics: String) {
        issues.append(OutcomeIssue(severity: .error, code: code, diagnostics: diagnostics,
                                   expression: path.isEmpty ? nil : renderedPath))
    }

    private var renderedPath: String {
        var text = ""
        for step in path {
            switch step {
            case .name(let name):
                if !text.isEmpty { text += "." }
                text += name
            case .index(let index):
                text += "[\(index)]"
            }
        }
        return text
    }
}

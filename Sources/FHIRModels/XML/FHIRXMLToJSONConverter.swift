/// Walks a parsed FHIR XML document and builds the JSON form, one element type at a
/// time from the metadata. FHIRPath expressions for errors are computed from the tree
/// only when an error is thrown, so the common path builds no strings for them.
struct FHIRXMLToJSONConverter {
    let document: FHIRXMLDocument
    /// Index of the XML Schema instance namespace, whose `schemaLocation` hints are ignored.
    private let xsiNamespace: Int32

    private static let xsiNamespaceURI: [UInt8] = Array("http://www.w3.org/2001/XMLSchema-instance".utf8)

    init(document: FHIRXMLDocument) {
        self.document = document
        xsiNamespace = document.namespaces.firstIndex(of: Self.xsiNamespaceURI).map { Int32($0) } ?? -1
    }

    /// A resource element such as `<Patient xmlns="http://hl7.org/fhir">`.
    func resource(at node: Int) throws(FHIRFormatError) -> JSONValue {
        let element = document.nodes[node]
        guard element.namespace == FHIRXMLDocument.fhirNamespace else {
            throw failure(.wrongNamespace, "A resource must be in the FHIR namespace (http://hl7.org/fhir).", node)
        }
        let name = document.string(element.value)
        guard let type = FHIRMetadata.resource(named: name) else {
            throw failure(.unknownResourceType, "Unknown resource type.", node)
        }
        var object = JSONObject(reservingCapacity: 12)
        object.append(key: "resourceType", value: .string(name))
        try readAttributes(of: node, type: type, into: &object)
        try readChildren(of: node, type: type, into: &object)
        return .object(object)
    }

    // MARK: - Complex content

    /// Attributes of a complex element: `id` on datatypes and backbone elements and
    /// `url` on Extension (metadata representation `.xmlAttribute`).
    private func readAttributes(of node: Int, type: TypeInfo, into object: inout JSONObject) throws(FHIRFormatError) {
        let element = document.nodes[node]
        var index = Int(element.attributeStart)
        while index < Int(element.attributeEnd) {
            let attribute = document.attributes[index]
            index += 1
            if attribute.namespace == FHIRXMLDocument.noNamespace {
                let name = document.string(attribute.localName)
                if let match = type.element(forJSONName: name), match.element.representation == .xmlAttribute {
                    object.append(key: name, value: .string(document.string(attribute.value)))
                    continue
                }
            } else if isSchemaHint(attribute) {
                continue
            }
            throw unknownAttribute(attribute, of: node)
        }
    }

    private func readChildren(of node: Int, type: TypeInfo, into object: inout JSONObject) throws(FHIRFormatError) {
        let nodes = document.nodes
        var lastIndex = -1
        var child = Int(nodes[node].firstChild)
        while child >= 0 {
            let current = nodes[child]
            if current.kind == .text {
                guard current.isWhitespace else {
                    throw failure(.unknownElement, "Text content is not allowed here.", child)
                }
                child = Int(current.nextSibling)
                continue
            }
            let name = document.string(current.value)
            guard let match = type.element(forJSONName: name), match.element.representation != .xmlAttribute else {
                if current.namespace != FHIRXMLDocument.fhirNamespace {
                    throw failure(.wrongNamespace, "Element is not in the FHIR namespace.", child)
                }
                throw failure(.unknownElement, "Unknown element.", child)
            }
            let expectedNamespace = match.element.representation == .xhtml ? FHIRXMLDocument.xhtmlNamespace : FHIRXMLDocument.fhirNamespace
            guard current.namespace == expectedNamespace else {
                throw failure(
                    .wrongNamespace,
                    expectedNamespace == FHIRXMLDocument.xhtmlNamespace
                        ? "Narrative must be an XHTML div (namespace http://www.w3.org/1999/xhtml)."
                        : "Element is not in the FHIR namespace.",
                    child
                )
            }
            guard match.index > lastIndex else {
                throw failure(
                    .unknownElement,
                    match.index == lastIndex ? "Element repeats but allows only one occurrence." : "Element is out of order.",
                    child
                )
            }
            lastIndex = match.index
            let kind = FHIRMetadata.primitiveJSONKind(of: match.type)
            if match.element.isArray {
                let run = sameNamedRun(from: child)
                if let kind, match.type != "xhtml" {
                    var values: [JSONValue] = []
                    var extras: [JSONValue] = []
                    values.reserveCapacity(run.count)
                    extras.reserveCapacity(run.count)
                    var hasValue = false
                    var hasExtra = false
                    for item in run {
                        let (value, extra) = try primitive(item, kind: kind)
                        hasValue = hasValue || value != nil
                        hasExtra = hasExtra || extra != nil
                        values.append(value ?? .null)
                        extras.append(extra.map(JSONValue.object) ?? .null)
                    }
                    if hasValue { object.append(key: name, value: .array(values)) }
                    if hasExtra { object.append(key: "_" + name, value: .array(extras)) }
                } else {
                    var values: [JSONValue] = []
                    values.reserveCapacity(run.count)
                    for item in run {
                        values.append(try complexValue(item, typeCode: match.type))
                    }
                    object.append(key: name, value: .array(values))
                }
                child = Int(nodes[run[run.count - 1]].nextSibling)
            } else {
                if let kind, match.type != "xhtml" {
                    let (value, extra) = try primitive(child, kind: kind)
                    if let value { object.append(key: name, value: value) }
                    if let extra { object.append(key: "_" + name, value: .object(extra)) }
                } else {
                    object.append(key: name, value: try complexValue(child, typeCode: match.type))
                }
                child = Int(current.nextSibling)
            }
        }
    }

    /// `node` and the following siblings with the same name, skipping white space.
    private func sameNamedRun(from node: Int) -> [Int] {
        let nodes = document.nodes
        let first = nodes[node]
        var run = [node]
        var next = Int(first.nextSibling)
        while next >= 0 {
            let candidate = nodes[next]
            if candidate.kind == .text {
                guard candidate.isWhitespace else { break }
                next = Int(candidate.nextSibling)
                continue
            }
            guard candidate.namespace == first.namespace, document.bytes(candidate.value) == document.bytes(first.value) else { break }
            run.append(next)
            next = Int(candidate.nextSibling)
        }
        return run
    }

    /// A complex datatype, backbone element, narrative or contained resource.
    private func complexValue(_ node: Int, typeCode: String) throws(FHIRFormatError) -> JSONValue {
        switch typeCode {
        case "xhtml":
            try FHIRNarrative.check(document, element: node, expression: expression(of: node))
            return .string(String(decoding: document.xhtmlBytes(of: node), as: UTF8.self))
        case "Resource":
            return try wrappedResource(node)
        default:
            guard let type = FHIRMetadata.type(named: typeCode) else {
                throw failure(.unknownElement, "No metadata for this element's type.", node)
            }
            var object = JSONObject(reservingCapacity: 4)
            try readAttributes(of: node, type: type, into: &object)
            try readChildren(of: node, type: type, into: &object)
            return .object(object)
        }
    }

    /// `<contained><Patient>…</Patient></contained>`: exactly one resource inside.
    private func wrappedResource(_ node: Int) throws(FHIRFormatError) -> JSONValue {
        let wrapper = document.nodes[node]
        var index = Int(wrapper.attributeStart)
        while index < Int(wrapper.attributeEnd) {
            let attribute = document.attributes[index]
            if !isSchemaHint(attribute) { throw unknownAttribute(attribute, of: node) }
            index += 1
        }
        var resource = -1
        for child in document.children(of: node) {
            let current = document.nodes[child]
            if current.kind == .text {
                guard current.isWhitespace else { throw failure(.unknownElement, "Text content is not allowed here.", child) }
                continue
            }
            guard resource < 0 else {
                throw failure(.unknownElement, "A resource element holds exactly one resource.", child)
            }
            resource = child
        }
        guard resource >= 0 else {
            throw failure(.unknownElement, "A resource element holds exactly one resource.", node)
        }
        return try self.resource(at: resource)
    }

    // MARK: - Primitives

    /// The JSON value (from the `value` attribute) and the `_name` object (`id`
    /// attribute and `extension` children) of a primitive element.
    private func primitive(_ node: Int, kind: FHIRPrimitiveJSONKind) throws(FHIRFormatError) -> (JSONValue?, JSONObject?) {
        let element = document.nodes[node]
        var value: JSONValue?
        var id: JSONValue?
        var index = Int(element.attributeStart)
        while index < Int(element.attributeEnd) {
            let attribute = document.attributes[index]
            index += 1
            if attribute.namespace == FHIRXMLDocument.noNamespace {
                if document.span(attribute.localName, equals: "value") {
                    value = try primitiveValue(attribute.value, kind: kind, node: node)
                    continue
                }
                if document.span(attribute.localName, equals: "id") {
                    id = .string(document.string(attribute.value))
                    continue
                }
            } else if isSchemaHint(attribute) {
                continue
            }
            throw unknownAttribute(attribute, of: node)
        }
        var extensions: [JSONValue] = []
        guard let extensionType = FHIRMetadata.type(named: "Extension") else {
            throw failure(.unknownElement, "No metadata for Extension.", node)
        }
        var child = Int(element.firstChild)
        while child >= 0 {
            let current = document.nodes[child]
            defer { child = Int(current.nextSibling) }
            if current.kind == .text {
                guard current.isWhitespace else { throw failure(.unknownElement, "Text content is not allowed here.", child) }
                continue
            }
            guard current.namespace == FHIRXMLDocument.fhirNamespace else {
                throw failure(.wrongNamespace, "Element is not in the FHIR namespace.", child)
            }
            guard document.span(current.value, equals: "extension") else {
                throw failure(.unknownElement, "Unknown element.", child)
            }
            var object = JSONObject(reservingCapacity: 2)
            try readAttributes(of: child, type: extensionType, into: &object)
            try readChildren(of: child, type: extensionType, into: &object)
            extensions.append(.object(object))
        }
        var extra: JSONObject?
        if id != nil || !extensions.isEmpty {
            var object = JSONObject(reservingCapacity: 2)
            if let id { object.append(key: "id", value: id) }
            if !extensions.isEmpty { object.append(key: "extension", value: .array(extensions)) }
            extra = object
        }
        guard value != nil || extra != nil else {
            throw failure(.wrongType, "A primitive element needs a value attribute or extensions.", node)
        }
        return (value, extra)
    }

    private func primitiveValue(_ span: FHIRXMLSpan, kind: FHIRPrimitiveJSONKind, node: Int) throws(FHIRFormatError) -> JSONValue {
        switch kind {
        case .string:
            return .string(document.string(span))
        case .boolean:
            if document.span(span, equals: "true") { return .bool(true) }
            if document.span(span, equals: "false") { return .bool(false) }
            throw failure(.wrongType, "A boolean value must be 'true' or 'false'.", node)
        case .integer:
            guard Self.isJSONNumber(document.bytes(span), integer: true) else {
                throw failure(.wrongType, "The value is not a valid integer.", node)
            }
            return .number(document.string(span))
        case .decimal:
            guard Self.isJSONNumber(document.bytes(span), integer: false) else {
                throw failure(.wrongType, "The value is not a valid decimal.", node)
            }
            return .number(document.string(span))
        }
    }

    /// The JSON number grammar (which is also FHIR's decimal grammar); `integer`
    /// allows neither fraction nor exponent.
    static func isJSONNumber(_ bytes: ArraySlice<UInt8>, integer: Bool) -> Bool {
        var index = bytes.startIndex
        let end = bytes.endIndex
        func digits() -> Int {
            let start = index
            while index < end, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
            return index - start
        }
        if index < end, bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < end else { return false }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else if digits() == 0 {
            return false
        }
        if integer { return index == end }
        if index < end, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { return false }
        }
        if index < end, bytes[index] | 0x20 == UInt8(ascii: "e") {
            index += 1
            if index < end, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { return false }
        }
        return index == end
    }

    // MARK: - Errors

    private func isSchemaHint(_ attribute: FHIRXMLAttribute) -> Bool {
        attribute.namespace == xsiNamespace
            && (document.span(attribute.localName, equals: "schemaLocation") || document.span(attribute.localName, equals: "noNamespaceSchemaLocation"))
    }

    private func unknownAttribute(_ attribute: FHIRXMLAttribute, of node: Int) -> FHIRFormatError {
        let (line, column) = document.location(ofOffset: Int(attribute.sourceOffset))
        return FHIRFormatError(
            .unknownElement, "Unknown attribute '\(document.string(attribute.localName))'.",
            line: line, column: column, expression: expression(of: node)
        )
    }

    private func failure(_ kind: FHIRFormatError.Kind, _ message: String, _ node: Int) -> FHIRFormatError {
        let (line, column) = document.location(of: node)
        return FHIRFormatError(kind, message, line: line, column: column, expression: expression(of: node))
    }

    /// A FHIRPath-like location: element names from the root resource down, with an
    /// index where an element has same-named siblings. Resource elements inside
    /// `contained`, `entry.resource` and the like are skipped, as in FHIR JSON.
    func expression(of node: Int) -> String {
        let nodes = document.nodes
        var components: [String] = []
        var current = nodes[node].kind == .text ? Int(nodes[node].parent) : node
        while current >= 0 {
            let element = nodes[current]
            let name = document.string(element.value)
            let parent = Int(element.parent)
            if parent < 0 {
                components.append(name)
                break
            }
            if element.kind == .element, element.namespace != FHIRXMLDocument.fhirNamespace || !(name.first?.isUppercase ?? false) {
                var position = 0
                var count = 0
                for sibling in document.children(of: parent) where nodes[sibling].kind == .element && document.bytes(nodes[sibling].value) == document.bytes(element.value) {
                    if sibling == current { position = count }
                    count += 1
                }
                components.append(count > 1 ? "\(name)[\(position)]" : name)
            }
            current = parent
        }
        return components.reversed().joined(separator: ".")
    }
}

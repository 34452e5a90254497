/// Walks a parsed FHIR XML document and builds the JSON form, one element type at a
/// time from the metadata (`FHIRXMLTypePlan`). It works over the document's buffers
/// directly: element names are matched as bytes, children are expected in the
/// specification's order (so matching moves forward through the type's elements), and
/// FHIRPath expressions for errors are computed from the tree only when one is thrown.
struct FHIRXMLToJSONConverter {
    private let document: FHIRXMLDocument
    private let source: UnsafeBufferPointer<UInt8>
    private let arena: UnsafeBufferPointer<UInt8>
    private let nodes: UnsafeBufferPointer<FHIRXMLNode>
    private let attributes: UnsafeBufferPointer<FHIRXMLAttribute>
    /// Index of the XML Schema instance namespace, whose `schemaLocation` hints are ignored.
    private let xsiNamespace: Int32

    private static let xsiNamespaceURI: [UInt8] = Array("http://www.w3.org/2001/XMLSchema-instance".utf8)

    /// The resource at the document's root element.
    static func resource(in document: FHIRXMLDocument) throws(FHIRFormatError) -> JSONValue {
        let result: Result<JSONValue, FHIRFormatError> = document.source.withUnsafeBufferPointer { source in
            document.arena.withUnsafeBufferPointer { arena in
                document.nodes.withUnsafeBufferPointer { nodes in
                    document.attributes.withUnsafeBufferPointer { attributes in
                        let converter = FHIRXMLToJSONConverter(
                            document: document, source: source, arena: arena, nodes: nodes, attributes: attributes
                        )
                        do throws(FHIRFormatError) {
                            return .success(try converter.resource(at: document.root, depth: 1))
                        } catch {
                            return .failure(error)
                        }
                    }
                }
            }
        }
        return try result.get()
    }

    private init(
        document: FHIRXMLDocument, source: UnsafeBufferPointer<UInt8>, arena: UnsafeBufferPointer<UInt8>,
        nodes: UnsafeBufferPointer<FHIRXMLNode>, attributes: UnsafeBufferPointer<FHIRXMLAttribute>
    ) {
        self.document = document
        self.source = source
        self.arena = arena
        self.nodes = nodes
        self.attributes = attributes
        xsiNamespace = document.namespaces.firstIndex(of: Self.xsiNamespaceURI).map { Int32($0) } ?? -1
    }

    /// The deepest JSON nesting produced: the JSON parser's default limit, so that what is
    /// read from XML can be stored and parsed again as JSON.
    static let maximumJSONDepth = FHIRJSON.Limits.default.maxDepth

    @inline(__always)
    private func enter(_ depth: Int, _ node: Int) throws(FHIRFormatError) {
        if depth > Self.maximumJSONDepth {
            throw failure(.tooDeep, "The resource nests deeper than the JSON limit of \(Self.maximumJSONDepth) levels.", node)
        }
    }

    /// A resource element such as `<Patient xmlns="http://hl7.org/fhir">`, as a JSON
    /// object at nesting `depth`.
    private func resource(at node: Int, depth: Int) throws(FHIRFormatError) -> JSONValue {
        let element = nodes[node]
        guard element.namespace == FHIRXMLDocument.fhirNamespace else {
            throw failure(.wrongNamespace, "A resource must be in the FHIR namespace (http://hl7.org/fhir).", node)
        }
        let name = string(element.value)
        guard let plan = FHIRXMLTypePlan.resource(named: name) else {
            throw failure(.unknownResourceType, "Unknown resource type.", node)
        }
        var object = JSONObject(reservingCapacity: 12)
        object.append(key: "resourceType", value: .string(plan.type.name))
        try enter(depth, node)
        try readAttributes(of: node, plan: plan, into: &object)
        try readChildren(of: node, plan: plan, into: &object, depth: depth)
        return .object(object)
    }

    // MARK: - Complex content

    /// Attributes of a complex element: `id` on datatypes and backbone elements and
    /// `url` on Extension (metadata representation `.xmlAttribute`).
    private func readAttributes(of node: Int, plan: FHIRXMLTypePlan, into object: inout JSONObject) throws(FHIRFormatError) {
        let element = nodes[node]
        var index = Int(element.attributeStart)
        attributes: while index < Int(element.attributeEnd) {
            let attribute = attributes[index]
            index += 1
            if attribute.namespace == FHIRXMLDocument.noNamespace {
                let name = bytes(attribute.localName)
                for elementIndex in plan.attributeElements {
                    let candidate = plan.elements[elementIndex]
                    if candidate.variant(matching: name) != nil {
                        object.append(key: candidate.variants[0].jsonName, value: .string(string(attribute.value)))
                        continue attributes
                    }
                }
            } else if isSchemaHint(attribute) {
                continue
            }
            throw unknownAttribute(attribute, of: node)
        }
    }

    /// The child elements of `node` as members of `object`, which is at nesting `depth`.
    private func readChildren(of node: Int, plan: FHIRXMLTypePlan, into object: inout JSONObject, depth: Int) throws(FHIRFormatError) {
        var next = 0
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
            guard let (elementIndex, variantIndex) = plan.match(bytes(current.value), from: next) else {
                throw misplacedOrUnknown(child, plan: plan, next: next)
            }
            let element = plan.elements[elementIndex]
            let expectedNamespace = element.representation == .xhtml ? FHIRXMLDocument.xhtmlNamespace : FHIRXMLDocument.fhirNamespace
            guard current.namespace == expectedNamespace else {
                throw failure(
                    .wrongNamespace,
                    expectedNamespace == FHIRXMLDocument.xhtmlNamespace
                        ? "Narrative must be an XHTML div (namespace http://www.w3.org/1999/xhtml)."
                        : "Element is not in the FHIR namespace.",
                    child
                )
            }
            guard element.representation != .xmlAttribute else {
                throw failure(.unknownElement, "Unknown element (this one is written as an attribute).", child)
            }
            next = elementIndex + 1
            let variant = element.variants[variantIndex]
            if element.isArray {
                try enter(depth + 1, child)
                var last = child
                if case .primitive(let kind) = variant.content {
                    var values: [JSONValue] = []
                    var extras: [JSONValue] = []
                    var hasValue = false
                    var hasExtra = false
                    var item = child
                    while item >= 0 {
                        let (value, extra) = try primitive(item, kind: kind, depth: depth + 2)
                        hasValue = hasValue || value != nil
                        hasExtra = hasExtra || extra != nil
                        values.append(value ?? .null)
                        extras.append(extra.map(JSONValue.object) ?? .null)
                        last = item
                        item = nextSameNamed(item)
                    }
                    if hasValue { object.append(key: variant.jsonName, value: .array(values)) }
                    if hasExtra { object.append(key: variant.extraJSONName, value: .array(extras)) }
                } else {
                    var values: [JSONValue] = []
                    var item = child
                    while item >= 0 {
                        values.append(try complexValue(item, content: variant.content, depth: depth + 2))
                        last = item
                        item = nextSameNamed(item)
                    }
                    object.append(key: variant.jsonName, value: .array(values))
                }
                child = Int(nodes[last].nextSibling)
            } else {
                if case .primitive(let kind) = variant.content {
                    let (value, extra) = try primitive(child, kind: kind, depth: depth + 1)
                    if let value { object.append(key: variant.jsonName, value: value) }
                    if let extra { object.append(key: variant.extraJSONName, value: .object(extra)) }
                } else {
                    object.append(key: variant.jsonName, value: try complexValue(child, content: variant.content, depth: depth + 1))
                }
                child = Int(current.nextSibling)
            }
        }
    }

    /// The next sibling element with the same name and namespace, when only white space
    /// separates them; -1 otherwise.
    @inline(__always)
    private func nextSameNamed(_ node: Int) -> Int {
        let first = nodes[node]
        var next = Int(first.nextSibling)
        while next >= 0 {
            let candidate = nodes[next]
            if candidate.kind == .text {
                guard candidate.isWhitespace else { return -1 }
                next = Int(candidate.nextSibling)
                continue
            }
            guard candidate.namespace == first.namespace, equal(candidate.value, first.value) else { return -1 }
            return next
        }
        return -1
    }

    /// Why a child element did not match from `next` on: it belongs earlier (out of
    /// order or repeated), is in another namespace, or is not an element of the type.
    private func misplacedOrUnknown(_ node: Int, plan: FHIRXMLTypePlan, next: Int) -> FHIRFormatError {
        let current = nodes[node]
        if let (elementIndex, _) = plan.match(bytes(current.value), from: 0), plan.elements[elementIndex].representation != .xmlAttribute {
            let expectedNamespace = plan.elements[elementIndex].representation == .xhtml ? FHIRXMLDocument.xhtmlNamespace : FHIRXMLDocument.fhirNamespace
            if current.namespace != expectedNamespace {
                return failure(.wrongNamespace, "Element is not in the FHIR namespace.", node)
            }
            return failure(
                .unknownElement,
                elementIndex == next - 1 ? "Element repeats but allows only one occurrence." : "Element is out of order.",
                node
            )
        }
        if current.namespace != FHIRXMLDocument.fhirNamespace {
            return failure(.wrongNamespace, "Element is not in the FHIR namespace.", node)
        }
        return failure(.unknownElement, "Unknown element.", node)
    }

    /// A complex datatype, backbone element, narrative or contained resource.
    private func complexValue(_ node: Int, content: FHIRXMLElementPlan.Content, depth: Int) throws(FHIRFormatError) -> JSONValue {
        switch content {
        case .complex(let index):
            try enter(depth, node)
            let plan = FHIRXMLTypePlan.all[index]
            var object = JSONObject(reservingCapacity: 4)
            try readAttributes(of: node, plan: plan, into: &object)
            try readChildren(of: node, plan: plan, into: &object, depth: depth)
            return .object(object)
        case .xhtml:
            try FHIRNarrative.check(document, element: node, expression: expression(of: node))
            return .string(String(decoding: document.xhtmlBytes(of: node), as: UTF8.self))
        case .resource:
            return try wrappedResource(node, depth: depth)
        case .primitive, .unknown:
            throw failure(.unknownElement, "No metadata for this element's type.", node)
        }
    }

    /// `<contained><Patient>…</Patient></contained>`: exactly one resource inside.
    private func wrappedResource(_ node: Int, depth: Int) throws(FHIRFormatError) -> JSONValue {
        let wrapper = nodes[node]
        var index = Int(wrapper.attributeStart)
        while index < Int(wrapper.attributeEnd) {
            let attribute = attributes[index]
            if !isSchemaHint(attribute) { throw unknownAttribute(attribute, of: node) }
            index += 1
        }
        var resource = -1
        var child = Int(wrapper.firstChild)
        while child >= 0 {
            let current = nodes[child]
            if current.kind == .text {
                guard current.isWhitespace else { throw failure(.unknownElement, "Text content is not allowed here.", child) }
            } else {
                guard resource < 0 else {
                    throw failure(.unknownElement, "A resource element holds exactly one resource.", child)
                }
                resource = child
            }
            child = Int(current.nextSibling)
        }
        guard resource >= 0 else {
            throw failure(.unknownElement, "A resource element holds exactly one resource.", node)
        }
        return try self.resource(at: resource, depth: depth)
    }

    // MARK: - Primitives

    /// The JSON value (from the `value` attribute) and the `_name` object (`id`
    /// attribute and `extension` children) of a primitive element; the `_name` object
    /// would be at nesting `depth`.
    private func primitive(_ node: Int, kind: FHIRPrimitiveJSONKind, depth: Int) throws(FHIRFormatError) -> (JSONValue?, JSONObject?) {
        let element = nodes[node]
        var value: JSONValue?
        var id: JSONValue?
        var index = Int(element.attributeStart)
        while index < Int(element.attributeEnd) {
            let attribute = attributes[index]
            index += 1
            if attribute.namespace == FHIRXMLDocument.noNamespace {
                if equal(attribute.localName, "value") {
                    value = try primitiveValue(attribute.value, kind: kind, node: node)
                    continue
                }
                if equal(attribute.localName, "id") {
                    id = .string(string(attribute.value))
                    continue
                }
            } else if isSchemaHint(attribute) {
                continue
            }
            throw unknownAttribute(attribute, of: node)
        }
        var extensions: [JSONValue] = []
        var child = Int(element.firstChild)
        while child >= 0 {
            let current = nodes[child]
            if current.kind == .text {
                guard current.isWhitespace else { throw failure(.unknownElement, "Text content is not allowed here.", child) }
            } else {
                guard current.namespace == FHIRXMLDocument.fhirNamespace else {
                    throw failure(.wrongNamespace, "Element is not in the FHIR namespace.", child)
                }
                guard equal(current.value, "extension") else {
                    throw failure(.unknownElement, "Unknown element.", child)
                }
                try enter(depth + 2, child)
                let plan = FHIRXMLTypePlan.extensionPlan
                var object = JSONObject(reservingCapacity: 2)
                try readAttributes(of: child, plan: plan, into: &object)
                try readChildren(of: child, plan: plan, into: &object, depth: depth + 2)
                extensions.append(.object(object))
            }
            child = Int(current.nextSibling)
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
            return .string(string(span))
        case .boolean:
            if equal(span, "true") { return .bool(true) }
            if equal(span, "false") { return .bool(false) }
            throw failure(.wrongType, "A boolean value must be 'true' or 'false'.", node)
        case .integer:
            guard Self.isJSONNumber(bytes(span), integer: true) else {
                throw failure(.wrongType, "The value is not a valid integer.", node)
            }
            return .number(string(span))
        case .decimal:
            guard Self.isJSONNumber(bytes(span), integer: false) else {
                throw failure(.wrongType, "The value is not a valid decimal.", node)
            }
            return .number(string(span))
        }
    }

    /// The JSON number grammar (which is also FHIR's decimal grammar); `integer`
    /// allows neither fraction nor exponent.
    static func isJSONNumber(_ bytes: UnsafeBufferPointer<UInt8>, integer: Bool) -> Bool {
        var index = 0
        let end = bytes.count
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

    // MARK: - Bytes

    @inline(__always)
    private func bytes(_ span: FHIRXMLSpan) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(rebasing: (span.isDecoded ? arena : source)[Int(span.start)..<Int(span.end)])
    }

    @inline(__always)
    private func string(_ span: FHIRXMLSpan) -> String {
        String(decoding: bytes(span), as: UTF8.self)
    }

    @inline(__always)
    private func equal(_ a: FHIRXMLSpan, _ b: FHIRXMLSpan) -> Bool {
        guard a.count == b.count else { return false }
        let x = bytes(a)
        let y = bytes(b)
        var index = 0
        while index < x.count {
            if x[index] != y[index] { return false }
            index += 1
        }
        return true
    }

    @inline(__always)
    private func equal(_ span: FHIRXMLSpan, _ literal: StaticString) -> Bool {
        guard span.count == literal.utf8CodeUnitCount else { return false }
        let x = bytes(span)
        let y = literal.utf8Start
        var index = 0
        while index < x.count {
            if x[index] != y[index] { return false }
            index += 1
        }
        return true
    }

    // MARK: - Errors

    private func isSchemaHint(_ attribute: FHIRXMLAttribute) -> Bool {
        attribute.namespace == xsiNamespace
            && (equal(attribute.localName, "schemaLocation") || equal(attribute.localName, "noNamespaceSchemaLocation"))
    }

    private func unknownAttribute(_ attribute: FHIRXMLAttribute, of node: Int) -> FHIRFormatError {
        let (line, column) = document.location(ofOffset: Int(attribute.sourceOffset))
        return FHIRFormatError(
            .unknownElement, "Unknown attribute '\(string(attribute.localName))'.",
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
    private func expression(of node: Int) -> String {
        var components: [String] = []
        var current = nodes[node].kind == .text ? Int(nodes[node].parent) : node
        while current >= 0 {
            let element = nodes[current]
            let name = string(element.value)
            let parent = Int(element.parent)
            if parent < 0 {
                components.append(name)
                break
            }
            if element.namespace != FHIRXMLDocument.fhirNamespace || !(name.first?.isUppercase ?? false) {
                var position = 0
                var count = 0
                for sibling in document.children(of: parent) where nodes[sibling].kind == .element && equal(nodes[sibling].value, element.value) {
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

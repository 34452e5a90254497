/// Safety rules for narrative XHTML (`Narrative.div`), applied to XML input, JSON
/// input and anything we write. Narrative is shown to clinicians in browsers, so
/// content that can run code or submit data is refused rather than cleaned:
/// scripts, frames, objects, forms, document-level elements, event handler
/// attributes (`on*`), `javascript:`-like URLs and script in styles.
public enum FHIRNarrative {
    /// Checks a narrative `div` as found in FHIR JSON: well-formed XML, an XHTML `div`
    /// root, XHTML elements only, and no active content.
    public static func check(_ div: String, expression: String? = nil) throws(FHIRFormatError) {
        _ = try parse(Array(div.utf8), expression: expression)
    }

    /// Parses and checks a JSON narrative string; the document is returned for callers
    /// that need its content.
    static func parse(_ bytes: [UInt8], expression: String?) throws(FHIRFormatError) -> FHIRXMLDocument {
        let document: FHIRXMLDocument
        do throws(FHIRFormatError) {
            document = try FHIRXMLDocument(parsingFragment: bytes)
        } catch {
            throw FHIRFormatError(
                error.kind, "Narrative XHTML: \(error.message)", line: error.line, column: error.column, expression: expression
            )
        }
        try check(document, element: document.root, expression: expression)
        return document
    }

    /// Checks the narrative `div` element `element` of a parsed document.
    static func check(_ document: FHIRXMLDocument, element: Int, expression: String?) throws(FHIRFormatError) {
        let root = document.nodes[element]
        guard root.namespace == FHIRXMLDocument.xhtmlNamespace else {
            throw failure(.wrongNamespace, "Narrative must be an XHTML div (namespace http://www.w3.org/1999/xhtml).", document, element, expression)
        }
        guard document.span(root.value, equals: "div") else {
            throw failure(.unknownElement, "Narrative must be an XHTML div element.", document, element, expression)
        }
        var pending = [element]
        while let node = pending.popLast() {
            let current = document.nodes[node]
            guard current.kind == .element else { continue }
            guard current.namespace == FHIRXMLDocument.xhtmlNamespace else {
                throw failure(.wrongNamespace, "Narrative may contain XHTML elements only.", document, node, expression)
            }
            let name = document.string(current.value).lowercased()
            if forbiddenElements.contains(name) {
                throw failure(.activeContent, "Narrative must not contain a '\(name)' element.", document, node, expression)
            }
            var index = Int(current.attributeStart)
            while index < Int(current.attributeEnd) {
                try check(document.attributes[index], of: node, in: document, expression: expression)
                index += 1
            }
            var child = Int(current.firstChild)
            while child >= 0 {
                pending.append(child)
                child = Int(document.nodes[child].nextSibling)
            }
        }
    }

    /// Elements that run code, embed other documents, submit data or belong only at
    /// document level. The names are compared case-insensitively.
    static let forbiddenElements: Set<String> = [
        "script", "noscript", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "param",
        "form", "input", "button", "select", "option", "optgroup", "textarea",
        "html", "head", "body", "title", "base", "link", "meta",
    ]

    /// Attributes whose value is a URL that a browser may load or navigate to.
    static let urlAttributes: Set<String> = [
        "href", "src", "action", "formaction", "background", "cite", "longdesc", "usemap", "data",
        "codebase", "classid", "poster", "dynsrc", "lowsrc", "profile",
    ]

    private static func check(_ attribute: FHIRXMLAttribute, of node: Int, in document: FHIRXMLDocument, expression: String?) throws(FHIRFormatError) {
        if attribute.namespace == FHIRXMLDocument.xmlNamespace { return }
        guard attribute.namespace == FHIRXMLDocument.noNamespace else {
            throw failure(.wrongNamespace, "Narrative attributes must not be in another namespace (such as xlink).", document, node, expression, offset: Int(attribute.sourceOffset))
        }
        let name = document.string(attribute.localName).lowercased()
        if name.hasPrefix("on") {
            throw failure(.activeContent, "Narrative must not contain event handler attributes.", document, node, expression, offset: Int(attribute.sourceOffset))
        }
        if urlAttributes.contains(name), isDangerousURL(document.bytes(attribute.value)) {
            throw failure(.activeContent, "Narrative must not contain script URLs.", document, node, expression, offset: Int(attribute.sourceOffset))
        }
        if name == "style", isDangerousStyle(document.bytes(attribute.value)) {
            throw failure(.activeContent, "Narrative styles must not contain script or behaviours.", document, node, expression, offset: Int(attribute.sourceOffset))
        }
    }

    /// Lower-cased, with ASCII white space and control characters removed, as browsers
    /// ignore them inside a URL scheme (`java\tscript:`).
    private static func squeezed(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count)
        for byte in bytes where byte > 0x20 {
            result.append(byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte)
        }
        return result
    }

    static func isDangerousURL(_ value: ArraySlice<UInt8>) -> Bool {
        let url = squeezed(value)
        if url.starts(with: "javascript:".utf8) || url.starts(with: "vbscript:".utf8) || url.starts(with: "livescript:".utf8) {
            return true
        }
        if url.starts(with: "data:".utf8) {
            // Inline images are legitimate in narrative; other data URLs (HTML, SVG) can carry script.
            return !url.starts(with: "data:image/".utf8) || url.starts(with: "data:image/svg".utf8)
        }
        return false
    }

    static func isDangerousStyle(_ value: ArraySlice<UInt8>) -> Bool {
        let style = squeezed(value)
        for marker in ["javascript:", "vbscript:", "expression(", "behavior:", "-moz-binding"] where contains(style, Array(marker.utf8)) {
            return true
        }
        return false
    }

    private static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard haystack.count >= needle.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }

    private static func failure(
        _ kind: FHIRFormatError.Kind, _ message: String, _ document: FHIRXMLDocument, _ node: Int, _ expression: String?, offset: Int? = nil
    ) -> FHIRFormatError {
        let (line, column) = document.location(ofOffset: offset ?? Int(document.nodes[node].sourceStart))
        return FHIRFormatError(kind, message, line: line, column: column, expression: expression)
    }
}

extension FHIRXMLDocument {
    /// Elements written as `<br/>`; all others get an end tag, so that the result
    /// also reads correctly when a browser parses it as HTML.
    private static let voidElements: Set<String> = [
        "br", "hr", "img", "col", "area", "wbr",
    ]

    /// Serializes an XHTML element (a narrative `div`) as a standalone XML string, with
    /// the XHTML namespace declared as the default namespace on the element itself.
    /// Comments and processing instructions are not kept; CDATA becomes escaped text.
    func xhtmlBytes(of element: Int) -> [UInt8] {
        var output = FHIRXMLOutput(reservingCapacity: Int(nodes[element].sourceEnd - nodes[element].sourceStart) + 48)
        appendXHTML(element, to: &output, isRoot: true)
        return output.bytes
    }

    private func appendXHTML(_ element: Int, to output: inout FHIRXMLOutput, isRoot: Bool) {
        let node = nodes[element]
        output.append(UInt8(ascii: "<"))
        output.append(raw: bytes(node.value))
        if isRoot {
            output.append(" xmlns=\"http://www.w3.org/1999/xhtml\"")
        }
        var index = Int(node.attributeStart)
        while index < Int(node.attributeEnd) {
            let attribute = attributes[index]
            output.append(UInt8(ascii: " "))
            if attribute.namespace == Self.xmlNamespace { output.append("xml:") }
            output.append(raw: bytes(attribute.localName))
            output.append("=\"")
            output.appendEscaped(bytes(attribute.value), attribute: true)
            output.append(UInt8(ascii: "\""))
            index += 1
        }
        if node.firstChild < 0, Self.voidElements.contains(string(node.value)) {
            output.append("/>")
            return
        }
        output.append(UInt8(ascii: ">"))
        var child = Int(node.firstChild)
        while child >= 0 {
            let childNode = nodes[child]
            if childNode.kind == .text {
                output.appendEscaped(bytes(childNode.value), attribute: false)
            } else {
                appendXHTML(child, to: &output, isRoot: false)
            }
            child = Int(childNode.nextSibling)
        }
        output.append("</")
        output.append(raw: bytes(node.value))
        output.append(UInt8(ascii: ">"))
    }
}

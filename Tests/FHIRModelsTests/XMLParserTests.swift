import FixtureSupport
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import FHIRModels

@Suite("XML parser")
struct XMLParserTests {
    private func parse(_ text: String) throws(FHIRFormatError) -> FHIRXMLDocument {
        try FHIRXMLDocument(parsing: Array(text.utf8))
    }

    private func parseError(_ text: String) -> FHIRFormatError? {
        parseError(Array(text.utf8))
    }

    private func parseError(_ bytes: [UInt8]) -> FHIRFormatError? {
        do {
            _ = try FHIRXMLDocument(parsing: bytes)
            return nil
        } catch {
            return error
        }
    }

    private func elementChildren(_ document: FHIRXMLDocument, _ node: Int) -> [Int] {
        document.children(of: node).filter { document.nodes[$0].kind == .element }
    }

    private func text(_ document: FHIRXMLDocument, _ node: Int) -> String {
        document.children(of: node).filter { document.nodes[$0].kind == .text }.map { document.string(document.nodes[$0].value) }.joined()
    }

    @Test func parsesElementsAttributesAndNamespaces() throws {
        let document = try parse("""
            <?xml version="1.0" encoding="UTF-8"?>
            <!-- leading comment --><?pi skipped?>
            <Patient xmlns="http://hl7.org/fhir" xmlns:x="http://www.w3.org/1999/xhtml">
              <id value="a&amp;b &#x41;&#66;"/>
              <x:div xml:lang="en"><p>t</p></x:div>
              <other xmlns=""><inner/></other>
            </Patient>
            """)
        let root = document.root
        #expect(document.localName(of: root) == "Patient")
        #expect(document.nodes[root].namespace == FHIRXMLDocument.fhirNamespace)
        let children = elementChildren(document, root)
        #expect(children.map { document.localName(of: $0) } == ["id", "div", "other"])
        #expect(document.attribute("value", of: children[0]).map(document.string) == "a&b AB")
        #expect(document.nodes[children[1]].namespace == FHIRXMLDocument.xhtmlNamespace)
        let lang = document.attributes[Int(document.nodes[children[1]].attributeStart)]
        #expect(lang.namespace == FHIRXMLDocument.xmlNamespace)
        let p = elementChildren(document, children[1])[0]
        #expect(document.nodes[p].namespace == FHIRXMLDocument.fhirNamespace, "unprefixed children of x:div are in the default namespace")
        #expect(document.nodes[children[2]].namespace == FHIRXMLDocument.noNamespace)
        #expect(document.nodes[elementChildren(document, children[2])[0]].namespace == FHIRXMLDocument.noNamespace)
        // The namespace declarations are not attributes.
        #expect(document.nodes[root].attributeEnd == document.nodes[root].attributeStart)
    }

    @Test func mergesTextAndCDATAAndNormalizesLineEnds() throws {
        let document = try parse("<a>one\r\ntwo<!-- c --><![CDATA[<&>\r]]>&lt;x\rend</a>")
        #expect(text(document, document.root) == "one\ntwo<&>\n<x\nend")
        #expect(document.children(of: document.root).map { $0 }.count == 1)
    }

    @Test func normalizesAttributeValues() throws {
        let document = try parse("<a v='x\ty\r\nz&#10;w&#9;'/>")
        #expect(document.attribute("v", of: document.root).map(document.string) == "x y z\nw\t")
    }

    @Test func keepsSourceRangesOfElements() throws {
        let source = "<a> <b x='1'>t</b><c/></a>"
        let document = try parse(source)
        let children = elementChildren(document, document.root)
        let b = document.nodes[children[0]]
        #expect(String(decoding: document.source[Int(b.sourceStart)..<Int(b.sourceEnd)], as: UTF8.self) == "<b x='1'>t</b>")
        let c = document.nodes[children[1]]
        #expect(String(decoding: document.source[Int(c.sourceStart)..<Int(c.sourceEnd)], as: UTF8.self) == "<c/>")
    }

    @Test func acceptsCharacterReferencesToValidCodePoints() throws {
        let document = try parse("<a>&#x10FFFF;&#xE9;&#233;&#x9;</a>")
        #expect(text(document, document.root) == "\u{10FFFF}éé\t")
    }

    @Test(arguments: ["&#0;", "&#x1;", "&#xD800;", "&#xDFFF;", "&#xFFFE;", "&#x110000;", "&#99999999999;", "&#;", "&#x;", "&#12", "&#xG1;"])
    func refusesBadCharacterReferences(_ reference: String) {
        let error = parseError("<a>\(reference)</a>")
        #expect(error?.kind == .malformedXML)
    }

    @Test(arguments: ["&nbsp;", "&copy;", "&xxe;", "&lol9;", "&amp", "& x;", "&;"])
    func refusesUnknownOrMalformedEntities(_ reference: String) {
        let error = parseError("<a>x\(reference)</a>")
        #expect(error?.kind == .malformedXML)
        #expect(error?.line == 1 && error?.column == 5)
        let inAttribute = parseError("<a v='\(reference)'/>")
        #expect(inAttribute?.kind == .malformedXML)
    }

    @Test(arguments: [
        "<a>", "<a></b>", "<a><b></a></b>", "</a>", "<a/><b/>", "text<a/>", "<a/>text", "<a x='1' x='2'/>",
        "<a x=1/>", "<a x='<'/>", "<a x='1'y='2'/>", "<a><!-- a -- b --></a>", "<a><![CDATA[x</a>", "<a>]]></a>",
        "<p:a/>", "<a xmlns:p='urn:x' xmlns:q='urn:x' p:v='1' q:v='2'/>", "<a xmlns:p=''/>", "<a:b:c/>", "<a:/>",
        "<1a/>", "<a><?xml version='1.0'?></a>", "<a></a >x", "<a", "<a b", "<a b=", "<a b='", "<a><", "",
        "<?xml version='1.0' encoding='ISO-8859-1'?><a/>", "<?xml encoding='UTF-8'?><a/>", " <?xml version='1.0'?><a/>",
        "<a xmlns:xml='urn:other'/>", "<a xmlns:xmlns='urn:x'/>", "<a><!- x --></a>",
    ])
    func refusesMalformedXML(_ text: String) {
        let error = parseError(text)
        #expect(error?.kind == .malformedXML, "\(text) -> \(String(describing: error))")
    }

    @Test func reportsLineAndColumn() {
        let error = parseError("<a>\n  <b>\n  </c>\n</a>")
        #expect(error?.kind == .malformedXML)
        #expect(error?.line == 3)
        #expect(error?.column == 3)
    }

    @Test(arguments: [
        [0x3C, 0x61, 0x3E, 0xFF, 0x3C, 0x2F, 0x61, 0x3E],  // stray byte
        [0x3C, 0x61, 0x3E, 0xC0, 0x80, 0x3C, 0x2F, 0x61, 0x3E],  // overlong NUL
        [0x3C, 0x61, 0x3E, 0xED, 0xA0, 0x80, 0x3C, 0x2F, 0x61, 0x3E],  // UTF-16 surrogate
        [0x3C, 0x61, 0x3E, 0xF4, 0x90, 0x80, 0x80, 0x3C, 0x2F, 0x61, 0x3E],  // above U+10FFFF
        [0x3C, 0x61, 0x3E, 0xE2, 0x82],  // truncated
    ] as [[UInt8]])
    func refusesInvalidUTF8(_ bytes: [UInt8]) {
        let error = parseError(bytes)
        #expect(error?.kind == .invalidUTF8)
        #expect(error?.line == 1 && error?.column == 4)
    }

    @Test func refusesControlCharacters() {
        #expect(parseError("<a>\u{1}</a>")?.kind == .malformedXML)
        #expect(parseError("<a v='\u{0}'/>")?.kind == .malformedXML)
    }

    @Test func acceptsByteOrderMarkAndUnicodeNames() throws {
        let document = try FHIRXMLDocument(parsing: [0xEF, 0xBB, 0xBF] + Array("<été a='ü'>日本</été>".utf8))
        #expect(document.localName(of: document.root) == "été")
        #expect(text(document, document.root) == "日本")
    }

    @Test func limitsNestingDepth() throws {
        let limit = FHIRXMLParser.maximumDepth
        let atLimit = String(repeating: "<a>", count: limit) + String(repeating: "</a>", count: limit)
        _ = try parse(atLimit)
        let emptyAtLimit = String(repeating: "<a>", count: limit - 1) + "<a/>" + String(repeating: "</a>", count: limit - 1)
        _ = try parse(emptyAtLimit)
        let tooDeep = String(repeating: "<a>", count: limit + 1) + String(repeating: "</a>", count: limit + 1)
        let error = parseError(tooDeep)
        #expect(error?.kind == .tooDeep)
        #expect(error?.line == 1 && error?.column == 3 * limit + 1)
        // Far deeper input fails the same way, without exhausting the stack.
        #expect(parseError(String(repeating: "<a>", count: 1_000_000))?.kind == .tooDeep)
    }

    // MARK: - DTDs and entities

    @Test func refusesExternalEntities() {
        let xxe = """
            <?xml version="1.0"?>
            <!DOCTYPE Patient [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
            <Patient xmlns="http://hl7.org/fhir"><id value="&xxe;"/></Patient>
            """
        let error = parseError(xxe)
        #expect(error?.kind == .forbiddenDTD)
        #expect(error?.line == 2 && error?.column == 1)
        #expect(error.map { !"\($0)".contains("root:") } == true)
    }

    @Test func refusesEntityExpansion() {
        var laughs = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n"
        laughs += "<!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
        for level in 2...9 {
            laughs += "<!ENTITY lol\(level) \"" + String(repeating: "&lol\(level - 1);", count: 10) + "\">\n"
        }
        laughs += "]>\n<lolz>&lol9;</lolz>"
        #expect(parseError(laughs)?.kind == .forbiddenDTD)
    }

    @Test(arguments: [
        "<!DOCTYPE a><a/>", "<!DOCTYPE a SYSTEM 'http://example.org/a.dtd'><a/>", "<!-- x --><!DOCTYPE a><a/>",
        "<a><!DOCTYPE a></a>", "<a><!ENTITY x 'y'></a>", "<a/><!DOCTYPE a>", "<!doctype a><a/>",
    ])
    func refusesAnyDTD(_ text: String) {
        #expect(parseError(text)?.kind == .forbiddenDTD)
    }

    // MARK: - Narrative

    @Test func serializesXHTMLWithItsNamespace() throws {
        let document = try parse("""
            <Patient xmlns="http://hl7.org/fhir"><text><h:div xmlns:h="http://www.w3.org/1999/xhtml" class="a&quot;b">\
            <h:p>1 &lt; 2 &amp; <h:br/><![CDATA[<b>]]></h:p><h:a name="x"/><h:img src="data:image/png;base64,AA=="/>\
            </h:div></text></Patient>
            """)
        let text = elementChildren(document, document.root)[0]
        let div = elementChildren(document, text)[0]
        try FHIRNarrative.check(document, element: div, expression: "Patient.text.div")
        let xhtml = String(decoding: document.xhtmlBytes(of: div), as: UTF8.self)
        #expect(xhtml == """
            <div xmlns="http://www.w3.org/1999/xhtml" class="a&quot;b"><p>1 &lt; 2 &amp; <br/>&lt;b&gt;</p>\
            <a name="x"></a><img src="data:image/png;base64,AA=="/></div>
            """)
        try FHIRNarrative.check(xhtml)
    }

    @Test(arguments: [
        "<div xmlns='http://www.w3.org/1999/xhtml'><script>alert(1)</script></div>",
        "<div xmlns='http://www.w3.org/1999/xhtml'><SCRIPT>alert(1)</SCRIPT></div>",
        "<div xmlns='http://www.w3.org/1999/xhtml'><p><iframe src='https://example.org'/></p></div>",
        "<div xmlns='http://www.w3.org/1999/xhtml'><form action='https://example.org'><input/></form></div>",
        "<div xmlns='http://www.w3.org/1999/xhtml'><object data='x.swf'/></div>",
        "<div xmlns='http://www.w3.org/1999/xhtml'><embed src='x.swf'/></div>",
        "<div xmlns='http://www.w3.org/1999/xhtml'><img src='x.png' onerror='alert(1)'/></div>",
        "<div xmlns='http://www.w3.org/1999/xhtml' onClick='alert(1)'>x</div>",
        "<div xmlns='http://www.w3.org/1999/xhtml'><a href='javascript:alert(1)'>x</a></div>",
        "<div xmlns='http://www.w3.org/1999/xhtml'><a href=' JaVa&#9;ScRiPt:alert(1)'>x</a></div>",
        "<div xmlns='http://www.w3.org/1999/xhtml'><a href='data:text/html,&lt;script&gt;'>x</a></div>",
        "<div xmlns='http://www.w3.org/1999/xhtml'><img src='data:image/svg+xml;base64,AA=='/></div>",
        "<div xmlns='http://www.w3.org/1999/xhtml'><p style='background:url(javascript:alert(1))'>x</p></div>",
        "<div xmlns='http://www.w3.org/1999/xhtml'><p style='width: expression(alert(1))'>x</p></div>",
    ])
    func refusesActiveContent(_ div: String) {
        #expect(throws: FHIRFormatError.self) { try FHIRNarrative.check(div) }
        do {
            try FHIRNarrative.check(div, expression: "Patient.text.div")
        } catch {
            #expect(error.kind == .activeContent, "\(div)")
            #expect(error.expression == "Patient.text.div")
        }
    }

    @Test(arguments: [
        ("<div>x</div>", FHIRFormatError.Kind.wrongNamespace),
        ("<div xmlns='http://hl7.org/fhir'>x</div>", .wrongNamespace),
        ("<p xmlns='http://www.w3.org/1999/xhtml'>x</p>", .unknownElement),
        ("<div xmlns='http://www.w3.org/1999/xhtml'><svg xmlns='http://www.w3.org/2000/svg'/></div>", .wrongNamespace),
        ("<div xmlns='http://www.w3.org/1999/xhtml' xmlns:l='http://www.w3.org/1999/xlink'><a l:href='x'>x</a></div>", .wrongNamespace),
        ("<div xmlns='http://www.w3.org/1999/xhtml'>x", .malformedXML),
        ("<?xml version='1.0'?><div xmlns='http://www.w3.org/1999/xhtml'>x</div>", .malformedXML),
        ("<!DOCTYPE div [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><div xmlns='http://www.w3.org/1999/xhtml'>&e;</div>", .forbiddenDTD),
        ("<div xmlns='http://www.w3.org/1999/xhtml'>&nbsp;</div>", .malformedXML),
    ])
    func refusesNarrativeThatIsNotAnXHTMLDiv(_ div: String, _ kind: FHIRFormatError.Kind) {
        do {
            try FHIRNarrative.check(div)
            Issue.record("accepted \(div)")
        } catch {
            #expect(error.kind == kind, "\(div)")
        }
    }

    @Test func acceptsOrdinaryNarrative() throws {
        try FHIRNarrative.check("""
            <div xmlns="http://www.w3.org/1999/xhtml" xml:lang="en"><p style="color: red">Hi <a href="https://example.org/x?a=1&amp;b=2">link</a>\
            <a href="#one">one</a><img src="#pic" alt=""/> <span class="onion">onion</span></p><table><tr><td>1</td></tr></table></div>
            """)
    }

    // MARK: - Real data

    /// Every official example parses, and gives the same tree as libxml2 (through
    /// FoundationXML, used here only as an oracle on trusted files).
    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func parsesOfficialExamplesLikeLibxml2() throws {
        let files = Fixtures.files(in: "hl7-examples/xml", withExtension: "xml")
        #expect(files.count == Fixtures.expected(full: 161, vendored: 32))
        for file in files {
            let data = try Data(contentsOf: file)
            let document = try FHIRXMLDocument(parsing: Array(data))
            #if canImport(FoundationXML) || os(macOS)
            let oracle = try XMLDocument(data: data, options: [.nodePreserveWhitespace])
            let ours = describe(document, document.root)
            let theirs = describe(try #require(oracle.rootElement()))
            if ours != theirs {
                let common = zip(ours, theirs).prefix { $0 == $1 }.count
                Issue.record("\(file.lastPathComponent): ours \(ours.dropFirst(common).prefix(80).debugDescription) libxml2 \(theirs.dropFirst(common).prefix(80).debugDescription)")
            }
            #endif
        }
    }

    private func describe(_ document: FHIRXMLDocument, _ node: Int) -> String {
        let element = document.nodes[node]
        var result = "{" + document.namespaceURI(of: node) + "}" + document.localName(of: node)
        var attributes: [String] = []
        for index in Int(element.attributeStart)..<Int(element.attributeEnd) {
            let attribute = document.attributes[index]
            let prefix = attribute.namespace == FHIRXMLDocument.xmlNamespace ? "xml:" : ""
            attributes.append("\(prefix)\(document.string(attribute.localName))=\(document.string(attribute.value))")
        }
        result += "[" + attributes.sorted().joined(separator: ",") + "]("
        for child in document.children(of: node) {
            let childNode = document.nodes[child]
            if childNode.kind == .text {
                result += "'" + document.string(childNode.value) + "'"
            } else {
                result += describe(document, child)
            }
        }
        return result + ")"
    }

    #if canImport(FoundationXML) || os(macOS)
    private func describe(_ element: XMLElement) -> String {
        var result = "{" + (element.uri ?? "") + "}" + (element.localName ?? "")
        let attributes = (element.attributes ?? [])
            .filter { !($0.name ?? "").hasPrefix("xmlns") }
            .map { "\($0.name ?? "")=\($0.stringValue ?? "")" }
        result += "[" + attributes.sorted().joined(separator: ",") + "]("
        var pendingText = ""
        for child in element.children ?? [] {
            switch child.kind {
            case .text:
                pendingText += child.stringValue ?? ""
            case .element:
                if !pendingText.isEmpty { result += "'" + pendingText + "'" }
                pendingText = ""
                result += describe(child as! XMLElement)
            default:
                continue
            }
        }
        if !pendingText.isEmpty { result += "'" + pendingText + "'" }
        return result + ")"
    }
    #endif
}

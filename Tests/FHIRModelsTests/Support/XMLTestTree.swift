import Foundation
@testable import FHIRModels

/// An XML document as a comparable tree: elements with namespace, name and attributes,
/// and non-white-space text. Comments, processing instructions, white-space-only text,
/// namespace declarations and `xsi:schemaLocation` are left out, so two documents
/// that differ only in layout compare equal.
indirect enum XMLTestTree: Equatable, CustomStringConvertible {
    case element(namespace: String, name: String, attributes: [String: String], children: [XMLTestTree])
    case text(String)

    init(parsing bytes: [UInt8]) throws {
        let document = try FHIRXMLDocument(parsing: bytes)
        self = Self.make(document, document.root)
    }

    init(parsingFragment bytes: [UInt8]) throws {
        let document = try FHIRXMLDocument(parsingFragment: bytes)
        self = Self.make(document, document.root)
    }

    private static func make(_ document: FHIRXMLDocument, _ node: Int) -> XMLTestTree {
        let element = document.nodes[node]
        var attributes: [String: String] = [:]
        for index in Int(element.attributeStart)..<Int(element.attributeEnd) {
            let attribute = document.attributes[index]
            let namespace = String(decoding: document.namespaces[Int(attribute.namespace)], as: UTF8.self)
            let name = document.string(attribute.localName)
            if namespace == "http://www.w3.org/2001/XMLSchema-instance", name == "schemaLocation" { continue }
            attributes[namespace.isEmpty ? name : "{\(namespace)}\(name)"] = document.string(attribute.value)
        }
        var children: [XMLTestTree] = []
        for child in document.children(of: node) {
            let childNode = document.nodes[child]
            if childNode.kind == .text {
                if !childNode.isWhitespace { children.append(.text(document.string(childNode.value))) }
            } else {
                children.append(make(document, child))
            }
        }
        return .element(namespace: document.namespaceURI(of: node), name: document.localName(of: node), attributes: attributes, children: children)
    }

    var description: String {
        switch self {
        case .text(let text): return "text \(text.debugDescription)"
        case .element(let namespace, let name, let attributes, _):
            return "<\(name) xmlns=\(namespace) \(attributes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.debugDescription)" }.joined(separator: " "))>"
        }
    }

    /// A description of the first difference, with the element path, or `nil`.
    /// With `numericValues`, `value` attributes that are both numbers compare by value.
    func difference(from other: XMLTestTree, path: String = "", numericValues: Bool = false) -> String? {
        switch (self, other) {
        case (.text(let a), .text(let b)):
            return a == b ? nil : "\(path): text \(a.debugDescription) vs \(b.debugDescription)"
        case (.element(let ns1, let name1, let attributes1, let children1), .element(let ns2, let name2, let attributes2, let children2)):
            let here = path + "/" + name1
            if ns1 != ns2 || name1 != name2 { return "\(path): \(self) vs \(other)" }
            if attributes1 != attributes2 {
                var same = false
                if numericValues, Set(attributes1.keys) == Set(attributes2.keys), let x = attributes1["value"], let y = attributes2["value"] {
                    same = attributes1.filter { $0.key != "value" } == attributes2.filter { $0.key != "value" }
                        && FHIRJSONComparison.canonicalNumber(x) != nil
                        && FHIRJSONComparison.canonicalNumber(x) == FHIRJSONComparison.canonicalNumber(y)
                }
                if !same { return "\(here): attributes \(self) vs \(other)" }
            }
            for (a, b) in zip(children1, children2) {
                if let difference = a.difference(from: b, path: here, numericValues: numericValues) { return difference }
            }
            if children1.count != children2.count {
                let extra = children1.count > children2.count ? children1[children2.count] : children2[children1.count]
                return "\(here): \(children1.count) vs \(children2.count) children; first unmatched \(extra)"
            }
            return nil
        default:
            return "\(path): \(self) vs \(other)"
        }
    }
}

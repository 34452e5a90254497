import Foundation
@testable import FHIRModels

/// Compares FHIR JSON trees: member order is ignored, narrative `div` strings compare as
/// XHTML trees, and numbers by lexical form (or, when `numericDecimals`, by value).
enum FHIRJSONComparison {
    static func difference(_ a: JSONValue, _ b: JSONValue, path: String = "", numericDecimals: Bool = false) -> String? {
        switch (a, b) {
        case (.object(let x), .object(let y)):
            let keysX = Set(x.keys)
            let keysY = Set(y.keys)
            if keysX != keysY {
                return "\(path): members \(keysX.subtracting(keysY).sorted()) vs \(keysY.subtracting(keysX).sorted())"
            }
            for (key, value) in x {
                let other = y[key]!
                if key == "div", case .string(let divX) = value, case .string(let divY) = other {
                    do {
                        let treeX = try XMLTestTree(parsingFragment: Array(divX.utf8))
                        let treeY = try XMLTestTree(parsingFragment: Array(divY.utf8))
                        if let difference = treeX.difference(from: treeY) { return "\(path).div: \(difference)" }
                    } catch {
                        return "\(path).div: \(error)"
                    }
                    continue
                }
                if let difference = Self.difference(value, other, path: path + "." + key, numericDecimals: numericDecimals) {
                    return difference
                }
            }
            return nil
        case (.array(let x), .array(let y)):
            if x.count != y.count { return "\(path): \(x.count) vs \(y.count) items" }
            for (index, (p, q)) in zip(x, y).enumerated() {
                if let difference = Self.difference(p, q, path: "\(path)[\(index)]", numericDecimals: numericDecimals) { return difference }
            }
            return nil
        case (.number(let x), .number(let y)) where numericDecimals:
            return canonicalNumber(x) == canonicalNumber(y) && canonicalNumber(x) != nil ? nil : "\(path): \(x) vs \(y)"
        default:
            return a == b ? nil : "\(path): \(a) vs \(b)"
        }
    }

    /// A decimal's value as sign, significant digits and exponent (`-12e-3`), whatever
    /// its lexical form; `nil` when it is not a number. Unlike Foundation's `Decimal`,
    /// any exponent fits (the official examples use 1e-245).
    static func canonicalNumber(_ lexical: String) -> String? {
        var text = Substring(lexical)
        var negative = false
        if text.first == "-" {
            negative = true
            text = text.dropFirst()
        }
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            guard let value = Int(text[text.index(after: e)...].replacingOccurrences(of: "+", with: "")) else { return nil }
            exponent = value
            text = text[..<e]
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !parts[0].isEmpty, parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }) else { return nil }
        var digits = String(parts[0]) + (parts.count == 2 ? String(parts[1]) : "")
        exponent -= parts.count == 2 ? parts[1].count : 0
        digits = String(digits.drop { $0 == "0" })
        if digits.isEmpty { return "0" }
        while digits.last == "0" {
            digits.removeLast()
            exponent += 1
        }
        return (negative ? "-" : "") + digits + "e" + String(exponent)
    }
}

import Foundation
import FHIRModels

/// Reads one JSON object of a platform request body strictly. Every problem goes to the shared
/// `BodyIssues` under its field path (`address.postalCode`, `workSchedule[1].endTime`) and reading
/// goes on, so a client learns all its mistakes from one answer. Messages name the rule, never
/// the value. `null` counts as absent (a PUT clears the field either way). Strings are trimmed.
struct BodyReader {
    let object: JSONObject
    let path: String
    let issues: BodyIssues

    /// Reports at once every member that is neither `accepted` nor `ignored` (read-only members).
    init(_ object: JSONObject, path: String = "", accepted: [String], ignored: [String] = [], issues: BodyIssues) {
        self.object = object
        self.path = path
        self.issues = issues
        for key in object.keys where !accepted.contains(key) && !ignored.contains(key) {
            issues.report(field(key), "is not accepted here")
        }
    }

    func field(_ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    func report(_ key: String, _ issue: String) {
        issues.report(field(key), issue)
    }

    private func member(_ key: String, required: Bool) -> JSONValue? {
        guard let value = object[key], !value.isNull else {
            if required { report(key, "is required") }
            return nil
        }
        return value
    }

    /// A trimmed, non-empty string without control characters (tab and line breaks allowed).
    func string(_ key: String, required: Bool = false, maxLength: Int? = nil) -> String? {
        guard let value = member(key, required: required) else { return nil }
        guard let raw = value.stringValue else {
            report(key, "must be a string")
            return nil
        }
        return Self.text(raw, field: field(key), maxLength: maxLength, issues: issues)
    }

    static func text(_ raw: String, field: String, maxLength: Int?, issues: BodyIssues) -> String? {
        let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty {
            issues.report(field, "must not be empty")
            return nil
        }
        if trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control && !"\t\n\r".unicodeScalars.contains($0) }) {
            issues.report(field, "must not contain control characters")
            return nil
        }
        if let maxLength, trimmed.count > maxLength {
            issues.report(field, "must be at most \(maxLength) characters")
            return nil
        }
        return trimmed
    }

    /// A string that `normalize` accepts (returning its canonical form); `rule` otherwise.
    func formatted(_ key: String, required: Bool, rule: String, normalize: (String) -> String?) -> String? {
        guard let value = member(key, required: required) else { return nil }
        guard let raw = value.stringValue else {
            report(key, rule)
            return nil
        }
        guard let text = normalize(raw.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            report(key, rule)
            return nil
        }
        return text
    }

    func date(_ key: String, required: Bool = false) -> String? {
        formatted(key, required: required, rule: "must be a date YYYY-MM-DD") { PlatformFormat.isDate($0) ? $0 : nil }
    }

    func dateTime(_ key: String, required: Bool = false) -> String? {
        formatted(key, required: required, rule: "must be a dateTime with seconds and a zone (YYYY-MM-DDThh:mm:ssZ)") {
            PlatformFormat.isDateTime($0) ? $0 : nil
        }
    }

    func dateOrDateTime(_ key: String, required: Bool = false) -> String? {
        formatted(
            key, required: required,
            rule: "must be a date YYYY-MM-DD or a dateTime with seconds and a zone (YYYY-MM-DDThh:mm:ssZ)"
        ) { PlatformFormat.isDate($0) || PlatformFormat.isDateTime($0) ? $0 : nil }
    }

    /// `HH:MM` or `HH:MM:SS`, returned as `HH:MM:SS`.
    func time(_ key: String, required: Bool = false) -> String? {
        formatted(key, required: required, rule: "must be a time HH:MM or HH:MM:SS", normalize: PlatformFormat.normalizedTime)
    }

    /// The id of another record (`patientId`): a FHIR id, so the reference built from it is exact.
    func id(_ key: String, required: Bool = false) -> String? {
        formatted(key, required: required, rule: "must be an id of 1 to 64 letters, digits, '-' or '.'") {
            PlatformFormat.isFHIRID($0) ? $0 : nil
        }
    }

    func code<Code: RawRepresentable & CaseIterable>(_ key: String, required: Bool = false) -> Code?
    where Code.RawValue == String {
        let rule = "must be one of " + Code.allCases.map(\.rawValue).joined(separator: ", ")
        return formatted(key, required: required, rule: rule) { Code(rawValue: $0) != nil ? $0 : nil }
            .flatMap(Code.init(rawValue:))
    }

    /// A JSON integer (no fraction, no exponent) within `range`.
    func integer(_ key: String, in range: ClosedRange<Int>, required: Bool = false) -> Int? {
        guard let value = member(key, required: required) else { return nil }
        let rule = "must be an integer from \(range.lowerBound) to \(range.upperBound)"
        guard let lexical = value.numberLexical, let number = Int(lexical), range.contains(number) else {
            report(key, rule)
            return nil
        }
        return number
    }

    /// An array of non-empty strings; absent is empty.
    func strings(_ key: String) -> [String] {
        elements(key).compactMap { index, value in
            let field = self.field(key) + "[\(index)]"
            guard let raw = value.stringValue else {
                issues.report(field, "must be a string")
                return nil
            }
            return Self.text(raw, field: field, maxLength: nil, issues: issues)
        }
    }

    /// An array of codes, each checked; absent is empty.
    func codes<Code: RawRepresentable & CaseIterable>(_ key: String) -> [Code] where Code.RawValue == String {
        let rule = "must be one of " + Code.allCases.map(\.rawValue).joined(separator: ", ")
        return elements(key).compactMap { index, value in
            guard let code = value.stringValue.flatMap({ Code(rawValue: $0.trimmingCharacters(in: .whitespacesAndNewlines)) }) else {
                issues.report(field(key) + "[\(index)]", rule)
                return nil
            }
            return code
        }
    }

    /// A nested object, read by a reader of its own (path `key`).
    func object(_ key: String, required: Bool = false, accepted: [String]) -> BodyReader? {
        guard let value = member(key, required: required) else { return nil }
        guard let nested = value.objectValue else {
            report(key, "must be an object")
            return nil
        }
        return BodyReader(nested, path: field(key), accepted: accepted, issues: issues)
    }

    /// An array of objects, each read in turn by `read` with a reader of its own (path
    /// `key[i]`), so issues come in document order; absent is empty.
    func objects<Element>(_ key: String, accepted: [String], _ read: (BodyReader) -> Element) -> [Element] {
        elements(key).compactMap { index, value in
            let path = field(key) + "[\(index)]"
            guard let nested = value.objectValue else {
                issues.report(path, "must be an object")
                return nil
            }
            return read(BodyReader(nested, path: path, accepted: accepted, issues: issues))
        }
    }

    private func elements(_ key: String) -> [(Int, JSONValue)] {
        guard let value = member(key, required: false) else { return [] }
        guard let array = value.arrayValue else {
            report(key, "must be an array")
            return []
        }
        return Array(array.enumerated())
    }
}

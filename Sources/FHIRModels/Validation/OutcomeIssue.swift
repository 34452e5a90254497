/// One finding about a resource, in the shape of an `OperationOutcome.issue`, so that parsing
/// and validation report in the form the server answers with.
public struct OutcomeIssue: Sendable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable {
        case fatal, error, warning, information
    }

    /// Codes from the FHIR `issue-type` value set that this project uses.
    public enum Code: String, Sendable, Hashable {
        case invalid, structure, required, value, invariant, security, processing
        case codeInvalid = "code-invalid"
        case notSupported = "not-supported"
        case tooLong = "too-long"
        case notFound = "not-found"
        case conflict, duplicate, exception, forbidden, login, throttled, deleted, transient, informational
        case tooCostly = "too-costly"
        case businessRule = "business-rule"
    }

    public var severity: Severity
    public var code: Code
    /// Human-readable text. Never carries values from the resource (they may be PHI).
    public var diagnostics: String
    /// FHIRPath-style location, e.g. `Patient.name[0].given[1]`.
    public var expression: String?

    public init(severity: Severity = .error, code: Code, diagnostics: String, expression: String? = nil) {
        self.severity = severity
        self.code = code
        self.diagnostics = diagnostics
        self.expression = expression
    }

    public var description: String {
        "\(severity.rawValue) [\(code.rawValue)] \(expression.map { "\($0): " } ?? "")\(diagnostics)"
    }
}

extension Array where Element == OutcomeIssue {
    public var hasErrors: Bool {
        contains { $0.severity == .error || $0.severity == .fatal }
    }

    /// An expression often echoes a name from the request (a query parameter's key): an empty one,
    /// or one with whitespace or control characters, would make the OperationOutcome itself invalid
    /// FHIR (a `string` is non-empty, and schema validators read `\S` as Unicode does). Found by
    /// schemathesis (`scripts/fuzz-fhir.sh`); such an expression is left out, the diagnostics stay.
    static func isWritableExpression(_ expression: String) -> Bool {
        !expression.isEmpty && !expression.unicodeScalars.contains { $0.properties.isWhitespace || $0.properties.generalCategory == .control }
    }

    /// The issues as an `OperationOutcome` resource in FHIR JSON.
    public func operationOutcome() -> JSONValue {
        var issues: [JSONValue] = []
        for issue in self {
            var object = JSONObject()
            object["severity"] = .string(issue.severity.rawValue)
            object["code"] = .string(issue.code.rawValue)
            object["diagnostics"] = .string(issue.diagnostics)
            if let expression = issue.expression, Self.isWritableExpression(expression) {
                object["expression"] = .array([.string(expression)])
            }
            issues.append(.object(object))
        }
        if issues.isEmpty {
            issues.append(.object([
                "severity": .string("information"), "code": .string("informational"),
                "diagnostics": .string("All OK"),
            ]))
        }
        return .object(["resourceType": .string("OperationOutcome"), "issue": .array(issues)])
    }
}

/// Why a FHIR document could not be read: malformed or hostile JSON/XML, or content
/// that does not fit the FHIR structure. Messages never quote document content.
public struct FHIRFormatError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Base: String, Sendable, Hashable {
            case malformedJSON, duplicateKey, tooDeep, tooLarge, invalidUTF8, forbiddenNull
            case malformedXML, forbiddenDTD, wrongNamespace, activeContent
            case unknownElement, wrongType, unknownResourceType
        }
        fileprivate let base: Base
        public static let malformedJSON = Kind(base: .malformedJSON)
        public static let duplicateKey = Kind(base: .duplicateKey)
        public static let tooDeep = Kind(base: .tooDeep)
        public static let tooLarge = Kind(base: .tooLarge)
        public static let invalidUTF8 = Kind(base: .invalidUTF8)
        public static let forbiddenNull = Kind(base: .forbiddenNull)
        public static let malformedXML = Kind(base: .malformedXML)
        public static let forbiddenDTD = Kind(base: .forbiddenDTD)
        public static let wrongNamespace = Kind(base: .wrongNamespace)
        public static let activeContent = Kind(base: .activeContent)
        public static let unknownElement = Kind(base: .unknownElement)
        public static let wrongType = Kind(base: .wrongType)
        public static let unknownResourceType = Kind(base: .unknownResourceType)
        public var description: String { base.rawValue }
    }

    public let kind: Kind
    public let message: String
    /// 1-based line and column in the source, when known.
    public let line: Int?
    public let column: Int?
    /// FHIRPath-style location, when the error is about an element.
    public let expression: String?

    public init(_ kind: Kind, _ message: String, line: Int? = nil, column: Int? = nil, expression: String? = nil) {
        self.kind = kind
        self.message = message
        self.line = line
        self.column = column
        self.expression = expression
    }

    public var description: String {
        var text = message
        if let line { text += " (line \(line)\(column.map { ", column \($0)" } ?? ""))" }
        return text
    }

    /// The error as an OperationOutcome issue.
    public var issue: OutcomeIssue {
        let code: OutcomeIssue.Code
        switch kind.base {
        case .forbiddenDTD, .activeContent: code = .security
        case .tooDeep, .tooLarge: code = .tooLong
        case .unknownElement, .wrongType, .unknownResourceType: code = .structure
        default: code = .invalid
        }
        return OutcomeIssue(severity: .error, code: code, diagnostics: description, expression: expression)
    }
}

import FHIRModels
import Mapping
import Testing

/// Decodes a request body written as JSON text, the way the server receives it.
enum BodyTesting {
    static func decode<M: PlatformModel>(_ type: M.Type, _ json: String) throws -> M {
        guard let object = try FHIRJSON.parse(json).objectValue else {
            Issue.record("the test body is not a JSON object")
            throw PlatformValidationError([])
        }
        return try M(body: object)
    }

    /// The issues of a body that must not decode (empty when it decodes).
    static func issues<M: PlatformModel>(_ type: M.Type, _ json: String) -> [FieldIssue] {
        do {
            _ = try decode(M.self, json)
            return []
        } catch let error as PlatformValidationError {
            return error.issues
        } catch {
            Issue.record("unexpected error \(error)")
            return []
        }
    }

    /// No issue message quotes what the client sent.
    static func expectNoValues(_ issues: [FieldIssue], _ values: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        for issue in issues {
            for value in values {
                #expect(!issue.issue.contains(value) && !issue.field.contains(value), "\(issue) quotes a value", sourceLocation: sourceLocation)
            }
        }
    }
}

extension FieldIssue {
    init(_ field: String, _ issue: String) {
        self.init(field: field, issue: issue)
    }
}

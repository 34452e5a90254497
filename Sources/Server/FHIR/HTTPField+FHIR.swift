import HTTPTypes
import Hummingbird

extension HTTPField.Name {
    /// FHIR's conditional-create header.
    static let ifNoneExist = HTTPField.Name("If-None-Exist")!
    /// RFC 7240; FHIR uses `return=minimal|representation|OperationOutcome`.
    static let prefer = HTTPField.Name("Prefer")!
}

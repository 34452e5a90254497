import HTTPTypes
import Hummingbird

extension HTTPField.Name {
    /// FHIR's conditional-create header.
    static let ifNoneExist = HTTPField.Name("If-None-Exist")!
    /// RFC 7240; FHIR uses `return=minimal|representation|OperationOutcome`.
    static let prefer = HTTPField.Name("Prefer")!
    /// A doctor's emergency access to a patient without a care relationship: `X-Break-Glass: <reason>`.
    static let breakGlass = HTTPField.Name("X-Break-Glass")!
}

/// The JSON value kind that carries a primitive datatype: FHIR JSON writes booleans and
/// numbers natively and every other primitive as a string.
public enum FHIRPrimitiveJSONKind: Sendable {
    case boolean
    /// `integer`, `positiveInt`, `unsignedInt`: a JSON number without fraction or exponent.
    case integer
    /// `decimal`: any JSON number; its lexical form is kept.
    case decimal
    case string
}

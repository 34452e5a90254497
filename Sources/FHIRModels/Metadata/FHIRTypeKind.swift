/// What sort of FHIR type a `TypeInfo` describes; decides how a value of it is coded in JSON and XML.
public enum FHIRTypeKind: Sendable {
    /// A primitive datatype (`string`, `boolean`, ...): a JSON scalar plus an optional `_name` object.
    case primitive
    /// A complex datatype (`HumanName`, `Quantity`, ...).
    case complex
    /// A resource type, concrete or abstract (`Patient`, `Resource`).
    case resource
    /// An element defined inline in another type (`Patient.contact`, `Timing.repeat`).
    case backbone
}

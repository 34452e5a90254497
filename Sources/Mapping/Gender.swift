/// A patient's administrative gender, with the FHIR codes themselves.
public enum Gender: String, Sendable, Equatable, CaseIterable {
    case male, female, other, unknown
}

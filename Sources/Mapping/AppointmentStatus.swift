/// An appointment's state on the platform face ⇄ Encounter.status.
public enum AppointmentStatus: String, Sendable, Equatable, CaseIterable {
    case scheduled, completed, canceled

    /// The Encounter.status written for this state.
    public var fhirCode: String {
        switch self {
        case .scheduled: "planned"
        case .completed: "finished"
        case .canceled: "cancelled"
        }
    }

    /// An encounter under way still counts as scheduled on the platform; `entered-in-error`
    /// and `unknown` have no platform state.
    public init?(fhirCode: String) {
        switch fhirCode {
        case "planned", "arrived", "triaged", "in-progress", "onleave": self = .scheduled
        case "finished": self = .completed
        case "cancelled": self = .canceled
        default: return nil
        }
    }
}

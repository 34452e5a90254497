import FHIRModels

/// A doctor–patient link found in clinical data, so a doctor's access follows the care they
/// actually give rather than a separate roster.
public struct CareRelationship: Sendable, Hashable {
    public enum Kind: String, Sendable {
        case encounter
        case generalPractitioner = "general-practitioner"
        case author
    }

    public let practitionerID: String
    public let patientID: String
    public let kind: Kind

    public init(practitionerID: String, patientID: String, kind: Kind) {
        self.practitionerID = practitionerID
        self.patientID = patientID
        self.kind = kind
    }

    /// Encounter statuses that establish no care: the appointment is off (`cancelled`) or never
    /// was (`entered-in-error`). A relationship from an Encounter lasts as long as the
    /// appointment does, so cancelling one ends the access it gave (a patient books and
    /// cancels their own appointments; booking must not leave standing access behind).
    public static let inactiveEncounterStatuses: Set<String> = ["cancelled", "entered-in-error"]

    /// From an Encounter that is not cancelled or entered in error: every Practitioner in
    /// `participant.individual` × the Patient in `subject` (kind `.encounter`); from a Patient
    /// with an id: each Practitioner in `generalPractitioner` (kind `.generalPractitioner`).
    /// Other resources, or references to other types (PractitionerRole, Organization, Group),
    /// give nothing.
    public static func extract(from resource: JSONValue) -> [CareRelationship] {
        var relationships: [CareRelationship] = []
        func add(_ practitionerID: String, _ patientID: String, _ kind: Kind) {
            let relationship = CareRelationship(practitionerID: practitionerID, patientID: patientID, kind: kind)
            if !relationships.contains(relationship) { relationships.append(relationship) }
        }
        switch resource["resourceType"]?.stringValue {
        case "Encounter":
            if let status = resource["status"]?.stringValue, inactiveEncounterStatuses.contains(status) { return [] }
            guard let subject = resource["subject"]?["reference"]?.stringValue,
                  let patientID = PatientCompartment.patientID(fromReference: subject) else { return [] }
            let individuals = PatientCompartment.values(at: ["participant", "individual"], in: resource)
            for practitionerID in practitionerIDs(in: individuals) {
                add(practitionerID, patientID, .encounter)
            }
        case "Patient":
            guard let patientID = resource["id"]?.stringValue, FHIRLexical.isID(patientID) else { return [] }
            let practitioners = PatientCompartment.values(at: ["generalPractitioner"], in: resource)
            for practitionerID in practitionerIDs(in: practitioners) {
                add(practitionerID, patientID, .generalPractitioner)
            }
        default:
            break
        }
        return relationships
    }

    private static func practitionerIDs(in references: [JSONValue]) -> [String] {
        references.compactMap { reference in
            guard let text = reference["reference"]?.stringValue,
                  let target = ResourceReference(text).target, target.type == "Practitioner" else { return nil }
            return target.id
        }
    }
}

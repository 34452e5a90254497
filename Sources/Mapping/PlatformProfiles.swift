import FHIRModels

/// The extensions the platform mapping writes, one StructureDefinition each in `profiles/`
/// (served at `/fhir/StructureDefinition`). The URLs are the contract with other FHIR systems.
public enum PlatformProfiles {
    public static let base = "https://medical-records.example/fhir/StructureDefinition/"

    /// Patient: the patient's insurance (sub-extensions `provider`, `policyNumber`, `coverageDetails`).
    public static let patientInsurance = base + "patient-insurance"
    /// Practitioner.qualification: marks the entry that is the doctor's specialization.
    public static let qualificationRole = base + "qualification-role"
    /// Practitioner: one weekly availability slot (`daysOfWeek`, `availableStartTime`, `availableEndTime`).
    public static let workSchedule = base + "work-schedule"
    /// Encounter: the appointment's free-text notes.
    public static let appointmentNotes = base + "appointment-notes"
    /// Composition.section: one item of a medical record list (`description`, `date`, `code`).
    public static let recordItem = base + "record-item"
    /// Claim: the part of the amount the insurance pays.
    public static let claimInsuranceCoverage = base + "claim-insurance-coverage"
    /// Claim: what the patient still owes.
    public static let claimOutstandingAmount = base + "claim-outstanding-amount"
    /// Claim: whether the bill is paid.
    public static let claimPaymentStatus = base + "claim-payment-status"

    /// The StructureDefinitions of these extensions (`profiles/*.json`, embedded in the binary
    /// by `scripts/embed-profiles.py`), for the server to serve and to seed its store.
    public static let all: [JSONValue] = embedded.map { profile in
        do {
            return try FHIRJSON.parse(profile.json)
        } catch {
            preconditionFailure("profiles/\(profile.id).json does not parse")
        }
    }

    /// The same StructureDefinitions by id (the file name, which embed-profiles.py checks is the id).
    public static let byID: [String: JSONValue] = Dictionary(uniqueKeysWithValues: zip(embedded.map(\.id), all))
}

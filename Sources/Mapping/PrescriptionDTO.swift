import FHIRModels

/// A prescription on the platform face (`/prescriptions`), stored as a FHIR MedicationRequest.
public struct PrescriptionDTO: PlatformModel {
    public static let resourceType = "MedicationRequest"
    public static let collection = "prescriptions"

    /// Largest number of refills accepted.
    public static let maxRefills = 1000

    public var id: String?
    public var patientID: String?
    public var doctorID: String?
    /// A date or a dateTime.
    public var dateIssued: String?
    public var medication: String?
    public var dosage: String?
    public var instructions: String?
    public var refills: Int?

    public init(
        id: String? = nil,
        patientID: String? = nil,
        doctorID: String? = nil,
        dateIssued: String? = nil,
        medication: String? = nil,
        dosage: String? = nil,
        instructions: String? = nil,
        refills: Int? = nil
    ) {
        self.id = id
        self.patientID = patientID
        self.doctorID = doctorID
        self.dateIssued = dateIssued
        self.medication = medication
        self.dosage = dosage
        self.instructions = instructions
        self.refills = refills
    }

    public var references: [PlatformReference] {
        [
            patientID.map { PlatformReference(field: "patientId", type: "Patient", id: $0) },
            doctorID.map { PlatformReference(field: "doctorId", type: "Practitioner", id: $0) },
        ].compactMap { $0 }
    }
}

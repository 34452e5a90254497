import FHIRModels

/// A medical record on the platform face (`/medical-records`), stored as a FHIR Composition
/// with one LOINC-coded section per part.
public struct MedicalRecordDTO: PlatformModel {
    public static let resourceType = "Composition"
    public static let collection = "medical-records"

    public var id: String?
    public var patientID: String?
    /// Composition.date, set by the server on create; read-only.
    public var createdAt: String?
    /// meta.lastUpdated; read-only.
    public var updatedAt: String?
    public var diagnosis: String?
    public var treatment: String?
    public var notes: String?
    public var procedures: [RecordItem]
    public var prescriptions: [RecordItem]
    public var testResults: [RecordItem]
    public var allergies: [RecordItem]
    public var immunizations: [RecordItem]

    public init(
        id: String? = nil,
        patientID: String? = nil,
        createdAt: String? = nil,
        updatedAt: String? = nil,
        diagnosis: String? = nil,
        treatment: String? = nil,
        notes: String? = nil,
        procedures: [RecordItem] = [],
        prescriptions: [RecordItem] = [],
        testResults: [RecordItem] = [],
        allergies: [RecordItem] = [],
        immunizations: [RecordItem] = []
    ) {
        self.id = id
        self.patientID = patientID
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.diagnosis = diagnosis
        self.treatment = treatment
        self.notes = notes
        self.procedures = procedures
        self.prescriptions = prescriptions
        self.testResults = testResults
        self.allergies = allergies
        self.immunizations = immunizations
    }

    public var references: [PlatformReference] {
        patientID.map { [PlatformReference(field: "patientId", type: "Patient", id: $0)] } ?? []
    }

    func text(_ section: RecordSection) -> String? {
        switch section {
        case .diagnosis: diagnosis
        case .treatment: treatment
        case .notes: notes
        default: nil
        }
    }

    func items(_ section: RecordSection) -> [RecordItem] {
        switch section {
        case .procedures: procedures
        case .prescriptions: prescriptions
        case .testResults: testResults
        case .allergies: allergies
        case .immunizations: immunizations
        default: []
        }
    }
}

import FHIRModels

/// An appointment on the platform face (`/appointments`), stored as a FHIR Encounter.
public struct AppointmentDTO: PlatformModel {
    public static let resourceType = "Encounter"
    public static let collection = "appointments"

    public var id: String?
    public var patientID: String?
    public var doctorID: String?
    /// ISO 8601 with seconds and a zone.
    public var dateTime: String?
    public var reasonForVisit: String?
    public var status: AppointmentStatus?
    public var notes: String?

    public init(
        id: String? = nil,
        patientID: String? = nil,
        doctorID: String? = nil,
        dateTime: String? = nil,
        reasonForVisit: String? = nil,
        status: AppointmentStatus? = nil,
        notes: String? = nil
    ) {
        self.id = id
        self.patientID = patientID
        self.doctorID = doctorID
        self.dateTime = dateTime
        self.reasonForVisit = reasonForVisit
        self.status = status
        self.notes = notes
    }

    public var references: [PlatformReference] {
        [
            patientID.map { PlatformReference(field: "patientId", type: "Patient", id: $0) },
            doctorID.map { PlatformReference(field: "doctorId", type: "Practitioner", id: $0) },
        ].compactMap { $0 }
    }
}

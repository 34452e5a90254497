import FHIRModels

/// A doctor on the platform face (`/doctors`), stored as a FHIR Practitioner.
public struct DoctorDTO: PlatformModel {
    public static let resourceType = "Practitioner"
    public static let collection = "doctors"

    public var id: String?
    public var firstName: String?
    public var lastName: String?
    public var specialization: String?
    public var qualifications: [String]
    public var contact: ContactDetails?
    public var workSchedule: [WorkSchedule]

    public init(
        id: String? = nil,
        firstName: String? = nil,
        lastName: String? = nil,
        specialization: String? = nil,
        qualifications: [String] = [],
        contact: ContactDetails? = nil,
        workSchedule: [WorkSchedule] = []
    ) {
        self.id = id
        self.firstName = firstName
        self.lastName = lastName
        self.specialization = specialization
        self.qualifications = qualifications
        self.contact = contact
        self.workSchedule = workSchedule
    }

    public var references: [PlatformReference] { [] }
}

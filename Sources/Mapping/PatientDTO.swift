import FHIRModels

/// A patient on the platform face (`/patients`), stored as a FHIR Patient.
public struct PatientDTO: PlatformModel {
    public static let resourceType = "Patient"
    public static let collection = "patients"

    public var id: String?
    public var firstName: String?
    public var lastName: String?
    /// `YYYY-MM-DD`.
    public var dateOfBirth: String?
    public var gender: Gender?
    public var address: PostalAddress?
    public var contact: ContactDetails?
    public var insurance: InsuranceDetails?

    public init(
        id: String? = nil,
        firstName: String? = nil,
        lastName: String? = nil,
        dateOfBirth: String? = nil,
        gender: Gender? = nil,
        address: PostalAddress? = nil,
        contact: ContactDetails? = nil,
        insurance: InsuranceDetails? = nil
    ) {
        self.id = id
        self.firstName = firstName
        self.lastName = lastName
        self.dateOfBirth = dateOfBirth
        self.gender = gender
        self.address = address
        self.contact = contact
        self.insurance = insurance
    }

    public var references: [PlatformReference] { [] }
}

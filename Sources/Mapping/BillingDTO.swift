import FHIRModels

/// A bill on the platform face (`/billings`), stored as a FHIR Claim.
public struct BillingDTO: PlatformModel {
    public static let resourceType = "Claim"
    public static let collection = "billings"

    public var id: String?
    public var patientID: String?
    public var appointmentID: String?
    /// A date or a dateTime.
    public var date: String?
    public var amount: MoneyAmount?
    public var insuranceCoverage: MoneyAmount?
    /// Always `amount - insuranceCoverage` on a valid body.
    public var outstandingAmount: MoneyAmount?
    public var status: PaymentStatus?

    public init(
        id: String? = nil,
        patientID: String? = nil,
        appointmentID: String? = nil,
        date: String? = nil,
        amount: MoneyAmount? = nil,
        insuranceCoverage: MoneyAmount? = nil,
        outstandingAmount: MoneyAmount? = nil,
        status: PaymentStatus? = nil
    ) {
        self.id = id
        self.patientID = patientID
        self.appointmentID = appointmentID
        self.date = date
        self.amount = amount
        self.insuranceCoverage = insuranceCoverage
        self.outstandingAmount = outstandingAmount
        self.status = status
    }

    public var references: [PlatformReference] {
        [
            patientID.map { PlatformReference(field: "patientId", type: "Patient", id: $0) },
            appointmentID.map { PlatformReference(field: "appointmentId", type: "Encounter", id: $0) },
        ].compactMap { $0 }
    }
}

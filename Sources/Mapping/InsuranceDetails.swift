import FHIRModels

/// A patient's insurance ⇄ the Patient extension `patient-insurance`, one sub-extension
/// (valueString) per part.
public struct InsuranceDetails: Sendable, Equatable {
    public var provider: String?
    public var policyNumber: String?
    public var coverageDetails: String?

    public init(provider: String? = nil, policyNumber: String? = nil, coverageDetails: String? = nil) {
        self.provider = provider
        self.policyNumber = policyNumber
        self.coverageDetails = coverageDetails
    }

    var isEmpty: Bool {
        provider == nil && policyNumber == nil && coverageDetails == nil
    }

    static let members = ["provider", "policyNumber", "coverageDetails"]

    /// Nil when the body sent none of the parts.
    init?(reader: BodyReader) {
        self.init(
            provider: reader.string("provider"),
            policyNumber: reader.string("policyNumber"),
            coverageDetails: reader.string("coverageDetails")
        )
        if isEmpty { return nil }
    }

    var json: JSONValue {
        var object = JSONObject()
        object.setString("provider", provider)
        object.setString("policyNumber", policyNumber)
        object.setString("coverageDetails", coverageDetails)
        return .object(object)
    }
}

extension InsuranceDetails {
    init?(fhirResource resource: JSONObject) {
        guard let insurance = FHIRExtensionList.first(in: resource, url: PlatformProfiles.patientInsurance) else { return nil }
        func part(_ name: String) -> String? {
            FHIRExtensionList.value(in: insurance, url: name, as: "valueString")?.stringValue
        }
        self.init(provider: part("provider"), policyNumber: part("policyNumber"), coverageDetails: part("coverageDetails"))
        if isEmpty { return nil }
    }

    /// Writes the parts that changed into the first `patient-insurance` extension, keeping any
    /// other sub-extensions; cleared completely, the extension goes.
    static func write(_ new: InsuranceDetails?, over old: InsuranceDetails?, into resource: inout JSONObject) {
        guard new != old else { return }
        let new = new ?? InsuranceDetails()
        let old = old ?? InsuranceDetails()
        FHIRExtensionList.updateFirst(in: &resource, url: PlatformProfiles.patientInsurance) { existing in
            var insurance = existing ?? ["url": .string(PlatformProfiles.patientInsurance)]
            for (name, newValue, oldValue) in [
                ("provider", new.provider, old.provider),
                ("policyNumber", new.policyNumber, old.policyNumber),
                ("coverageDetails", new.coverageDetails, old.coverageDetails),
            ] where newValue != oldValue {
                FHIRExtensionList.setValue(in: &insurance, url: name, key: "valueString", newValue.map(JSONValue.string))
            }
            return insurance
        }
    }
}

import FHIRModels

extension BillingDTO {
    /// Who a new Claim names as provider when the appointment's doctor is not known.
    static let defaultProvider = "medical-records"

    public init(fhir: JSONValue) {
        let resource = fhir.objectValue ?? JSONObject()
        self.init(
            id: resource.string("id"),
            patientID: ReferenceField.id(of: resource["patient"], type: "Patient"),
            appointmentID: ReferenceField.id(of: resource.array("item").first?["encounter"]?.arrayValue?.first, type: "Encounter"),
            date: resource.string("created"),
            amount: MoneyAmount(fhir: resource["total"]),
            insuranceCoverage: MoneyAmount(fhir: FHIRExtensionList.value(in: resource, url: PlatformProfiles.claimInsuranceCoverage, as: "valueMoney")),
            outstandingAmount: MoneyAmount(fhir: FHIRExtensionList.value(in: resource, url: PlatformProfiles.claimOutstandingAmount, as: "valueMoney")),
            status: FHIRExtensionList.value(in: resource, url: PlatformProfiles.claimPaymentStatus, as: "valueCode")?
                .stringValue.flatMap(PaymentStatus.init(rawValue:))
        )
    }

    public func fhir(mergingInto existing: JSONValue?, context: MappingContext) -> JSONValue {
        let base = JSONObject.mergeBase(existing, resourceType: Self.resourceType)
        var resource = base ?? ["resourceType": .string(Self.resourceType)]
        let old = base.map { BillingDTO(fhir: .object($0)) } ?? BillingDTO()
        if base == nil {
            resource["status"] = "active"
            resource["type"] = ["coding": [["system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"]]]
            resource["use"] = "claim"
        }
        if patientID != old.patientID {
            resource["patient"] = patientID.map { ReferenceField.retarget(resource["patient"], type: "Patient", id: $0) }
        }
        if date != old.date { resource.setString("created", date) }
        if base == nil {
            resource["provider"] = context.billingProviderPractitionerID.map { ReferenceField.make(type: "Practitioner", id: $0) }
                ?? ["display": .string(Self.defaultProvider)]
            resource["priority"] = ["coding": [["system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": "normal"]]]
            resource["insurance"] = [[
                "sequence": 1,
                "focal": true,
                "coverage": ["display": .string(context.billingInsuranceProvider ?? "self-pay")],
            ]]
        }
        if appointmentID != old.appointmentID {
            var items = resource.array("item")
            var first = items.first?.objectValue
            if let appointmentID {
                var encounters = first?.array("encounter") ?? []
                let reference = ReferenceField.retarget(encounters.first, type: "Encounter", id: appointmentID)
                if encounters.isEmpty { encounters = [reference] } else { encounters[0] = reference }
                if first == nil {
                    first = ["sequence": 1, "productOrService": ["text": "Appointment"]]
                }
                first?.setArray("encounter", encounters)
            } else if var encounters = first?.array("encounter"), !encounters.isEmpty {
                encounters.removeFirst()
                first?.setArray("encounter", encounters)
            }
            if let first {
                if items.isEmpty { items = [.object(first)] } else { items[0] = .object(first) }
            }
            resource.setArray("item", items)
        }
        if amount != old.amount { resource["total"] = amount?.fhir }
        if insuranceCoverage != old.insuranceCoverage {
            FHIRExtensionList.setValue(in: &resource, url: PlatformProfiles.claimInsuranceCoverage, key: "valueMoney", insuranceCoverage?.fhir)
        }
        if outstandingAmount != old.outstandingAmount {
            FHIRExtensionList.setValue(in: &resource, url: PlatformProfiles.claimOutstandingAmount, key: "valueMoney", outstandingAmount?.fhir)
        }
        if status != old.status {
            FHIRExtensionList.setValue(in: &resource, url: PlatformProfiles.claimPaymentStatus, key: "valueCode", status.map { .string($0.rawValue) })
        }
        return .object(resource)
    }
}

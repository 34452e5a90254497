import FHIRModels

extension PatientDTO {
    public init(fhir: JSONValue) {
        let resource = fhir.objectValue ?? JSONObject()
        let name = HumanNameMapping.read(resource)
        self.init(
            id: resource.string("id"),
            firstName: name.first,
            lastName: name.last,
            dateOfBirth: resource.string("birthDate"),
            gender: resource.string("gender").flatMap(Gender.init(rawValue:)),
            address: PostalAddress(fhirResource: resource),
            contact: ContactDetails(fhirResource: resource),
            insurance: InsuranceDetails(fhirResource: resource)
        )
    }

    public func fhir(mergingInto existing: JSONValue?, context: MappingContext) -> JSONValue {
        let base = JSONObject.mergeBase(existing, resourceType: Self.resourceType)
        var resource = base ?? ["resourceType": .string(Self.resourceType)]
        let old = base.map { PatientDTO(fhir: .object($0)) } ?? PatientDTO()
        HumanNameMapping.write(into: &resource, first: firstName, last: lastName, oldFirst: old.firstName, oldLast: old.lastName)
        if gender != old.gender { resource.setString("gender", gender?.rawValue) }
        if dateOfBirth != old.dateOfBirth { resource.setString("birthDate", dateOfBirth) }
        PostalAddress.write(address, over: old.address, into: &resource)
        ContactDetails.write(contact, over: old.contact, into: &resource)
        InsuranceDetails.write(insurance, over: old.insurance, into: &resource)
        return .object(resource)
    }
}

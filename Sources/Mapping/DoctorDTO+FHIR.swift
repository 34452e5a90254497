import FHIRModels

extension DoctorDTO {
    public init(fhir: JSONValue) {
        let resource = fhir.objectValue ?? JSONObject()
        let name = HumanNameMapping.read(resource)
        let qualification = resource.array("qualification")
        self.init(
            id: resource.string("id"),
            firstName: name.first,
            lastName: name.last,
            specialization: Self.specializationIndex(qualification).flatMap { qualification[$0]["code"]?.conceptText },
            qualifications: qualification.enumerated().compactMap { Self.otherQualification($0.offset, $0.element, in: qualification) },
            contact: ContactDetails(fhirResource: resource),
            workSchedule: FHIRExtensionList.all(in: resource, url: PlatformProfiles.workSchedule).map(WorkSchedule.init(fhirExtension:))
        )
    }

    /// The qualification marked with the `qualification-role` extension `specialization`.
    static func specializationIndex(_ qualification: [JSONValue]) -> Int? {
        qualification.firstIndex { entry in
            entry.objectValue.flatMap {
                FHIRExtensionList.value(in: $0, url: PlatformProfiles.qualificationRole, as: "valueCode")?.stringValue
            } == "specialization"
        }
    }

    /// The words of any other qualification: `code.text`, else the first coding's display or code.
    static func otherQualification(_ index: Int, _ entry: JSONValue, in qualification: [JSONValue]) -> String? {
        guard index != specializationIndex(qualification) else { return nil }
        return entry["code"]?.conceptText ?? entry["code"]?["coding"]?.arrayValue?.first?["code"]?.stringValue
    }

    public func fhir(mergingInto existing: JSONValue?, context: MappingContext) -> JSONValue {
        let base = JSONObject.mergeBase(existing, resourceType: Self.resourceType)
        var resource = base ?? ["resourceType": .string(Self.resourceType)]
        let old = base.map { DoctorDTO(fhir: .object($0)) } ?? DoctorDTO()
        HumanNameMapping.write(into: &resource, first: firstName, last: lastName, oldFirst: old.firstName, oldLast: old.lastName)
        ContactDetails.write(contact, over: old.contact, into: &resource)
        if qualifications != old.qualifications {
            let entries = resource.array("qualification")
            resource.setArray("qualification", ListRewrite.apply(
                entries,
                mapped: { Self.otherQualification($0, $1, in: entries) },
                to: qualifications,
                make: { ["code": ["text": .string($0)]] }
            ))
        }
        if specialization != old.specialization {
            var entries = resource.array("qualification")
            let index = Self.specializationIndex(entries)
            switch (index, specialization) {
            case (let index?, let text?):
                // A new specialization replaces the concept: old codings would contradict the text.
                var entry = entries[index].objectValue ?? JSONObject()
                entry["code"] = ["text": .string(text)]
                entries[index] = .object(entry)
            case (let index?, nil):
                entries.remove(at: index)
            case (nil, let text?):
                entries.append([
                    "extension": [FHIRExtensionList.make(url: PlatformProfiles.qualificationRole, key: "valueCode", "specialization")],
                    "code": ["text": .string(text)],
                ])
            case (nil, nil):
                break
            }
            resource.setArray("qualification", entries)
        }
        if workSchedule != old.workSchedule {
            let extensions = resource.array("extension")
            resource.setArray("extension", ListRewrite.apply(
                extensions,
                mapped: { _, entry in
                    entry["url"]?.stringValue == PlatformProfiles.workSchedule
                        ? entry.objectValue.map(WorkSchedule.init(fhirExtension:)) : nil
                },
                to: workSchedule,
                make: \.fhirExtension
            ))
        }
        return .object(resource)
    }
}

import FHIRModels

extension PrescriptionDTO {
    public init(fhir: JSONValue) {
        let resource = fhir.objectValue ?? JSONObject()
        let dosage = resource.array("dosageInstruction").first?.objectValue
        self.init(
            id: resource.string("id"),
            patientID: ReferenceField.id(of: resource["subject"], type: "Patient"),
            doctorID: ReferenceField.id(of: resource["requester"], type: "Practitioner"),
            dateIssued: resource.string("authoredOn"),
            medication: resource["medicationCodeableConcept"]?.conceptText,
            dosage: dosage?.string("text"),
            instructions: dosage?.string("patientInstruction"),
            refills: resource.object("dispenseRequest")?["numberOfRepeatsAllowed"]?.numberLexical.flatMap { Int($0) }
        )
    }

    public func fhir(mergingInto existing: JSONValue?, context: MappingContext) -> JSONValue {
        let base = JSONObject.mergeBase(existing, resourceType: Self.resourceType)
        var resource = base ?? ["resourceType": .string(Self.resourceType)]
        let old = base.map { PrescriptionDTO(fhir: .object($0)) } ?? PrescriptionDTO()
        if base == nil {
            resource["status"] = "active"
            resource["intent"] = "order"
        }
        if medication != old.medication, let medication {
            // medication[x] is 1..1: clearing keeps the stored one. A new medication replaces
            // the whole concept (old codings would name another drug) and any medicationReference.
            for key in ["medicationReference", "_medicationReference", "medicationCodeableConcept"] {
                resource[key] = nil
            }
            resource["medicationCodeableConcept"] = ["text": .string(medication)]
        }
        if patientID != old.patientID {
            resource["subject"] = patientID.map { ReferenceField.retarget(resource["subject"], type: "Patient", id: $0) }
        }
        if dateIssued != old.dateIssued { resource.setString("authoredOn", dateIssued) }
        if doctorID != old.doctorID {
            resource["requester"] = doctorID.map { ReferenceField.retarget(resource["requester"], type: "Practitioner", id: $0) }
        }
        if dosage != old.dosage || instructions != old.instructions {
            var instructionsList = resource.array("dosageInstruction")
            var first = instructionsList.first?.objectValue ?? JSONObject()
            if dosage != old.dosage { first.setString("text", dosage) }
            if instructions != old.instructions { first.setString("patientInstruction", instructions) }
            switch (instructionsList.isEmpty, first.isEmpty) {
            case (true, false): instructionsList = [.object(first)]
            case (false, false): instructionsList[0] = .object(first)
            case (false, true): instructionsList.removeFirst()
            case (true, true): break
            }
            resource.setArray("dosageInstruction", instructionsList)
        }
        if refills != old.refills {
            var dispense = resource.object("dispenseRequest") ?? JSONObject()
            dispense["numberOfRepeatsAllowed"] = refills.map { .number(String($0)) }
            resource.setObject("dispenseRequest", dispense)
        }
        return .object(resource)
    }
}

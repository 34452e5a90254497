import FHIRModels

extension PrescriptionDTO {
    public init(body: JSONObject) throws(PlatformValidationError) {
        let issues = BodyIssues()
        let reader = BodyReader(
            body,
            accepted: ["patientId", "doctorId", "dateIssued", "medication", "dosage", "instructions", "refills"],
            ignored: ["id"],
            issues: issues
        )
        self.init(
            patientID: reader.id("patientId", required: true),
            doctorID: reader.id("doctorId", required: true),
            dateIssued: reader.dateOrDateTime("dateIssued", required: true),
            medication: reader.string("medication", required: true),
            dosage: reader.string("dosage"),
            instructions: reader.string("instructions"),
            refills: reader.integer("refills", in: 0...Self.maxRefills)
        )
        try issues.check()
    }

    public var json: JSONValue {
        var object = JSONObject()
        object.setString("id", id)
        object.setString("patientId", patientID)
        object.setString("doctorId", doctorID)
        object.setString("dateIssued", dateIssued)
        object.setString("medication", medication)
        object.setString("dosage", dosage)
        object.setString("instructions", instructions)
        object["refills"] = refills.map { .number(String($0)) }
        return .object(object)
    }
}

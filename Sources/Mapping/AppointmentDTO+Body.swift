import FHIRModels

extension AppointmentDTO {
    public init(body: JSONObject) throws(PlatformValidationError) {
        let issues = BodyIssues()
        let reader = BodyReader(
            body,
            accepted: ["patientId", "doctorId", "dateTime", "reasonForVisit", "status", "notes"],
            ignored: ["id"],
            issues: issues
        )
        // No `dateTime` is a request: the patient asks the doctor for an appointment and the
        // practice sets the time (an Encounter without `period`).
        self.init(
            patientID: reader.id("patientId", required: true),
            doctorID: reader.id("doctorId", required: true),
            dateTime: reader.dateTime("dateTime"),
            reasonForVisit: reader.string("reasonForVisit"),
            status: reader.code("status", required: true),
            notes: reader.string("notes")
        )
        try issues.check()
    }

    public var json: JSONValue {
        var object = JSONObject()
        object.setString("id", id)
        object.setString("patientId", patientID)
        object.setString("doctorId", doctorID)
        object.setString("dateTime", dateTime)
        object.setString("reasonForVisit", reasonForVisit)
        object.setString("status", status?.rawValue)
        object.setString("notes", notes)
        return .object(object)
    }
}

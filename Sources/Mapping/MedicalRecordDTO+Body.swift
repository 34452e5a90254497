import FHIRModels

extension MedicalRecordDTO {
    static let listMembers = ["procedures", "prescriptions", "testResults", "allergies", "immunizations"]

    public init(body: JSONObject) throws(PlatformValidationError) {
        let issues = BodyIssues()
        let reader = BodyReader(
            body,
            accepted: ["patientId", "diagnosis", "treatment", "notes"] + Self.listMembers,
            ignored: ["id", "createdAt", "updatedAt"],
            issues: issues
        )
        func items(_ key: String) -> [RecordItem] {
            reader.objects(key, accepted: RecordItem.members, RecordItem.init(reader:))
        }
        self.init(
            patientID: reader.id("patientId", required: true),
            diagnosis: reader.string("diagnosis"),
            treatment: reader.string("treatment"),
            notes: reader.string("notes"),
            procedures: items("procedures"),
            prescriptions: items("prescriptions"),
            testResults: items("testResults"),
            allergies: items("allergies"),
            immunizations: items("immunizations")
        )
        try issues.check()
    }

    public var json: JSONValue {
        var object = JSONObject()
        object.setString("id", id)
        object.setString("patientId", patientID)
        object.setString("createdAt", createdAt)
        object.setString("updatedAt", updatedAt)
        object.setString("diagnosis", diagnosis)
        object.setString("treatment", treatment)
        object.setString("notes", notes)
        object.setArray("procedures", procedures.map(\.json))
        object.setArray("prescriptions", prescriptions.map(\.json))
        object.setArray("testResults", testResults.map(\.json))
        object.setArray("allergies", allergies.map(\.json))
        object.setArray("immunizations", immunizations.map(\.json))
        return .object(object)
    }
}

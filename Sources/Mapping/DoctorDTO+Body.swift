import FHIRModels

extension DoctorDTO {
    public init(body: JSONObject) throws(PlatformValidationError) {
        let issues = BodyIssues()
        let reader = BodyReader(
            body,
            accepted: ["firstName", "lastName", "specialization", "qualifications", "contact", "workSchedule"],
            ignored: ["id"],
            issues: issues
        )
        self.init(
            firstName: reader.string("firstName", required: true, maxLength: PatientDTO.maxNameLength),
            lastName: reader.string("lastName", required: true, maxLength: PatientDTO.maxNameLength),
            specialization: reader.string("specialization"),
            qualifications: reader.strings("qualifications"),
            contact: reader.object("contact", accepted: ContactDetails.members).flatMap(ContactDetails.init(reader:)),
            workSchedule: reader.objects("workSchedule", accepted: WorkSchedule.members, WorkSchedule.init(reader:))
        )
        try issues.check()
    }

    public var json: JSONValue {
        var object = JSONObject()
        object.setString("id", id)
        object.setString("firstName", firstName)
        object.setString("lastName", lastName)
        object.setString("specialization", specialization)
        object.setArray("qualifications", qualifications.map(JSONValue.string))
        object["contact"] = contact?.json
        object.setArray("workSchedule", workSchedule.map(\.json))
        return .object(object)
    }
}

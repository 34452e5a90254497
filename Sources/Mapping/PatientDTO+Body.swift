import FHIRModels
import Foundation

extension PatientDTO {
    /// Longest first or last name accepted.
    static let maxNameLength = 100

    /// `dateOfBirth` may not be in the future. The check uses the clock (the only impure step
    /// of the mapping) and allows one day ahead of UTC, so a birth today east of UTC passes.
    public init(body: JSONObject) throws(PlatformValidationError) {
        let issues = BodyIssues()
        let reader = BodyReader(
            body,
            accepted: ["firstName", "lastName", "dateOfBirth", "gender", "address", "contact", "insurance"],
            ignored: ["id"],
            issues: issues
        )
        self.init(
            firstName: reader.string("firstName", required: true, maxLength: Self.maxNameLength),
            lastName: reader.string("lastName", required: true, maxLength: Self.maxNameLength),
            dateOfBirth: reader.pastDate("dateOfBirth", required: true),
            gender: reader.code("gender", required: true),
            address: reader.object("address", accepted: PostalAddress.members).flatMap(PostalAddress.init(reader:)),
            contact: reader.object("contact", accepted: ContactDetails.members).flatMap(ContactDetails.init(reader:)),
            insurance: reader.object("insurance", accepted: InsuranceDetails.members).flatMap(InsuranceDetails.init(reader:))
        )
        try issues.check()
    }

    public var json: JSONValue {
        var object = JSONObject()
        object.setString("id", id)
        object.setString("firstName", firstName)
        object.setString("lastName", lastName)
        object.setString("dateOfBirth", dateOfBirth)
        object.setString("gender", gender?.rawValue)
        object["address"] = address?.json
        object["contact"] = contact?.json
        object["insurance"] = insurance?.json
        return .object(object)
    }
}

extension BodyReader {
    /// A date that is not after today (UTC, with one day of slack for time zones ahead of UTC).
    func pastDate(_ key: String, required: Bool) -> String? {
        guard let date = date(key, required: required) else { return nil }
        guard PlatformFormat.isNotInTheFuture(date) else {
            report(key, "must not be in the future")
            return nil
        }
        return date
    }
}

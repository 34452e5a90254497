import FHIRModels
import Foundation
import Mapping

extension AccountService.Registration {
    /// The members a registration may carry, by face-neutral name; anything else is refused
    /// (mass assignment: no `status`, no `id`, and `role` only patient or doctor).
    static let fieldNames: [String] = [
        "email", "password", "role", "firstName", "lastName", "dateOfBirth", "gender", "phone", "specialization",
    ]
    static let genders: Set<String> = ["male", "female", "other", "unknown"]

    /// Checks a registration's text fields (a JSON body's strings, a web form's fields) and
    /// reports every problem at once, for every face the same: what the record needs (a
    /// patient's date of birth, a doctor's specialization), the email and password rules, and
    /// that no input can ask for another role. Values are never quoted in the problems.
    static func checked(_ field: (String) -> String?) -> (registration: Self?, problems: [FieldIssue]) {
        var problems: [FieldIssue] = []
        func text(_ name: String, required: Bool, maxLength: Int, trim: Bool = true) -> String? {
            guard let raw = field(name) else {
                if required { problems.append(.init(field: name, issue: "is required")) }
                return nil
            }
            let value = trim ? raw.trimmingCharacters(in: .whitespacesAndNewlines) : raw
            if value.isEmpty {
                if required { problems.append(.init(field: name, issue: "is required")) }
                return nil
            }
            if value.count > maxLength {
                problems.append(.init(field: name, issue: "must be at most \(maxLength) characters"))
                return nil
            }
            return value
        }
        let email = text("email", required: true, maxLength: 254)
        let password = text("password", required: true, maxLength: 1024, trim: false)
        let roleText = text("role", required: true, maxLength: 32)
        let firstName = text("firstName", required: true, maxLength: 100)
        let lastName = text("lastName", required: true, maxLength: 100)
        var role: Role?
        if let roleText {
            role = Role(rawValue: roleText)
            if role == nil { problems.append(.init(field: "role", issue: "must be patient or doctor; other roles are granted by an administrator")) }
        }
        let dateOfBirth = text("dateOfBirth", required: role == .patient, maxLength: 10)
        let gender = text("gender", required: false, maxLength: 16)
        let phone = text("phone", required: false, maxLength: 40)
        let specialization = text("specialization", required: role == .doctor, maxLength: 100)
        if let email, !AccountEmail.isPlausible(email) { problems.append(.init(field: "email", issue: "is not an email address")) }
        if let password {
            for problem in PasswordPolicy.problems(with: password, email: email) { problems.append(.init(field: "password", issue: problem)) }
        }
        if let dateOfBirth {
            if !PlatformFormat.isDate(dateOfBirth) {
                problems.append(.init(field: "dateOfBirth", issue: "must be a date YYYY-MM-DD"))
            } else if dateOfBirth > StoreTimestamp.string(Date()).prefix(10) || dateOfBirth < "1880-01-01" {
                problems.append(.init(field: "dateOfBirth", issue: "must be a past date"))
            }
        }
        if let gender, !genders.contains(gender) { problems.append(.init(field: "gender", issue: "must be male, female, other or unknown")) }
        guard problems.isEmpty, let email, let password, let role, let firstName, let lastName else { return (nil, problems) }
        return (Self(
            email: email, password: password, role: role, firstName: firstName, lastName: lastName,
            birthDate: role == .patient ? dateOfBirth : nil, gender: gender, phone: phone,
            specialization: role == .doctor ? specialization : nil), [])
    }
}

import FHIRModels
import Foundation
import Mapping

/// The checks of a self-registration, one place for every face: `POST /auth/register` (JSON)
/// and the web sign-up form read their members and hand them here.
extension AccountService.Registration {
    /// What a registration may say, by the platform models' names (`PatientDTO`, `DoctorDTO`);
    /// anything else (`status`, `id`, `admin`, …) is refused by name on the JSON face (mass
    /// assignment), and `role` is only ever patient or doctor.
    static let fieldNames: [String] = [
        "email", "password", "role", "firstName", "lastName", "dateOfBirth", "gender", "phone", "address", "specialization",
    ]
    /// Members of one role's record only.
    static let patientFields = ["dateOfBirth", "gender", "address"]
    static let doctorFields = ["specialization"]

    /// One member as a face read it.
    enum Member: Sendable {
        case absent
        case text(String)
        /// Present but not a string (a JSON number, object, …).
        case notText
    }

    /// Where the members come from. A JSON body names only its role's members: another role's
    /// are refused by name. A web form sends every field of both roles (the page shows them
    /// all): the other role's are ignored, and an empty field is an absent one.
    enum Source: Sendable {
        case json
        case form
    }

    /// Checks every member and reports every problem at once: what the record needs (a
    /// patient's date of birth, a doctor's specialization), the email and password rules, and
    /// that no input can ask for another role. `address` is the JSON body's structured address
    /// (the form has none). Values are never quoted in the problems.
    static func checked(
        from source: Source, address: JSONValue? = nil, _ member: (String) -> Member
    ) -> (registration: Self?, problems: [FieldIssue]) {
        var problems: [FieldIssue] = []
        func text(_ name: String, required: Bool, maxLength: Int) -> String? {
            let raw: String
            switch member(name) {
            case .absent:
                if required { problems.append(.init(field: name, issue: "is required")) }
                return nil
            case .notText:
                problems.append(.init(field: name, issue: "must be a string"))
                return nil
            case .text(let value):
                raw = value
            }
            // A password is taken as typed: spaces are part of a passphrase.
            let value = name == "password" ? raw : raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if value.isEmpty {
                if required {
                    problems.append(.init(field: name, issue: "is required"))
                } else if source == .json {
                    problems.append(.init(field: name, issue: "must not be empty"))
                }
                return nil
            }
            if value.count > maxLength {
                problems.append(.init(field: name, issue: "must be at most \(maxLength) characters"))
                return nil
            }
            return value
        }
        let email = text("email", required: true, maxLength: 254)
        let password = text("password", required: true, maxLength: 1024)
        let roleText = text("role", required: true, maxLength: 32)
        let firstName = text("firstName", required: true, maxLength: 100)
        let lastName = text("lastName", required: true, maxLength: 100)
        let phone = text("phone", required: false, maxLength: 40)
        if let email, !AccountEmail.isPlausible(email) { problems.append(.init(field: "email", issue: "is not an email address")) }
        if let password {
            for problem in PasswordPolicy.problems(with: password, email: email) { problems.append(.init(field: "password", issue: problem)) }
        }
        var role: Role?
        if let roleText {
            role = Role(rawValue: roleText)
            if role == nil { problems.append(.init(field: "role", issue: "must be patient or doctor; other roles are granted by an administrator")) }
        }
        // The record each role needs, and (JSON) the other role's members refused by name.
        var dateOfBirth: String?
        var gender: Gender?
        var postal: PostalAddress?
        var specialization: String?
        func refuse(_ fields: [String], _ issue: String) {
            guard source == .json else { return }
            for field in fields {
                if case .absent = member(field) { continue }
                problems.append(.init(field: field, issue: issue))
            }
        }
        switch role {
        case .patient?:
            dateOfBirth = text("dateOfBirth", required: true, maxLength: 10)
            if let given = dateOfBirth {
                if !PlatformFormat.isDate(given) {
                    problems.append(.init(field: "dateOfBirth", issue: "must be a date YYYY-MM-DD"))
                } else if !PlatformFormat.isNotInTheFuture(given) || given < "1850-01-01" {
                    problems.append(.init(field: "dateOfBirth", issue: "must be a past date"))
                }
            }
            if let given = text("gender", required: false, maxLength: 16) {
                gender = Gender(rawValue: given)
                if gender == nil { problems.append(.init(field: "gender", issue: "must be male, female, other or unknown")) }
            }
            if let address {
                let read = PostalAddress.read(address, field: "address")
                postal = read.address
                problems += read.issues.map { FieldIssue(field: $0.field, issue: $0.issue) }
            }
            refuse(doctorFields, "is accepted for doctors only")
        case .doctor?:
            specialization = text("specialization", required: true, maxLength: 200)
            refuse(patientFields, "is accepted for patients only")
        case nil:
            break
        }
        guard problems.isEmpty, let email, let password, let role, let firstName, let lastName else { return (nil, problems) }
        return (Self(
            email: email, password: password, role: role, firstName: firstName, lastName: lastName, dateOfBirth: dateOfBirth,
            gender: gender, phone: phone, address: postal, specialization: specialization), [])
    }
}

import ArgumentParser
import FHIRModels
import Foundation

/// `medrec user add`: accounts for bootstrapping and operations, admins included (no request
/// body can make an admin). Accounts made here are active at once.
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Manage user accounts.", subcommands: [Add.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an active account. Patients and doctors are linked to a Patient or Practitioner: an existing one (--patient/--practitioner) or a new one named by --first-name/--last-name.")

        @Option(help: "The account's email (its login).") var email: String
        @Option(help: "The password (12-128 characters). Prefer --password-stdin: arguments show in process lists and shell history.")
        var password: String?
        @Flag(help: "Read the password from the first line of standard input.") var passwordStdin = false
        @Option(help: "admin, doctor, billing or patient.") var role: String
        @Option(help: "Link a patient account to this existing Patient id.") var patient: String?
        @Option(help: "Link a doctor account to this existing Practitioner id.") var practitioner: String?
        @Option(help: "Given name, for a new linked Patient or Practitioner.") var firstName: String?
        @Option(help: "Family name, for a new linked Patient or Practitioner.") var lastName: String?
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            guard let role = Principal.Role(rawValue: role), role != .system else {
                throw ValidationError("--role must be admin, doctor, billing or patient")
            }
            var secret = password
            if passwordStdin { secret = readLine(strippingNewline: true) }
            guard let secret else { throw ValidationError("give --password or --password-stdin") }
            let problems = PasswordPolicy.problems(with: secret, email: email)
            guard problems.isEmpty else { throw ValidationError("password: " + problems.joined(separator: "; ")) }
            guard AccountEmail.isPlausible(email) else { throw ValidationError("--email is not an email address") }
            let linkType: String? = role == .patient ? "Patient" : (role == .doctor ? "Practitioner" : nil)
            let existing = role == .patient ? patient : (role == .doctor ? practitioner : nil)
            if linkType == nil && (patient != nil || practitioner != nil) {
                throw ValidationError("only patient and doctor accounts link to a resource")
            }
            if let linkType, existing == nil && (firstName == nil || lastName == nil) {
                throw ValidationError("a \(role.rawValue) account needs --\(linkType == "Patient" ? "patient" : "practitioner") ID, or --first-name and --last-name to create the \(linkType)")
            }
            let email = self.email
            let firstName = self.firstName
            let lastName = self.lastName
            let hash = try await PasswordHasher().hash(secret)
            try await CLIDatabase.run(options) { database in
                var fhirUser: String?
                if let linkType {
                    if let existing {
                        _ = try await database.store.read(type: linkType, id: existing)
                        fhirUser = "\(linkType)/\(existing)"
                    } else if let firstName, let lastName {
                        let id = UUID().uuidString.lowercased()
                        let resource: JSONValue = .object([
                            "resourceType": .string(linkType),
                            "name": .array([.object(["family": .string(lastName), "given": .array([.string(firstName)])])]),
                            "telecom": .array([.object(["system": .string("email"), "value": .string(AccountEmail.normalize(email))])]),
                        ])
                        _ = try await database.store.create([NewResource(type: linkType, id: id, resource: resource)])
                        fhirUser = "\(linkType)/\(id)"
                    }
                }
                let userID = UUID().uuidString.lowercased()
                guard try await database.identities.insertUser(
                    id: userID, email: email, passwordHash: hash, role: role, status: .active, fhirUser: fhirUser) else {
                    throw ValidationError("an account with this email already exists")
                }
                print("user \(userID) role \(role.rawValue)" + (fhirUser.map { " linked to \($0)" } ?? ""))
            }
        }
    }
}

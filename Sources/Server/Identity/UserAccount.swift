import Foundation

/// One row of `app_user`, without the password hash.
public struct UserAccount: Sendable {
    public enum Status: String, Sendable { case active, pending, disabled }

    public let id: String
    /// nil when the sealed address does not open (reported, never guessed).
    public let email: String?
    public let role: Principal.Role
    public let status: Status
    /// "Patient/<id>" or "Practitioner/<id>".
    public let fhirUser: String?
    public let createdAt: Date

}

import Foundation

/// Who asks a service for records, and from where: what every access decision and audit
/// record needs. A face builds it from its own input (an HTTP request, a bulk job, the command
/// line); the services never see that input.
public struct Caller: Sendable {
    public let principal: Principal
    /// A doctor's declared emergency (`X-Break-Glass` on HTTP), trimmed and cut to 200
    /// characters; nil when none was declared. Means nothing for other roles.
    public let breakGlassReason: String?
    /// The network address the request came from, for the audit log.
    public let clientAddress: String?
    /// The database's word on the access token, when the authenticator left it to the service:
    /// a read carries it in its own statement, every other call runs it first.
    public var pendingTokenCheck: TokenCheck?

    public init(principal: Principal, breakGlassReason: String? = nil, clientAddress: String? = nil, pendingTokenCheck: TokenCheck? = nil) {
        self.principal = principal
        let reason = breakGlassReason.map { String($0.trimmingCharacters(in: .whitespaces).prefix(200)) }
        self.breakGlassReason = reason.flatMap { $0.isEmpty ? nil : $0 }
        self.clientAddress = clientAddress
        self.pendingTokenCheck = pendingTokenCheck
    }
}

extension SecurityServices {
    /// The caller once the database has confirmed their access token (session live, token not
    /// revoked, account unchanged): every service runs this before anything else, except a read
    /// that carries the check in its own statement.
    func confirmed(_ caller: Caller) async throws -> Caller {
        guard let check = caller.pendingTokenCheck else { return caller }
        guard try await confirm(check) else { throw TokenRejected() }
        var confirmed = caller
        confirmed.pendingTokenCheck = nil
        return confirmed
    }
}

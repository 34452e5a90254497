import Hummingbird
import NIOCore

/// The request context of every route: Hummingbird's core storage, the caller's network
/// address (for audit and login throttling) and, once the bearer token is verified, the
/// principal.
public struct MedrecRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer address of the connection, without the port.
    public let clientAddress: String?
    public var principal: Principal?
    /// Set when the authenticator verified the token's signature and claims but left the
    /// database check to run inside the handler's own query (the FHIR read). Every other use of
    /// the principal runs it first (`FHIRController.guarded`).
    public var pendingTokenCheck: TokenCheck?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        clientAddress = source.channel.remoteAddress?.ipAddress
        principal = nil
        pendingTokenCheck = nil
    }
}

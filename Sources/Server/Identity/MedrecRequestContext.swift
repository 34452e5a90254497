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
    /// database check to run inside the handler's own query (the record reads). It travels in
    /// the `Caller`; the services run it before anything else, or inside the read's statement.
    public var pendingTokenCheck: TokenCheck?
    /// The browser's session on web pages (`WebAuthenticator`): its forms' CSRF token derives
    /// from it.
    public var webSession: SessionService.WebSession?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        clientAddress = source.channel.remoteAddress?.ipAddress
        principal = nil
        pendingTokenCheck = nil
        webSession = nil
    }
}

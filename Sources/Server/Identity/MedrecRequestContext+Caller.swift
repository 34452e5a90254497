import Hummingbird

extension MedrecRequestContext {
    /// The caller of an authenticated route, for the services: the principal the authenticator
    /// established, the token check it left pending (if any), the break-glass reason and the
    /// peer address. The HTTP faces' one way into the services.
    func caller(_ request: Request) throws -> Caller {
        guard let principal else {
            throw BearerAuthenticator.unauthorized(request.uri.path, error: nil, "a bearer access token is required")
        }
        return Caller(
            principal: principal, breakGlassReason: request.headers[.breakGlass], clientAddress: clientAddress,
            pendingTokenCheck: pendingTokenCheck)
    }
}

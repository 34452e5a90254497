import Crypto
import Foundation
import Hummingbird

/// The web face's cookies and CSRF tokens, in one place.
///
/// - The session cookie holds `SessionService.WebSession` (session id and secret). `HttpOnly`
///   (no script reads it), `SameSite=Strict` (no other site's page sends it), `Path=/`, no
///   expiry (it ends with the browser; the server ends it sooner: idle timeout, 12 h, logout).
///   Served over TLS (`medrec.baseUrl` is `https://…`) it is also `Secure` and named with the
///   `__Host-` prefix, which browsers accept only from a secure origin, for the whole host,
///   with no `Domain`: no subdomain can plant or read it.
/// - A form's CSRF token is an HMAC of a fixed label under the session's secret: bound to the
///   session, the same on every server process, unknowable without the cookie, and never
///   stored. Before sign-in (the sign-in and register forms) a random `form` cookie plays the
///   session's part (double submit), so a cross-site page cannot sign a victim in to its own
///   account either.
struct WebCookies: Sendable {
    /// TLS in front (`medrec.baseUrl` is https): `Secure` and `__Host-`.
    let secure: Bool

    init(baseURL: String?) {
        secure = baseURL?.lowercased().hasPrefix("https://") == true
    }

    var sessionName: String { secure ? "__Host-medrec_session" : "medrec_session" }
    var formName: String { secure ? "__Host-medrec_form" : "medrec_form" }

    func session(in request: Request) -> SessionService.WebSession? {
        request.cookies[sessionName].flatMap { SessionService.WebSession(cookieValue: $0.value) }
    }

    func formSecret(in request: Request) -> String? {
        guard let value = request.cookies[formName]?.value, value.count >= 32, value.count <= 64 else { return nil }
        return value
    }

    /// `Set-Cookie` for a new session.
    func setSession(_ session: SessionService.WebSession) -> String { header(sessionName, session.cookieValue) }
    /// `Set-Cookie` that removes the session cookie.
    var clearSession: String { header(sessionName, "", maxAge: 0) }
    /// `Set-Cookie` for the pre-sign-in form secret.
    func setForm(_ secret: String) -> String { header(formName, secret) }

    private func header(_ name: String, _ value: String, maxAge: Int? = nil) -> String {
        var parts = ["\(name)=\(value)", "Path=/", "HttpOnly", "SameSite=Strict"]
        if secure { parts.append("Secure") }
        if let maxAge { parts.append("Max-Age=\(maxAge)") }
        return parts.joined(separator: "; ")
    }

    /// The CSRF token of forms signed by `secret` (a session's secret or the form cookie).
    static func csrfToken(secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array("medrec-web-csrf-v1".utf8), using: SymmetricKey(data: Array(secret.utf8)))
        return Base64URL.encode(Array(mac))
    }

    /// Constant-time comparison of a submitted token with the expected one.
    static func tokensMatch(_ submitted: String?, _ expected: String) -> Bool {
        guard let submitted, submitted.utf8.count == expected.utf8.count else { return false }
        var difference: UInt8 = 0
        for (a, b) in zip(submitted.utf8, expected.utf8) { difference |= a ^ b }
        return difference == 0
    }
}

import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// A submitted HTML form (`application/x-www-form-urlencoded`), read only after the request
/// has shown it comes from our own pages: the browser's `Sec-Fetch-Site`/`Origin` do not name
/// another site, and the `_csrf` field matches the token bound to the session (or, before
/// sign-in, to the form cookie). Every web handler that changes data reads its fields through
/// `WebForm.read`, so none can skip the check.
struct WebForm: Sendable {
    /// Forms are short text; the largest (a medical-record entry) stays far below this.
    static let maxBytes = 64 * 1024

    private let fields: [(name: String, value: String)]

    subscript(_ name: String) -> String? {
        fields.first { $0.name == name }?.value
    }

    /// The trimmed value, nil when absent or blank.
    func text(_ name: String) -> String? {
        guard let value = self[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else { return nil }
        return value
    }

    func values(_ name: String) -> [String] {
        fields.filter { $0.name == name }.map(\.value)
    }

    init(fields: [(name: String, value: String)]) {
        self.fields = fields
    }

    /// Reads and checks a form. `csrfSecret`: the session's secret, or the form cookie's
    /// before sign-in; nil means there is none, and the form is refused.
    static func read(_ request: Request, context: MedrecRequestContext, csrfSecret: String?) async throws -> WebForm {
        try refuseCrossSite(request)
        let type = request.headers[.contentType]?.lowercased() ?? ""
        guard type.hasPrefix("application/x-www-form-urlencoded") else {
            throw WebError.badRequest("the form was not sent as a web form")
        }
        var request = request
        let buffer = try await request.collectBody(upTo: maxBytes)
        let form = WebForm(fields: parse(String(buffer: buffer)))
        guard let csrfSecret, WebCookies.tokensMatch(form["_csrf"], WebCookies.csrfToken(secret: csrfSecret)) else {
            context.logger.notice("web: form refused (CSRF token missing or wrong)")
            throw WebError.csrf
        }
        return form
    }

    /// A request another site's page made the browser send. Browsers set `Sec-Fetch-Site` on
    /// every request and `Origin` on every POST; either naming another site is refused, before
    /// the CSRF token is even looked at.
    static func refuseCrossSite(_ request: Request) throws {
        if let site = request.headers[.secFetchSite]?.lowercased(), site == "cross-site" || site == "same-site" {
            throw WebError.csrf
        }
        if let origin = request.headers[.origin] {
            // Scheme, host and port must be this server's own (the Host the browser addressed).
            let host = origin.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first.map(String.init)
            guard let host, let authority = request.head.authority, host.lowercased() == authority.lowercased() else {
                throw WebError.csrf
            }
        }
    }

    static func parse(_ body: String) -> [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = []
        for pair in body.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = decode(parts[0]) else { continue }
            fields.append((name, parts.count > 1 ? decode(parts[1]) ?? "" : ""))
        }
        return fields
    }

    private static func decode(_ text: Substring) -> String? {
        text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }
}

extension HTTPField.Name {
    static let secFetchSite = HTTPField.Name("Sec-Fetch-Site")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
    static let xFrameOptions = HTTPField.Name("X-Frame-Options")!
    static let permissionsPolicy = HTTPField.Name("Permissions-Policy")!
    static let crossOriginOpenerPolicy = HTTPField.Name("Cross-Origin-Opener-Policy")!
}

import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import Server

/// A minimal browser over the in-process test client, for the web face's Swift tests: a cookie
/// jar (by name; `Set-Cookie` with `Max-Age=0` removes), same-origin form posts carrying the
/// page's own `_csrf` field, and 303 redirects followed on request. The real-browser suite
/// (Chromium) is `Tests/Browser`; this one checks server behaviour exactly and fast.
final class WebBrowser: @unchecked Sendable {
    let client: any TestClientProtocol
    private(set) var cookies: [String: String] = [:]
    /// The raw `Set-Cookie` values seen, by cookie name (for flag checks).
    private(set) var setCookieHeaders: [String: String] = [:]
    private let lock = NSLock()

    init(_ client: any TestClientProtocol) {
        self.client = client
    }

    /// A second browser holding this one's cookies (a stolen cookie, another tab).
    func copy() -> WebBrowser {
        let other = WebBrowser(client)
        other.cookies = cookies
        return other
    }

    func setCookie(_ name: String, _ value: String?) {
        lock.withLock { cookies[name] = value }
    }

    private var cookieHeader: String {
        lock.withLock { cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
    }

    private func remember(_ response: FHIRTestResponse) {
        for field in response.headers where field.name == .setCookie {
            let pair = field.value.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
            guard let equals = pair.firstIndex(of: "=") else { continue }
            let name = String(pair[..<equals])
            let value = String(pair[pair.index(after: equals)...])
            lock.withLock {
                setCookieHeaders[name] = field.value
                if field.value.contains("Max-Age=0") { cookies[name] = nil } else { cookies[name] = value }
            }
        }
    }

    /// GET a page; `follow` follows 303/302 redirects (up to 5).
    func get(_ path: String, follow: Bool = false, headers: HTTPFields = [:]) async throws -> FHIRTestResponse {
        var fields = headers
        fields[.authorization] = ""
        if !cookies.isEmpty { fields[.cookie] = cookieHeader }
        let response = try await client.send(.get, path, headers: fields)
        remember(response)
        if follow, [.seeOther, .found].contains(response.status), let location = response.headers[.location] {
            return try await get(location, follow: true)
        }
        return response
    }

    /// POST a form as a same-origin page would (Sec-Fetch-Site: same-origin); `csrf` nil sends none.
    func post(
        _ path: String, _ fields: [(String, String)], csrf: String?, follow: Bool = false, headers extra: HTTPFields = [:]
    ) async throws -> FHIRTestResponse {
        var all = fields
        if let csrf { all.append(("_csrf", csrf)) }
        let body = all.map { Self.encode($0.0) + "=" + Self.encode($0.1) }.joined(separator: "&")
        var headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded", .authorization: ""]
        headers[HTTPField.Name("Sec-Fetch-Site")!] = "same-origin"
        for field in extra { headers[field.name] = field.value }
        if !cookies.isEmpty { headers[.cookie] = cookieHeader }
        let response = try await client.send(.post, path, headers: headers, body: Array(body.utf8))
        remember(response)
        if follow, response.status == .seeOther, let location = response.headers[.location] {
            return try await get(location, follow: true)
        }
        return response
    }

    /// GET a page, then POST its form's fields with its CSRF token.
    func submit(_ pagePath: String, to action: String? = nil, _ fields: [(String, String)], follow: Bool = false) async throws -> FHIRTestResponse {
        let page = try await get(pagePath)
        try #require(page.status == .ok, "\(pagePath) answered \(page.status)")
        let csrf = try #require(Self.csrf(in: page.text), "no CSRF field on \(pagePath)")
        return try await post(action ?? pagePath, fields, csrf: csrf, follow: follow)
    }

    /// Signs in through the sign-in page; returns the final response (the role's home page).
    @discardableResult
    func signIn(_ email: String, password: String = Accounts.password) async throws -> FHIRTestResponse {
        try await submit("/app/sign-in", [("email", email), ("password", password)], follow: true)
    }

    static func csrf(in html: String) -> String? {
        guard let range = html.range(of: #"name="_csrf" value=""#) else { return nil }
        let rest = html[range.upperBound...]
        return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
    }

    static func encode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }
}

import FHIRModels
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import Testing
@testable import Server

/// The web face's sessions, forms and headers, on the real app and database: the cookie's
/// flags, CSRF refusals that change nothing, sign-out and every other revocation ending the
/// browser's session everywhere, the idle timeout, and the security headers on every page.
@Suite struct WebSessionTests {
    static func patientAccount(_ client: any TestClientProtocol, _ security: SecurityServices, _ email: String) async throws {
        let registered = try await Accounts(client: client, security: security).register(email: email, role: "patient")
        try #require(registered.status == .created, "\(registered.text)")
    }

    /// AuditEvent rows matching a fixed SQL condition.
    static func count(_ condition: String, _ endpoint: DatabaseEndpoint) async throws -> Int {
        try await endpoint.withConnection(logger: TestApp.logger) { connection in
            let rows = try await connection.query(PostgresQuery(unsafeSQL: "SELECT count(*)::int FROM audit_event WHERE \(condition)"), logger: TestApp.logger)
            var count = 0
            for try await n in rows.decode(Int.self) { count = n }
            return count
        }
    }

    @Test func signInSetsAnHttpOnlyStrictCookieAndLeadsToTheRoleHome() async throws {
        try await TestApp.runSecured { client, _, security in
            try await Self.patientAccount(client, security, "pat@web.example")
            let browser = WebBrowser(client)
            let page = try await browser.get("/app/sign-in")
            #expect(page.status == .ok)
            #expect(page.text.contains(#"<label for="email">Email</label>"#))
            let formCookie = try #require(browser.setCookieHeaders["medrec_form"])
            #expect(formCookie.contains("HttpOnly") && formCookie.contains("SameSite=Strict"))
            let csrf = try #require(WebBrowser.csrf(in: page.text))
            let signedIn = try await browser.post("/app/sign-in", [("email", "pat@web.example"), ("password", Accounts.password)], csrf: csrf)
            #expect(signedIn.status == .seeOther)
            #expect(signedIn.headers[.location] == "/app")
            let cookie = try #require(browser.setCookieHeaders["medrec_session"])
            #expect(cookie.contains("HttpOnly"))
            #expect(cookie.contains("SameSite=Strict"))
            #expect(cookie.contains("Path=/"))
            // Plain HTTP (no https base URL): not Secure, and so no __Host- prefix.
            #expect(!cookie.contains("Secure"))
            let home = try await browser.get("/app")
            #expect(home.status == .seeOther)
            #expect(home.headers[.location] == "/app/patient")
            let password = try await browser.get("/app/account/password")
            #expect(password.status == .ok)
            #expect(password.text.contains(">Patient<"))
        }
    }

    @Test func behindTLSTheCookieIsSecureWithTheHostPrefix() async throws {
        var settings = ServerSettings()
        settings.baseURL = "https://records.example.org/fhir"
        try await TestApp.runSecured(settings: settings) { client, _, security in
            try await Self.patientAccount(client, security, "tls@web.example")
            let browser = WebBrowser(client)
            try await browser.signIn("tls@web.example")
            let cookie = try #require(browser.setCookieHeaders["__Host-medrec_session"])
            #expect(cookie.contains("Secure") && cookie.contains("HttpOnly") && cookie.contains("Path=/") && !cookie.contains("Domain"))
            #expect(browser.setCookieHeaders["medrec_session"] == nil)
            #expect(try await browser.get("/app/account/password").status == .ok)
        }
    }

    @Test func formsWithoutTheirTokenOrFromAnotherSiteAreRefusedAndChangeNothing() async throws {
        try await TestApp.runSecured { client, _, security in
            try await Self.patientAccount(client, security, "csrf@web.example")
            let browser = WebBrowser(client)
            try await browser.signIn("csrf@web.example")
            let page = try await browser.get("/app/account/password")
            let csrf = try #require(WebBrowser.csrf(in: page.text))
            // No token, a wrong token, another session's token: 403 and still signed in.
            for token in [nil, "forged", WebCookies.csrfToken(secret: "another-session-secret")] as [String?] {
                let refused = try await browser.post("/app/sign-out", [], csrf: token)
                #expect(refused.status == .forbidden)
                #expect(refused.text.contains("This form has expired"))
            }
            // The right token, but the browser says another site's page sent it.
            for (name, value) in [("Sec-Fetch-Site", "cross-site"), ("Origin", "https://evil.example")] {
                let refused = try await browser.post(
                    "/app/sign-out", [], csrf: csrf, headers: [HTTPField.Name(name)!: value])
                #expect(refused.status == .forbidden, "\(name)")
            }
            #expect(try await browser.get("/app/account/password").status == .ok)
            // A password change without its token changes nothing: the old password still signs in.
            let change = try await browser.post(
                "/app/account/password", [("currentPassword", Accounts.password), ("newPassword", "a brand new passphrase 9")], csrf: nil)
            #expect(change.status == .forbidden)
            let again = WebBrowser(client)
            let signedIn = try await again.signIn("csrf@web.example")
            #expect(signedIn.status == .notFound || signedIn.status == .ok, "signed in and landed on the home page")
            #expect(again.cookies["medrec_session"] != nil)
            // Sign-in itself needs the form cookie's token (no logging a victim in to another account).
            let fresh = WebBrowser(client)
            let blind = try await fresh.post("/app/sign-in", [("email", "csrf@web.example"), ("password", Accounts.password)], csrf: "x")
            #expect(blind.status == .forbidden)
            #expect(fresh.cookies["medrec_session"] == nil)
        }
    }

    @Test func signingOutEndsTheSessionInEveryTabAndForAStolenCopy() async throws {
        try await TestApp.runSecured { client, endpoint, security in
            try await Self.patientAccount(client, security, "out@web.example")
            let browser = WebBrowser(client)
            try await browser.signIn("out@web.example")
            let otherTab = browser.copy()
            #expect(try await otherTab.get("/app/account/password").status == .ok)
            let page = try await browser.get("/app/account/password")
            let out = try await browser.post("/app/sign-out", [], csrf: WebBrowser.csrf(in: page.text))
            #expect(out.status == .seeOther)
            #expect(out.headers[.location] == "/app/sign-in")
            #expect(browser.cookies["medrec_session"] == nil)
            let stale = try await otherTab.get("/app/account/password")
            #expect(stale.status == .seeOther)
            #expect(stale.headers[.location] == "/app/sign-in?next=/app/account/password")
            #expect(try await Self.count("subtype = 'logout'", endpoint) == 1)
        }
    }

    @Test func aPasswordChangeOrADisabledAccountEndsTheBrowserSession() async throws {
        try await TestApp.runSecured { client, _, security in
            let accounts = Accounts(client: client, security: security)
            try await Self.patientAccount(client, security, "pw@web.example")
            let browser = WebBrowser(client)
            try await browser.signIn("pw@web.example")
            let stolen = browser.copy()
            // A weak new password: the form comes back with the problem next to the field.
            let weak = try await browser.submit(
                "/app/account/password", [("currentPassword", Accounts.password), ("newPassword", "short")])
            #expect(weak.status == .unprocessableContent)
            #expect(weak.text.contains(#"id="newPassword-error""#))
            #expect(try await stolen.get("/app/account/password").status == .ok)
            let changed = try await browser.submit(
                "/app/account/password", [("currentPassword", Accounts.password), ("newPassword", "a brand new passphrase 9")])
            #expect(changed.status == .seeOther)
            #expect(changed.headers[.location] == "/app/sign-in?changed=1")
            #expect(try await stolen.get("/app/account/password").status == .seeOther)
            #expect(try await browser.get("/app/account/password").status == .seeOther)
            // The new password signs in; an administrator disabling the account ends that session too.
            let again = WebBrowser(client)
            try await again.signIn("pw@web.example", password: "a brand new passphrase 9")
            #expect(try await again.get("/app/account/password").status == .ok)
            let admin = try await accounts.admin("admin@web.example")
            let me = try await accounts.session(email: "pw@web.example", password: "a brand new passphrase 9")
            let disabled = try await client.send(.post, "/admin/users/\(me.userID)/disable", headers: admin.headers)
            #expect(disabled.status == .ok)
            #expect(try await again.get("/app/account/password").status == .seeOther)
        }
    }

    @Test func anIdleSessionEnds() async throws {
        try await TestApp.runSecured { client, endpoint, security in
            try await Self.patientAccount(client, security, "idle@web.example")
            let browser = WebBrowser(client)
            try await browser.signIn("idle@web.example")
            #expect(try await browser.get("/app/account/password").status == .ok)
            let sessionID = try #require(browser.cookies["medrec_session"]?.split(separator: ".").first.map(String.init))
            try await endpoint.withConnection(logger: TestApp.logger) { connection in
                try await connection.query(
                    "UPDATE auth_session SET last_seen_at = now() - interval '31 minutes' WHERE id = \(sessionID)", logger: TestApp.logger)
            }
            #expect(try await browser.get("/app/account/password").status == .seeOther)
        }
    }

    @Test func wrongPasswordsAreAnsweredOnTheFormAndAudited() async throws {
        try await TestApp.runSecured { client, endpoint, security in
            try await Self.patientAccount(client, security, "wrong@web.example")
            let browser = WebBrowser(client)
            let answer = try await browser.submit("/app/sign-in", [("email", "wrong@web.example"), ("password", "not the password at all")])
            #expect(answer.status == .unauthorized)
            #expect(answer.text.contains("The email or password is incorrect."))
            #expect(answer.text.contains(#"value="wrong@web.example""#))
            #expect(browser.cookies["medrec_session"] == nil)
            #expect(try await Self.count("subtype = 'login' AND outcome <> '0'", endpoint) == 1)
        }
    }

    /// Security gap 8: the email lock holds on the web form too. `IdentityStore.maxFailures`
    /// wrong passwords on `/app/sign-in`, then the right one: 429 with the lock's message on the
    /// form and no session cookie; each failure audited. The lock is the account's, so the JSON
    /// login refuses the right password as well.
    @Test func theSignInFormLocksTheEmailAfterRepeatedFailures() async throws {
        try await TestApp.runSecured { client, endpoint, security in
            try await Self.patientAccount(client, security, "lock@web.example")
            let browser = WebBrowser(client)
            for attempt in 1...IdentityStore.maxFailures {
                let answer = try await browser.submit("/app/sign-in", [("email", "lock@web.example"), ("password", "not the password \(attempt)")])
                #expect(answer.status == (attempt < IdentityStore.maxFailures ? .unauthorized : .tooManyRequests), "attempt \(attempt)")
            }
            let right = try await browser.submit("/app/sign-in", [("email", "lock@web.example"), ("password", Accounts.password)])
            #expect(right.status == .tooManyRequests)
            #expect(right.text.contains("Too many attempts. Try again in"), "\(right.text.prefix(500))")
            #expect(browser.cookies["medrec_session"] == nil)
            #expect(try await Accounts(client: client, security: security).login(email: "lock@web.example").status == .tooManyRequests)
            #expect(try await security.identities.lockedUntil(email: "lock@web.example", now: Date()) != nil)
            #expect(try await Self.count("subtype = 'login' AND outcome <> '0'", endpoint) >= IdentityStore.maxFailures)
        }
    }

    @Test func signInReturnsOnlyToLocalPages() async throws {
        try await TestApp.runSecured { client, _, security in
            try await Self.patientAccount(client, security, "next@web.example")
            for (next, expected) in [("/app/account/password", "/app/account/password"), ("https://evil.example/", "/app"),
                                     ("//evil.example/app/", "/app"), ("/app/\\evil", "/app")] {
                let browser = WebBrowser(client)
                let page = try await browser.get("/app/sign-in")
                let answer = try await browser.post(
                    "/app/sign-in", [("email", "next@web.example"), ("password", Accounts.password), ("next", next)],
                    csrf: WebBrowser.csrf(in: page.text))
                #expect(answer.headers[.location] == expected, "next=\(next)")
            }
        }
    }

    @Test func everyWebResponseCarriesTheSecurityHeaders() async throws {
        try await TestApp.runSecured { client, _, security in
            try await Self.patientAccount(client, security, "headers@web.example")
            let browser = WebBrowser(client)
            var responses = [try await browser.get("/"), try await browser.get("/app"), try await browser.get("/app/sign-in"),
                             try await browser.get("/app/no-such-page"), try await browser.get("/app/account/password")]
            try await browser.signIn("headers@web.example")
            responses += [try await browser.get("/app/account/password"), try await browser.get("/app/no-such-page"),
                          try await browser.post("/app/sign-out", [], csrf: nil)]
            for response in responses {
                let csp = try #require(response.headers[.contentSecurityPolicy])
                #expect(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"))
                #expect(response.headers[.xContentTypeOptions] == "nosniff")
                #expect(response.headers[HTTPField.Name("Referrer-Policy")!] == "same-origin")
            }
            let missing = try await browser.get("/app/no-such-page")
            #expect(missing.status == .notFound)
            #expect(missing.headers[.contentType] == "text/html; charset=utf-8")
            #expect(missing.text.contains("There is no page here, or it is not one you may see."))
            // The API faces keep their own shapes.
            #expect(try await client.send(.get, "/patients/x", headers: [.authorization: ""]).headers[.contentType]?.contains("json") == true)
        }
    }

    /// Another site's form reaches the app without the SameSite=Strict cookie: it is sent to sign
    /// in, and the answer must not remove the session cookie the browser still holds (Chromium
    /// honours that Set-Cookie on a top-level navigation: a cross-site sign-out). A dead cookie
    /// that was sent is still removed.
    @Test func aRequestWithoutTheSessionCookieDoesNotClearIt() async throws {
        try await TestApp.runSecured { client, _, security in
            try await Self.patientAccount(client, security, "keep@web.example")
            let forged = try await client.send(
                .post, "/app/sign-out", headers: [.contentType: "application/x-www-form-urlencoded", .authorization: "", .secFetchSite: "cross-site"],
                body: Array("x=1".utf8))
            #expect(forged.status == .seeOther)
            #expect(forged.headers[.setCookie] == nil)
            let page = try await client.send(.get, "/app/account/password", headers: [.authorization: ""])
            #expect(page.status == .seeOther)
            #expect(page.headers[.setCookie] == nil)
            let dead = try await client.send(.get, "/app/account/password", headers: [.authorization: "", .cookie: "medrec_session=dead.cookie"])
            #expect(dead.status == .seeOther)
            #expect(dead.headers[.setCookie]?.contains("Max-Age=0") == true)
        }
    }
}

import FHIRModels
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import Server

/// The administrators' pages on the real app and database: approving a doctor who can then
/// sign in, disabling (which ends the browser session), role changes with errors next to the
/// fields, system clients (the secret shown once), the audit log's filters, the status page,
/// the doctor directory; other roles get the 403 page and change nothing; every form needs
/// its CSRF token.
@Suite struct WebAdminPagesTests {
    static let adminEmail = "root@webadmin.example"

    /// An admin account and a browser signed in as it.
    static func admin(_ client: any TestClientProtocol, _ security: SecurityServices) async throws -> (Accounts.Session, WebBrowser) {
        let session = try await Accounts(client: client, security: security).admin(adminEmail)
        let browser = WebBrowser(client)
        try await browser.signIn(adminEmail)
        return (session, browser)
    }

    /// A pending doctor's account id.
    static func pendingDoctor(_ accounts: Accounts, _ email: String, first: String = "Greg") async throws -> String {
        let registered = try await accounts.register(email: email, role: "doctor", first: first, last: "House")
        try #require(registered.status == .created, "\(registered.text)")
        return try #require(try registered.json["id"]?.stringValue)
    }

    @Test func anAdminApprovesAPendingDoctorWhoCanThenSignIn() async throws {
        try await TestApp.runSecured { client, endpoint, security in
            let accounts = Accounts(client: client, security: security)
            let doctorID = try await Self.pendingDoctor(accounts, "house@webadmin.example")
            let (_, browser) = try await Self.admin(client, security)
            let pending = try await browser.get("/app/admin")
            #expect(pending.status == .ok)
            #expect(pending.text.contains("house@webadmin.example"))
            #expect(pending.text.contains(#"action="/app/admin/users/\#(doctorID)/approve""#))
            // Not yet: the doctor's sign-in is refused while pending.
            let early = WebBrowser(client)
            #expect(try await early.signIn("house@webadmin.example").status == .forbidden)
            let approved = try await browser.submit("/app/admin", to: "/app/admin/users/\(doctorID)/approve", [])
            #expect(approved.status == .seeOther)
            #expect(approved.headers[.location] == "/app/admin?done=approved")
            let after = try await browser.get("/app/admin?done=approved")
            #expect(after.text.contains("account is approved; they can sign in now."))
            #expect(!after.text.contains("house@webadmin.example"))
            #expect(after.text.contains("No doctors are waiting for approval."))
            let doctor = WebBrowser(client)
            try await doctor.signIn("house@webadmin.example")
            #expect(doctor.cookies["medrec_session"] != nil)
            #expect(try await WebSessionTests.count("agent_role = 'admin' AND outcome_desc = 'approved' AND query = 'user=\(doctorID)'", endpoint) == 1)
        }
    }

    @Test func disablingAUserEndsTheirBrowserSession() async throws {
        try await TestApp.runSecured { client, _, security in
            let accounts = Accounts(client: client, security: security)
            let ivy = try await accounts.patient("ivy@webadmin.example")
            let patient = WebBrowser(client)
            try await patient.signIn("ivy@webadmin.example")
            #expect(try await patient.get("/app/account/password").status == .ok)
            let (admin, browser) = try await Self.admin(client, security)
            let users = try await browser.get("/app/admin/users")
            #expect(users.text.contains("ivy@webadmin.example") && users.text.contains(#"href="/app/admin/users/\#(ivy.userID)""#))
            let page = try await browser.get("/app/admin/users/\(ivy.userID)")
            #expect(page.text.contains("Disable this account"))
            let disabled = try await browser.submit("/app/admin/users/\(ivy.userID)", to: "/app/admin/users/\(ivy.userID)/disable", [], follow: true)
            #expect(disabled.status == .ok)
            #expect(disabled.text.contains("The account is disabled"))
            #expect(try await patient.get("/app/account/password").status == .seeOther)
            #expect(try await security.identities.user(id: ivy.userID)?.status == .disabled)
            // Administrators cannot disable themselves here; their own page offers no such button.
            let own = try await browser.get("/app/admin/users/\(admin.userID)")
            #expect(!own.text.contains("Disable this account"))
            let csrf = try #require(WebBrowser.csrf(in: own.text))
            let refused = try await browser.post("/app/admin/users/\(admin.userID)/disable", [], csrf: csrf)
            #expect(refused.status == .conflict)
            #expect(try await security.identities.user(id: admin.userID)?.status == .active)
            // An unknown account is the 404 page.
            #expect(try await browser.get("/app/admin/users/no-such-user").status == .notFound)
        }
    }

    @Test func aRoleChangeShowsProblemsNextToTheFieldsAndEndsSessions() async throws {
        try await TestApp.runSecured { client, _, security in
            let accounts = Accounts(client: client, security: security)
            let ivy = try await accounts.patient("ivy@webadmin.example")
            let patient = WebBrowser(client)
            try await patient.signIn("ivy@webadmin.example")
            let (_, browser) = try await Self.admin(client, security)
            let path = "/app/admin/users/\(ivy.userID)"
            let noLink = try await browser.submit(path, to: path + "/role", [("role", "doctor"), ("fhirUser", "")])
            #expect(noLink.status == .unprocessableContent)
            #expect(noLink.text.contains(#"id="fhirUser-error""#) && noLink.text.contains("a doctor account must link to a Practitioner"))
            let system = try await browser.submit(path, to: path + "/role", [("role", "system")])
            #expect(system.status == .unprocessableContent)
            #expect(system.text.contains(#"id="role-error""#))
            #expect(try await security.identities.user(id: ivy.userID)?.role == .patient)
            #expect(try await patient.get("/app/account/password").status == .ok, "nothing changed, the session lives")
            let changed = try await browser.submit(path, to: path + "/role", [("role", "billing"), ("fhirUser", "")])
            #expect(changed.status == .seeOther)
            #expect(changed.headers[.location] == path + "?done=role")
            #expect(try await security.identities.user(id: ivy.userID)?.role == .billing)
            #expect(try await patient.get("/app/account/password").status == .seeOther)
            let again = WebBrowser(client)
            try await again.signIn("ivy@webadmin.example")
            #expect(try await again.get("/app/billing").status == .ok)
        }
    }

    @Test func aClientSecretIsShownOnceAndARevokedClientsTokenIsRefused() async throws {
        try await TestApp.runSecured { client, endpoint, security in
            let (_, browser) = try await Self.admin(client, security)
            let invalid = try await browser.submit("/app/admin/clients", [("name", ""), ("scopes", "user/*.cruds")])
            #expect(invalid.status == .unprocessableContent)
            #expect(invalid.text.contains(#"id="name-error""#) && invalid.text.contains(#"id="scopes-error""#))
            let created = try await browser.submit("/app/admin/clients", [("name", "<script>alert(1)</script>"), ("scopes", "system/Patient.rs")])
            #expect(created.status == .ok)
            #expect(created.text.contains("copy its secret now"))
            #expect(created.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !created.text.contains("<script>alert(1)"))
            let clientID = try #require(Self.value(after: "<dt>Client id</dt><dd><code>", in: created.text))
            let secret = try #require(Self.value(after: #"<code class="secret">"#, in: created.text))
            #expect(secret.count >= 32)
            #expect(created.headers[.cacheControl] == "no-store")
            // Reloading the list never shows the secret again.
            let reloaded = try await browser.get("/app/admin/clients")
            #expect(reloaded.text.contains(clientID))
            #expect(!reloaded.text.contains(secret) && !reloaded.text.contains("copy its secret now"))
            // The secret works at the token endpoint until the client is revoked.
            let basic = Data("\(clientID):\(secret)".utf8).base64EncodedString()
            let issued = try await client.send(.post, "/auth/token", headers: [
                .contentType: "application/x-www-form-urlencoded", .authorization: "Basic \(basic)",
            ], body: Array("grant_type=client_credentials".utf8))
            let token = try #require(try issued.json["access_token"]?.stringValue)
            #expect(try await client.send(.get, "/fhir/Patient", headers: [.authorization: "Bearer \(token)"]).status == .ok)
            let revoked = try await browser.submit("/app/admin/clients", to: "/app/admin/clients/\(clientID)/revoke", [], follow: true)
            #expect(revoked.status == .ok)
            #expect(revoked.text.contains("The client is revoked"))
            #expect(try await client.send(.get, "/fhir/Patient", headers: [.authorization: "Bearer \(token)"]).status == .unauthorized)
            #expect(try await security.identities.clients().first { $0.id == clientID }?.revoked == true)
            #expect(try await WebSessionTests.count("query = 'client=\(clientID)'", endpoint) == 2)
        }
    }

    /// The attribute value that starts right after `marker` (up to the closing quote).
    static func quoted(after marker: String, in html: String) -> String? {
        guard let range = html.range(of: marker) else { return nil }
        let rest = html[range.upperBound...]
        return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
    }

    static func value(after marker: String, in html: String) -> String? {
        guard let range = html.range(of: marker) else { return nil }
        let rest = html[range.upperBound...]
        return rest.firstIndex(of: "<").map { String(rest[..<$0]) }
    }

    @Test func theAuditLogFindsAUsersSignInAndAPatientsReads() async throws {
        try await TestApp.runSecured { client, _, security in
            let accounts = Accounts(client: client, security: security)
            let ivy = try await accounts.patient("ivy@webadmin.example")
            let bob = try await accounts.patient("bob@webadmin.example")
            #expect(try await client.send(.get, "/fhir/Patient/\(ivy.resourceID)", headers: ivy.headers).status == .ok)
            _ = try await accounts.login(email: "bob@webadmin.example", password: "wrong password here")
            let (_, browser) = try await Self.admin(client, security)
            let logins = try await browser.get("/app/admin/audit?user=ivy%40webadmin.example&action=login")
            #expect(logins.status == .ok)
            #expect(logins.text.contains("Sign-in") && logins.text.contains(ivy.userID))
            #expect(!logins.text.contains(bob.userID))
            let reads = try await browser.get("/app/admin/audit?patient=\(ivy.resourceID)&action=read")
            #expect(reads.text.contains("Patient/\(ivy.resourceID)"))
            #expect(!reads.text.contains(bob.resourceID))
            let failures = try await browser.get("/app/admin/audit?user=\(bob.userID)&outcome=failure")
            #expect(failures.text.contains("Failure: invalid credentials"))
            #expect(!failures.text.contains("<td>Success</td>"))
            let future = try await browser.get("/app/admin/audit?user=\(ivy.userID)&from=2999-01-01")
            #expect(future.text.contains("No events match these filters."))
            let today = String(StoreTimestamp.string(Date()).prefix(10))
            let range = try await browser.get("/app/admin/audit?user=\(ivy.userID)&from=\(today)&to=\(today)")
            #expect(range.text.contains(ivy.userID))
            // Problems are shown next to their fields.
            let bad = try await browser.get("/app/admin/audit?from=yesterday&outcome=maybe&user=nobody%40webadmin.example")
            #expect(bad.status == .unprocessableContent)
            #expect(bad.text.contains(#"id="from-error""#) && bad.text.contains(#"id="outcome-error""#) && bad.text.contains(#"id="user-error""#))
            // Paging: one event per page would be too few; 25 per page with an older-events link.
            for _ in 0..<30 { _ = try await client.send(.get, "/fhir/Patient/\(ivy.resourceID)", headers: ivy.headers) }
            let first = try await browser.get("/app/admin/audit?patient=\(ivy.resourceID)")
            let next = try #require(Self.quoted(after: #"<nav class="pager" aria-label="Pages"><a href=""#, in: first.text))
            let older = try await browser.get(next.replacingOccurrences(of: "&amp;", with: "&"))
            #expect(older.status == .ok && older.text.contains("Patient/\(ivy.resourceID)"))
        }
    }

    @Test func theStatusPageShowsTheVersionAndKeyIdsButNoKeyMaterial() async throws {
        let material = Keyring.randomKeyMaterial()
        let keyring = try Keyring(keys: [(id: "status-key-7", material: material)], blindIndexKey: Keyring.randomKeyMaterial())
        try await TestApp.runSecured(sealer: FieldSealer(policy: .standard, keyring: keyring)) { client, _, security in
            let (_, browser) = try await Self.admin(client, security)
            let page = try await browser.get("/app/admin/status")
            #expect(page.status == .ok)
            #expect(page.text.contains(MedrecVersion.current))
            #expect(page.text.contains("status-key-7") && page.text.contains("active: seals new writes"))
            #expect(page.text.contains("Reachable") && page.text.contains("PostgreSQL"))
            #expect(page.text.contains("queued") && page.text.contains("Server errors (5xx)"))
            let hex = material.map { String(format: "%02x", $0) }.joined()
            for form in [Data(material).base64EncodedString(), hex, hex.uppercased(),
                         Data(material).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")] {
                #expect(!page.text.contains(form))
            }
        }
    }

    @Test func otherRolesGetTheForbiddenPageAndChangeNothing() async throws {
        try await TestApp.runSecured { client, _, security in
            let accounts = Accounts(client: client, security: security)
            let doctorID = try await Self.pendingDoctor(accounts, "house@webadmin.example")
            let ivy = try await accounts.patient("ivy@webadmin.example")
            let (_, admin) = try await Self.admin(client, security)
            _ = try await accounts.patient("bill@webadmin.example")
            let billingID = try #require(try await security.identities.credentials(email: "bill@webadmin.example")?.id)
            _ = try await security.identities.update(userID: billingID, role: .billing, reason: "test")
            let pages = ["/app/admin", "/app/admin/users", "/app/admin/users/\(doctorID)", "/app/admin/doctors", "/app/admin/doctors/new",
                         "/app/admin/clients", "/app/admin/audit", "/app/admin/status"]
            let posts: [(String, [(String, String)])] = [
                ("/app/admin/users/\(doctorID)/approve", []), ("/app/admin/users/\(ivy.userID)/disable", []),
                ("/app/admin/users/\(ivy.userID)/role", [("role", "admin")]), ("/app/admin/clients", [("name", "x"), ("scopes", "system/*.rs")]),
                ("/app/admin/doctors/new", [("firstName", "A"), ("lastName", "B")]),
            ]
            for email in ["ivy@webadmin.example", "bill@webadmin.example"] {
                let browser = WebBrowser(client)
                try await browser.signIn(email)
                let home = try await browser.get("/app/account/password")
                let csrf = try #require(WebBrowser.csrf(in: home.text))
                for path in pages {
                    let page = try await browser.get(path)
                    #expect(page.status == .forbidden, "\(email) \(path)")
                    #expect(page.text.contains("Not permitted"))
                }
                for (path, fields) in posts {
                    #expect(try await browser.post(path, fields, csrf: csrf).status == .forbidden, "\(email) POST \(path)")
                }
            }
            #expect(try await security.identities.user(id: doctorID)?.status == .pending)
            #expect(try await security.identities.user(id: ivy.userID)?.status == .active)
            #expect(try await security.identities.user(id: ivy.userID)?.role == .patient)
            #expect(try await security.identities.clients().count == 1)
            // Every admin form without its CSRF token is refused too, and changes nothing.
            for (path, fields) in posts + [("/app/admin/clients/client-x/revoke", [])] {
                let refused = try await admin.post(path, fields, csrf: nil)
                #expect(refused.status == .forbidden, "POST \(path) without CSRF")
                #expect(refused.text.contains("This form has expired"))
            }
            #expect(try await security.identities.user(id: doctorID)?.status == .pending)
            #expect(try await security.identities.user(id: ivy.userID)?.status == .active)
            #expect(try await security.identities.clients().count == 1)
        }
    }

    @Test func aDoctorNamedLikeAScriptStaysText() async throws {
        try await TestApp.runSecured { client, _, security in
            let accounts = Accounts(client: client, security: security)
            let doctorID = try await Self.pendingDoctor(accounts, "script@webadmin.example", first: "<script>alert(1)</script>")
            let (_, browser) = try await Self.admin(client, security)
            let user = try await browser.get("/app/admin/users/\(doctorID)")
            #expect(user.status == .ok)
            #expect(!user.text.contains("<script>alert(1)"))
            let audit = try await browser.get("/app/admin/audit?user=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
            #expect(audit.text.contains(#"value="&lt;script&gt;alert(1)&lt;/script&gt;""#))
            #expect(!audit.text.contains("<script>alert(1)"))
        }
    }

    // MARK: - The doctor directory (needs admins to manage Practitioners: the access-rules change of issue 17)

    @Test func anAdminAddsAndEditsADoctorInTheDirectory() async throws {
        try await TestApp.runSecured { client, _, security in
            let (_, browser) = try await Self.admin(client, security)
            #expect(try await browser.get("/app/admin/doctors").text.contains("No doctors in the directory yet."))
            // A schedule ending before it starts: the problem is next to that block's field.
            let invalid = try await browser.submit("/app/admin/doctors/new", [
                ("firstName", "Lisa"), ("lastName", "Cuddy"), ("ws0_days", "mon"), ("ws0_start", "17:00"), ("ws0_end", "09:00"),
            ])
            #expect(invalid.status == .unprocessableContent)
            #expect(invalid.text.contains(#"id="ws0-end-error""#) && invalid.text.contains("must be after startTime"))
            #expect(invalid.text.contains(#"value="Lisa""#))
            let created = try await browser.submit("/app/admin/doctors/new", [
                ("firstName", "<script>alert(1)</script>"), ("lastName", "Cuddy"), ("specialization", "Endocrinology"),
                ("qualifications", "MD\nPhD"), ("email", "cuddy@hospital.example"),
                ("ws0_days", "mon"), ("ws0_days", "wed"), ("ws0_start", "09:00"), ("ws0_end", "17:00"),
                ("ws1_days", "sat"), ("ws1_start", "10:00"), ("ws1_end", "12:00"),
            ])
            #expect(created.status == .seeOther, "\(created.text)")
            let location = try #require(created.headers[.location])
            let id = try #require(location.split(separator: "/").last?.split(separator: "?").first.map(String.init))
            let stored = try await client.send(.get, "/doctors/\(id)")
            #expect(try stored.json["specialization"] == "Endocrinology")
            #expect(try stored.json["workSchedule"]?.arrayValue?.count == 2)
            #expect(try stored.json["workSchedule"]?[0]?["daysOfWeek"] == .array(["mon", "wed"]))
            let list = try await browser.get("/app/admin/doctors")
            #expect(list.text.contains("&lt;script&gt;alert(1)&lt;/script&gt; Cuddy") && !list.text.contains("<script>alert(1)"))
            #expect(list.text.contains("Mon, Wed 09:00–17:00; Sat 10:00–12:00"))
            // Edit: a new specialization, the second block removed.
            let edit = try await browser.get(location)
            #expect(edit.status == .ok && edit.text.contains(#"value="Endocrinology""#))
            let version = try #require(Self.quoted(after: #"name="version" value=""#, in: edit.text))
            let saved = try await browser.post("/app/admin/doctors/\(id)", [
                ("version", version), ("firstName", "Lisa"), ("lastName", "Cuddy"), ("specialization", "Administration"),
                ("ws0_days", "mon"), ("ws0_start", "09:00"), ("ws0_end", "17:00"),
            ], csrf: WebBrowser.csrf(in: edit.text))
            #expect(saved.status == .seeOther)
            let after = try await client.send(.get, "/doctors/\(id)")
            #expect(try after.json["specialization"] == "Administration" && after.json["firstName"] == "Lisa")
            #expect(try after.json["workSchedule"]?.arrayValue?.count == 1)
            // The old version again is a conflict, and changes nothing.
            let stale = try await browser.post("/app/admin/doctors/\(id)", [
                ("version", version), ("firstName", "Stale"), ("lastName", "Cuddy"),
            ], csrf: WebBrowser.csrf(in: edit.text))
            #expect(stale.status == .conflict)
            #expect(try await client.send(.get, "/doctors/\(id)").json["firstName"] == "Lisa")
        }
    }
}

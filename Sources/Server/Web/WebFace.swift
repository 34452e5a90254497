import Foundation
import Hummingbird
import NIOCore

/// The web application: server-rendered pages for patients, doctors, billing staff and admins
/// at `/app` (and `/`, which leads there). A third face on the same services as the platform and
/// FHIR faces (`SessionService`, `AccountService`, `PlatformRecords`, `RecordService`,
/// `SearchService`, `AuditTrailService`, `AdminService`): pages parse a form or a URL, call a
/// service with the signed-in `Caller`, and render its result. Access, audit, validation,
/// sealing and history are the services'; whatever the API refuses, a page cannot do.
struct WebFace: Sendable {
    typealias Context = MedrecRequestContext
    let view: WebView
    let sessions: SessionService
    let accounts: AccountService
    let platform: PlatformServices
    let security: SecurityServices
    let store: any ResourceStore
    let settings: ServerSettings

    var cookies: WebCookies { view.cookies }

    /// `open`: the router's public group; the pages get their own group behind `WebAuthenticator`.
    func addRoutes(router: Router<Context>, open: RouterGroup<Context>) {
        open.get("/") { _, _ in WebView.redirect("/app") }
        let app = open.group(RouterPath(APIFace.webPrefix))
        app.get("", use: entry)
        app.get("sign-in", use: signInPage)
        app.post("sign-in", use: signIn)
        app.get("register", use: registerPage)
        app.post("register", use: register)
        app.get("static/{name}", use: asset)
        let pages = router.group(RouterPath(APIFace.webPrefix)).add(middleware: WebAuthenticator(sessions: sessions, cookies: cookies))
        pages.post("sign-out", use: signOut)
        pages.get("account/password", use: passwordPage)
        pages.post("account/password", use: changePassword)
        WebAdminPages(face: self).addRoutes(to: pages)
        WebBillingPages(face: self).addRoutes(to: pages)
        WebPatientPages(face: self).addRoutes(to: pages)
        WebDoctorPages(face: self).addRoutes(to: pages)
    }

    // MARK: - Entry and static files

    /// `/app`: the signed-in user's home, or the sign-in page.
    @Sendable func entry(_ request: Request, context: Context) async throws -> Response {
        if let session = cookies.session(in: request),
           let caller = try await sessions.webCaller(session, clientAddress: context.clientAddress) {
            return WebView.redirect(WebView.home(for: caller.principal.role))
        }
        return WebView.redirect("/app/sign-in")
    }

    @Sendable func asset(_ request: Request, context: Context) async throws -> Response {
        guard let name = context.parameters.get("name"), let asset = view.renderer.assets[name] else { throw WebError.notFound }
        return Response(
            status: .ok, headers: [.contentType: asset.contentType, .cacheControl: "public, max-age=3600"],
            body: .init(byteBuffer: asset.body))
    }

    // MARK: - Sign in and out

    @Sendable func signInPage(_ request: Request, context: Context) async throws -> Response {
        let next = WebView.safeNext(request.uri.queryParameters["next"].map(String.init))
        var response = signInForm(request, context, next: next, email: nil, message: nil, status: .ok)
        if request.uri.queryParameters["changed"] == "1" {
            response = signInForm(request, context, next: next, email: nil, message: nil, status: .ok, notice: "Your password was changed. Sign in with the new one.")
        }
        return response
    }

    /// The sign-in form, with the pre-session CSRF secret (a new one when the browser has none).
    private func signInForm(
        _ request: Request, _ context: Context, next: String?, email: String?, message: String?, status: HTTPResponse.Status,
        notice: String? = nil
    ) -> Response {
        let (secret, setCookie) = formSecret(request)
        var data: [String: Any] = ["csrf": WebCookies.csrfToken(secret: secret)]
        if let notice { data["notice"] = notice }
        if let next { data["next"] = next }
        if let email { data["email"] = email }
        if let message { data["message"] = message }
        var headers = HTTPFields()
        if let setCookie { headers[.setCookie] = setCookie }
        return view.page("sign-in", title: "Sign in", request: request, context: context, data: data, status: status, headers: headers)
    }

    /// The browser's form cookie, or a new one to set.
    func formSecret(_ request: Request) -> (secret: String, setCookie: String?) {
        if let secret = cookies.formSecret(in: request) { return (secret, nil) }
        let secret = OpaqueToken.generate()
        return (secret, cookies.setForm(secret))
    }

    @Sendable func signIn(_ request: Request, context: Context) async throws -> Response {
        let form = try await WebForm.read(request, context: context, csrfSecret: cookies.formSecret(in: request))
        let next = WebView.safeNext(form["next"])
        guard let email = form.text("email"), let password = form["password"], !password.isEmpty,
              email.count <= 254, password.count <= 1024 else {
            return signInForm(request, context, next: next, email: form.text("email"), message: "Enter your email and password.", status: .badRequest)
        }
        do {
            let session = try await sessions.signIn(email: email, password: password, clientAddress: context.clientAddress)
            return WebView.redirect(next ?? "/app", headers: [.setCookie: cookies.setSession(session)])
        } catch let refused as SessionService.Refused {
            let (message, status): (String, HTTPResponse.Status)
            switch refused.reason {
            case .throttled(let until):
                let minutes = max(1, Int((until.timeIntervalSinceNow / 60).rounded(.up)))
                (message, status) = ("Too many attempts. Try again in \(minutes) minute\(minutes == 1 ? "" : "s").", .tooManyRequests)
            case .pending:
                (message, status) = ("Your account is waiting for an administrator's approval.", .forbidden)
            case .disabled:
                (message, status) = ("This account is disabled. Contact an administrator.", .forbidden)
            case .invalidCredentials, .invalidScope, .invalidGrant:
                (message, status) = ("The email or password is incorrect.", .unauthorized)
            }
            return signInForm(request, context, next: next, email: email, message: message, status: status)
        } catch is PasswordHasherBusy {
            return signInForm(request, context, next: next, email: email, message: "The server is busy. Try again in a moment.", status: .serviceUnavailable)
        }
    }

    /// Ends the session everywhere (every tab, every process), then back to sign-in.
    @Sendable func signOut(_ request: Request, context: Context) async throws -> Response {
        _ = try await WebForm.read(request, context: context, csrfSecret: context.webFormSecret)
        try await sessions.logout(try context.webCaller())
        return WebView.redirect("/app/sign-in", headers: [.setCookie: cookies.clearSession])
    }

    // MARK: - Register

    @Sendable func registerPage(_ request: Request, context: Context) async throws -> Response {
        registerForm(request, context, values: ["role": "patient"], problems: [], status: .ok)
    }

    /// The form with what was typed (never the password) and the problems next to their fields.
    private func registerForm(
        _ request: Request, _ context: Context, values: [String: String], problems: [(field: String, issue: String)],
        status: HTTPResponse.Status
    ) -> Response {
        let (secret, setCookie) = formSecret(request)
        var data = WebFieldErrors(problems).data
        data["csrf"] = WebCookies.csrfToken(secret: secret)
        var form = values
        form["password"] = nil
        data["form"] = form
        data["isDoctor"] = values["role"] == "doctor"
        data["genders"] = ["female", "male", "other", "unknown"].map { ["value": $0, "selected": values["gender"] == $0] }
        var headers = HTTPFields()
        if let setCookie { headers[.setCookie] = setCookie }
        return view.page("register", title: "Create an account", request: request, context: context, data: data, status: status, headers: headers)
    }

    /// Self-registration through the same service and checks as `POST /auth/register`: a patient
    /// can sign in at once; a doctor waits for an administrator.
    @Sendable func register(_ request: Request, context: Context) async throws -> Response {
        let form = try await WebForm.read(request, context: context, csrfSecret: cookies.formSecret(in: request))
        var values: [String: String] = [:]
        for name in AccountService.Registration.fieldNames { values[name] = form[name] }
        let (checked, problems) = AccountService.Registration.checked(from: .form) { name in
            form[name].map { .text($0) } ?? .absent
        }
        guard let registration = checked else {
            return registerForm(request, context, values: values, problems: problems.map { ($0.field, $0.issue) }, status: .unprocessableContent)
        }
        let registered: AccountService.Registered
        do {
            registered = try await accounts.register(registration, clientAddress: context.clientAddress)
        } catch is AccountService.EmailTaken {
            return registerForm(
                request, context, values: values, problems: [("email", "An account with this email already exists. Sign in instead.")],
                status: .conflict)
        } catch is PasswordHasherBusy {
            throw StoreError(.unavailable, "busy")
        }
        if registered.status == .pending {
            return view.page(
                "register-pending", title: "Registration received", request: request, context: context,
                data: ["notice": "Your account was created. An administrator approves doctors' accounts; you can sign in once that is done."])
        }
        // A patient is active at once: sign them in with the password they just chose.
        let session = try await sessions.signIn(email: registration.email, password: registration.password, clientAddress: context.clientAddress)
        return WebView.redirect("/app", headers: [.setCookie: cookies.setSession(session)])
    }

    // MARK: - Password

    @Sendable func passwordPage(_ request: Request, context: Context) async throws -> Response {
        view.page("account/password", title: "Change password", request: request, context: context)
    }

    /// A new password ends every session of the account, this browser's included: sign in again.
    @Sendable func changePassword(_ request: Request, context: Context) async throws -> Response {
        let form = try await WebForm.read(request, context: context, csrfSecret: context.webFormSecret)
        do {
            try await sessions.changePassword(
                try context.webCaller(), current: form["currentPassword"].flatMap { $0.isEmpty ? nil : $0 },
                new: form["newPassword"].flatMap { $0.isEmpty ? nil : $0 })
        } catch let refused as SessionService.PasswordChangeRefused {
            guard case .invalid(let problems) = refused else { throw WebError.forbidden }
            return view.page(
                "account/password", title: "Change password", request: request, context: context,
                data: WebFieldErrors(problems.map { ($0.field, $0.issue) }).data, status: .unprocessableContent)
        } catch is PasswordHasherBusy {
            throw StoreError(.unavailable, "busy")
        }
        return WebView.redirect("/app/sign-in?changed=1", headers: [.setCookie: cookies.clearSession])
    }
}

/// Field errors for a form template: `errors.<field>` holds the messages of that field (shown
/// next to it, linked by `aria-describedby`), `errorSummary` all of them (at the top).
struct WebFieldErrors {
    let problems: [(field: String, issue: String)]

    init(_ problems: [(field: String, issue: String)]) {
        self.problems = problems
    }

    var data: [String: Any] {
        var byField: [String: String] = [:]
        for (field, issue) in problems {
            let key = field.replacingOccurrences(of: ".", with: "_")
            byField[key] = byField[key].map { $0 + "; " + issue } ?? issue
        }
        return ["errors": byField, "errorSummary": problems.map { ["field": $0.field, "issue": $0.issue] }, "hasErrors": !problems.isEmpty]
    }
}

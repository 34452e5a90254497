import Foundation
import Hummingbird
import NIOCore

/// Builds a page response: the template's data plus what every page shows (title, the
/// signed-in role's navigation, the CSRF token for its forms). Pages are never cached: they
/// carry PHI (`Cache-Control: no-store`); the security headers are `WebPageMiddleware`'s.
struct WebView: Sendable {
    let renderer: WebRenderer
    let cookies: WebCookies

    /// The navigation of each role: the one list of the pages' paths.
    static func navigation(for role: Principal.Role) -> [(href: String, label: String)] {
        switch role {
        case .patient:
            [("/app/patient", "Summary"), ("/app/patient/records", "Records"), ("/app/patient/appointments", "Appointments"),
             ("/app/patient/prescriptions", "Prescriptions"), ("/app/patient/bills", "Bills"),
             ("/app/patient/access", "Who saw my record")]
        case .doctor:
            [("/app/doctor", "My patients"), ("/app/doctor/search", "Find a patient"), ("/app/doctor/schedule", "Schedule")]
        case .billing:
            [("/app/billing", "Bills"), ("/app/billing/new", "New bill")]
        case .admin:
            [("/app/admin", "Pending doctors"), ("/app/admin/users", "Users"), ("/app/admin/doctors", "Doctor directory"),
             ("/app/admin/clients", "System clients"), ("/app/admin/audit", "Audit log"), ("/app/admin/status", "Status")]
        case .system:
            []
        }
    }

    /// The home page of a role.
    static func home(for role: Principal.Role) -> String {
        navigation(for: role).first?.href ?? "/app/sign-in"
    }

    static func roleLabel(_ role: Principal.Role) -> String {
        switch role {
        case .patient: "Patient"
        case .doctor: "Doctor"
        case .billing: "Billing"
        case .admin: "Administrator"
        case .system: "System"
        }
    }

    /// The CSRF token of the signed-in session's forms.
    static func csrf(_ context: MedrecRequestContext) -> String? {
        context.webSession.map { WebCookies.csrfToken(secret: $0.secret) }
    }

    func page(
        _ template: String, title: String, request: Request, context: MedrecRequestContext, data: [String: Any] = [:],
        status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]
    ) -> Response {
        var values = data
        values["title"] = title
        if let principal = context.principal {
            let path = request.uri.path
            values["signedIn"] = true
            values["roleLabel"] = Self.roleLabel(principal.role)
            values["nav"] = Self.navigation(for: principal.role).map { item -> [String: Any] in
                ["href": item.href, "label": item.label, "current": item.href == path]
            }
        }
        if values["csrf"] == nil, let csrf = Self.csrf(context) { values["csrf"] = csrf }
        return html(renderer.render(template, values), status: status, headers: extra)
    }

    func html(_ text: String, status: HTTPResponse.Status, headers extra: HTTPFields = [:]) -> Response {
        var headers: HTTPFields = [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"]
        headers.append(contentsOf: extra)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// 303 See Other: after a form, the browser GETs the result (no resubmission on reload).
    static func redirect(_ location: String, headers extra: HTTPFields = [:]) -> Response {
        var headers: HTTPFields = [.location: location, .cacheControl: "no-store"]
        headers.append(contentsOf: extra)
        return Response(status: .seeOther, headers: headers)
    }

    /// A local page to return to after sign-in; anything else (another host, a scheme, `//x`)
    /// is ignored, so the sign-in page is no open redirect.
    static func safeNext(_ next: String?) -> String? {
        guard let next, next.hasPrefix("/app/"), !next.hasPrefix("//"), !next.contains("\\"), next.count < 512,
              next.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else { return nil }
        return next
    }
}

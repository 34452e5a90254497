import FHIRModels
import Foundation
import Hummingbird
import NIOCore

/// The web face's edge, for every path under `/app` and `/` (`APIFace.web`), matched or not:
/// the security headers on every response, and every error as a page in the same layout (the
/// services' errors mapped once here, as `APIError.from` does for the platform face). A denied
/// read is a 404 page, like absence; nothing in an error page names the record or quotes
/// input.
struct WebPageMiddleware: RouterMiddleware {
    typealias Context = MedrecRequestContext
    let view: WebView

    /// No inline script or style, nothing from elsewhere, no framing, forms post only here.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    static let securityHeaders: HTTPFields = [
        .contentSecurityPolicy: contentSecurityPolicy,
        .xContentTypeOptions: "nosniff",
        .referrerPolicy: "same-origin",
        .xFrameOptions: "DENY",
        .permissionsPolicy: "camera=(), microphone=(), geolocation=(), payment=()",
        .crossOriginOpenerPolicy: "same-origin",
    ]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard APIFace(path: request.uri.path) == .web else { return try await next(request, context) }
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = errorPage(error, request: request, context: context)
        }
        for field in Self.securityHeaders where response.headers[field.name] == nil { response.headers.append(field) }
        return response
    }

    func errorPage(_ error: any Error, request: Request, context: Context) -> Response {
        switch error {
        case WebError.signInRequired(let next):
            var location = "/app/sign-in"
            if let next = WebView.safeNext(next), let encoded = next.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "/-_."))) {
                location += "?next=" + encoded
            }
            return WebView.redirect(location, headers: clearSessionCookie(request))
        case is TokenRejected:
            return WebView.redirect("/app/sign-in", headers: clearSessionCookie(request))
        case WebError.csrf:
            return page(.forbidden, "This form has expired", "The form was out of date or came from another site. Go back, reload the page and try again.", request, context)
        case WebError.forbidden:
            return forbidden(request, context)
        case WebError.notFound:
            return notFound(request, context)
        case WebError.badRequest(let message):
            return page(.badRequest, "This request cannot be handled", message, request, context)
        case let denied as AccessDenied:
            return denied.kind == .hidden ? notFound(request, context) : forbidden(request, context)
        case let error as StoreError:
            switch error.code {
            case .notFound, .gone: return notFound(request, context)
            case .versionConflict, .multipleMatches:
                return page(.conflict, "Someone else changed this", "The record changed while you were editing it. Reload it and make your change again.", request, context)
            case .unavailable, .timeout:
                return page(.serviceUnavailable, "Temporarily unavailable", "The records service is not answering right now. Try again in a moment.", request, context, headers: [.retryAfter: "5"])
            case .invalid, .badRequest:
                return page(.unprocessableContent, "This cannot be saved", "The record would not be valid. Go back and check the form.", request, context)
            case .integrity:
                context.logger.error("web: a stored record failed its integrity check")
                return page(.internalServerError, "Something went wrong", "The error was logged. Try again later.", request, context)
            }
        case let refused as BookingRefused:
            return page(refused.kind == .unavailable ? .conflict : .unprocessableContent, "This appointment cannot be booked", refused.message, request, context)
        case let error as SearchQueryError:
            return page(.badRequest, "This search cannot be run", error.message, request, context)
        case is NIOTooManyBytesError:
            return page(.contentTooLarge, "Too much text", "The form holds more text than the server accepts.", request, context)
        case let error as HTTPError where error.status == .notFound:
            return notFound(request, context)
        case let error as HTTPError where error.status == .methodNotAllowed:
            return page(.methodNotAllowed, "Not available", "This page cannot be used this way.", request, context)
        case let error as any HTTPResponseError where error.status.code < 500:
            return page(error.status, "This request cannot be handled", "Go back and try again.", request, context)
        default:
            context.logger.error("web: request failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            return page(.internalServerError, "Something went wrong", "The error was logged. Try again later.", request, context)
        }
    }

    /// Removes a dead session cookie, only when the request carried one: a request without it
    /// (another site's form, whose SameSite=Strict cookie stayed home) must not make the browser
    /// drop the live session it still holds (a cross-site sign-out; found by the browser suite).
    private func clearSessionCookie(_ request: Request) -> HTTPFields {
        request.cookies[view.cookies.sessionName] == nil ? [:] : [.setCookie: view.cookies.clearSession]
    }

    /// The same page whether the record does not exist or may not be seen.
    private func notFound(_ request: Request, _ context: Context) -> Response {
        page(.notFound, "Not found", "There is no page here, or it is not one you may see.", request, context)
    }

    private func forbidden(_ request: Request, _ context: Context) -> Response {
        page(.forbidden, "Not permitted", "Your account may not do this. If you think it should, ask an administrator.", request, context)
    }

    private func page(
        _ status: HTTPResponse.Status, _ title: String, _ message: String, _ request: Request, _ context: Context,
        headers: HTTPFields = [:]
    ) -> Response {
        view.page("error", title: title, request: request, context: context, data: ["message": message, "status": Int(status.code)],
                  status: status, headers: headers)
    }
}

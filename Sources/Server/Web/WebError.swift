/// What a web page handler can refuse, before or besides the services' own errors
/// (`AccessDenied`, `StoreError`, …), which `WebPageMiddleware` renders as pages too.
enum WebError: Error, Sendable {
    /// No live session: to the sign-in page, coming back to `next` (a GET's own path) after.
    case signInRequired(next: String?)
    /// A form without the right CSRF token, or sent from another site.
    case csrf
    /// A page of another role (the services would refuse its data anyway).
    case forbidden
    case notFound
    /// A request no page of ours makes (a hand-edited URL or form): says what, never quotes input.
    case badRequest(String)
}

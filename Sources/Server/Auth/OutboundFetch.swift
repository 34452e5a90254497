import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The one URLSession for fetches a client can point the server at (JWKS URLs, bulk `$import`
/// inputs), both checked against a `URLAllowlist` first. It follows no redirect: a 3xx comes back
/// as the answer (and is refused as not 2xx), so an allowlisted host cannot redirect the server
/// to an internal address (SSRF), and no cookies or credentials are kept between fetches.
enum OutboundFetch {
    static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpShouldSetCookies = false
        configuration.urlCredentialStorage = nil
        return URLSession(configuration: configuration, delegate: NoRedirects(), delegateQueue: nil)
    }()

    final class NoRedirects: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
        func urlSession(
            _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
            newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void
        ) {
            completionHandler(nil)
        }
    }
}

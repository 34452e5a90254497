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

    /// The body and response of `request`, or an error once `timeout` seconds have passed.
    ///
    /// swift-corelibs-foundation's URLSession does not apply `URLRequest.timeoutInterval` to a
    /// server that accepts the connection and then sends nothing: a JWKS URL answering after 5 s
    /// held the token request 5 s under a 1 s timeout (`BackendServicesTests.remoteKeySetsAreFetchedWithinTheirLimits`).
    /// So the deadline is kept here: a timer cancels the task, which ends it with an error.
    static func data(for request: URLRequest, within timeout: TimeInterval) async throws -> (Data, URLResponse) {
        try await withCheckedThrowingContinuation { continuation in
            let task = session.dataTask(with: request) { data, response, error in
                if let data, let response, error == nil {
                    continuation.resume(returning: (data, response))
                } else {
                    continuation.resume(throwing: error ?? URLError(.badServerResponse))
                }
            }
            task.resume()
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { task.cancel() }
        }
    }

    final class NoRedirects: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
        func urlSession(
            _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
            newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void
        ) {
            completionHandler(nil)
        }
    }
}

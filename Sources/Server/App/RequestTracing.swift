import Foundation
import HTTPTypes
import Hummingbird
import Instrumentation
import Logging
import OTel
import ServiceLifecycle
import Synchronization
import Tracing

/// One server span per request, child of the caller's W3C `traceparent` when it sends one.
///
/// Not Hummingbird's `TracingMiddleware`: that records the raw path and the whole query string
/// (`url.query`), and a search's query holds PHI (`family=…`, `birthdate=…`), which must never
/// leave the server in a trace any more than in a log. This span carries only what the log
/// carries: the method, the route template (never the raw path), the status and the request id.
/// With tracing off (`MEDREC_TRACING` unset) the tracer is swift-distributed-tracing's no-op one
/// and this costs a few allocations.
struct RequestTracingMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var parent = InstrumentationContext.current ?? .topLevel
        InstrumentationSystem.instrument.extract(request.headers, into: &parent, using: HeaderExtractor())
        let method = request.method.rawValue
        let span = startSpan("HTTP \(method)", context: parent, ofKind: .server)
        span.attributes["http.request.method"] = request.method.rawValue
        if let id = MedrecRequestID.current { span.attributes["medrec.request_id"] = id }
        do {
            let response = try await InstrumentationContext.$current.withValue(span.context) { try await next(request, context) }
            finish(span, method: method, context: context, status: Int(response.status.code))
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            // The error's type only: its message may name what was asked for.
            if status >= 500 { span.setStatus(SpanStatus(code: .error, message: String(describing: type(of: error)))) }
            finish(span, method: method, context: context, status: Int(status))
            throw error
        }
    }

    private func finish(_ span: any Span, method: String, context: Context, status: Int) {
        if let route = context.endpointPath {
            span.operationName = "HTTP \(method) \(route)"
            span.attributes["http.route"] = route
        }
        span.attributes["http.response.status_code"] = status
        span.end()
    }

    struct HeaderExtractor: Extractor {
        func extract(key: String, from headers: HTTPFields) -> String? {
            HTTPField.Name(key).flatMap { headers[$0] }
        }
    }
}

/// Spans of the server's own work inside a request: database statements (by kind, never their
/// text or values) and the audit commit.
enum ServerSpans {
    /// Whether tracing was bootstrapped (`Tracing.bootstrap`): without it the spans below are
    /// not even started.
    static var enabled: Bool { flag.load(ordering: .relaxed) }
    static let flag = Atomic<Bool>(false)

    /// Bootstraps swift-otel for traces only (the metrics stay Prometheus', the logs stay
    /// ours), as service `medrec`, OTLP/HTTP with protobuf unless `OTEL_EXPORTER_OTLP_PROTOCOL`
    /// says `http/json`; the endpoint and batching come from the standard `OTEL_*` variables.
    /// Returns the exporter's service, to run in the service group.
    static func bootstrap(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> any Service {
        var configuration = OTel.Configuration.default
        configuration.serviceName = "medrec"
        configuration.logs.enabled = false
        configuration.metrics.enabled = false
        configuration.traces.enabled = true
        configuration.traces.otlpExporter.protocol = .httpProtobuf
        // Its own messages (export failures) through our log handler, in our format.
        configuration.diagnosticLogger = .custom(Logger(label: "medrec.otel"))
        configuration.diagnosticLogLevel = .warning
        let service = try OTel.bootstrap(configuration: configuration, environment: environment)
        flag.store(true, ordering: .relaxed)
        return service
    }

    /// `body` inside a client span named `db <kind>`.
    static func database<Result>(
        _ kind: String, isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> Result
    ) async throws -> Result {
        try await withSpan("db \(kind)", ofKind: .client, isolation: isolation) { span in
            span.attributes["db.system"] = "postgresql"
            span.attributes["db.operation"] = kind
            return try await body()
        }
    }
}

import FHIRModels
import Hummingbird
import HummingbirdCore
import NIOCore
import Mapping
import Logging
import ServiceLifecycle
import PostgresNIO

/// What the operations contract adds to a server: its metrics (nil: none, as in most tests and
/// when no metrics port is configured) and its readiness, which the shutdown drain flips.
public struct ServerOperations: Sendable {
    public var metrics: ServerMetrics?
    public var readiness: Readiness

    public init(metrics: ServerMetrics? = nil, readiness: Readiness = Readiness()) {
        self.metrics = metrics
        self.readiness = readiness
    }
}

/// Builds the Hummingbird application: the same function serves `medrec serve` and the tests.
public enum MedrecApplication {
    public typealias Context = MedrecRequestContext

    public static func buildRouter(
        store: any ResourceStore, client: PostgresClient, settings: ServerSettings, security: SecurityServices,
        bulk: BulkService? = nil, operations: ServerOperations = ServerOperations()
    ) throws -> Router<Context> {
        let router = Router(context: Context.self)
        // Outermost first: the request id is in the logger, the task and the response for
        // everything below, errors included; the metrics see the status the client gets.
        router.add(middleware: RequestIDMiddleware())
        // After the id (the span carries it); only when tracing was bootstrapped.
        if ServerSpans.enabled { router.add(middleware: RequestTracingMiddleware()) }
        if let metrics = operations.metrics {
            router.add(middleware: HTTPMetricsMiddleware(metrics: metrics))
        }
        router.add(middleware: RequestLogMiddleware())
        router.add(middleware: APISecurityHeadersMiddleware())
        router.add(middleware: FHIROutcomeMiddleware())
        let allowedMethods = AllowedMethods()
        router.add(middleware: PlatformErrorMiddleware(allowed: allowedMethods))
        let webView = WebView(renderer: try WebRenderer.load(), cookies: WebCookies(baseURL: settings.baseURL))
        router.add(middleware: WebPageMiddleware(view: webView))
        // The route table, by access. Public routes are registered on `open`; everything else
        // sits behind the bearer authenticator (deny by default: a new route is authenticated
        // unless it is placed among the public ones here). Record reads defer the token's
        // database check into their own statement.
        let open = router.group()
        let authenticated = router.group().add(middleware: BearerAuthenticator(security: security))
        let reads = router.group().add(middleware: BearerAuthenticator(security: security, deferCheck: true))
        HealthController(client: client, readiness: operations.readiness, audit: security.audit).addRoutes(to: open)
        let fhir = RouterPath(APIFace.fhirPrefix)
        WellKnownController(security: security, baseURL: settings.baseURL).addRoutes(to: open, fhir: open.group(fhir))
        APIDocuments.addRoutes(to: open)
        AuthController(store: store, security: security, baseURL: settings.baseURL).addRoutes(public: open, authenticated: authenticated)
        AdminController(security: security).addRoutes(to: authenticated)
        let platform = PlatformServices(store: store, security: security, maxIncluded: settings.limits.maxPageSize)
        PlatformAPI.addRoutes(reads: reads, authenticated: authenticated, services: platform)
        WebFace(
            view: webView, sessions: SessionService(security: security), accounts: AccountService(store: store, security: security),
            platform: platform, security: security, store: store, settings: settings
        ).addRoutes(router: router, open: open)
        FHIRController(store: store, limits: settings.limits, baseURL: settings.baseURL, security: security).addRoutes(
            public: open.group(fhir), reads: reads.group(fhir), authenticated: authenticated.group(fhir))
        if let bulk {
            BulkController(bulk: bulk, limits: settings.limits, baseURL: settings.baseURL).addRoutes(to: authenticated.group(fhir))
        }
        allowedMethods.load(router.routes)
        return router
    }

    /// The server as the services of one `ServiceGroup`, in start order. The group stops them in
    /// reverse: `ShutdownDrain` (readiness 503 until the balancer has seen it), the HTTP server
    /// (no new connections; requests in flight finish within `medrec.shutdownGraceSeconds` of the
    /// signal, then are cancelled), the metrics listener, the background workers, the database
    /// client and last `servicesStoppedAfterClient` (the embedded cluster). Only the HTTP server
    /// is ever cut short, so the cluster is always stopped cleanly. The caller has migrated the
    /// database.
    public static func services(
        client: PostgresClient, readClient: PostgresClient? = nil, settings: ServerSettings, logger: Logger, sealer: FieldSealer?, security: SecurityServices,
        operations: ServerOperations = ServerOperations(), servicesStoppedAfterClient: [any Service] = [],
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) throws -> [any Service] {
        let availability = DatabaseAvailability(client: client, logger: logger)
        let store = PostgresResourceStore(
            client: client, logger: logger, availability: availability, sealer: sealer,
            replica: readClient.map { ReadReplica(client: $0, logger: logger) })
        let security = security.with(availability: availability)
        let bulk = try? BulkService(store: store, security: security, settings: settings.bulk)
        let router = try buildRouter(store: store, client: client, settings: settings, security: security, bulk: bulk, operations: operations)
        let app = Application(
            router: router,
            server: httpServer(settings),
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "medrec"),
            onServerRunning: onServerRunning,
            logger: logger
        )
        let grace = Duration.seconds(settings.shutdownGraceSeconds)
        var services: [any Service] = servicesStoppedAfterClient
        services += [client] + (readClient.map { [$0] } ?? []) + [availability, ReindexService(reindexer: Reindexer(store: store), logger: logger)]
        if let bulk { services.append(bulk.worker()) }
        if let metrics = operations.metrics, let port = settings.metricsPort {
            // Before the HTTP server in the list, so it stops after it: scrapes keep working
            // while the replica drains.
            services.append(MetricsListener.application(metrics: metrics, host: settings.metricsHost, port: port, logger: logger))
        }
        services.append(GraceBoundedService(service: app, readiness: operations.readiness, grace: grace, logger: logger))
        services.append(ShutdownDrain(readiness: operations.readiness, grace: grace, logger: logger))
        return services
    }

    /// HTTP/1.1 with the idle timeout (`MEDREC_IDLE_TIMEOUT_SECONDS`; 0: none).
    static func httpServer(_ settings: ServerSettings) -> HTTPServerBuilder {
        .http1(configuration: .init(
            idleTimeout: settings.idleTimeoutSeconds > 0 ? .seconds(Int64(settings.idleTimeoutSeconds)) : nil))
    }
}

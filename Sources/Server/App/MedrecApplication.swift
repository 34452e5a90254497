import FHIRModels
import Hummingbird
import Mapping
import Logging
import ServiceLifecycle
import PostgresNIO

/// Builds the Hummingbird application: the same function serves `medrec serve` and the tests.
public enum MedrecApplication {
    public typealias Context = MedrecRequestContext

    public static func buildRouter(
        store: any ResourceStore, client: PostgresClient, settings: ServerSettings, security: SecurityServices,
        bulk: BulkService? = nil
    ) throws -> Router<Context> {
        let router = Router(context: Context.self)
        router.add(middleware: RequestLogMiddleware())
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
        HealthController(client: client).addRoutes(to: open)
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

    /// The application with the database client as a service (the caller has migrated the database).
    /// `servicesStoppedAfterClient` (the embedded cluster) shut down only after the database client has.
    public static func build(
        client: PostgresClient, settings: ServerSettings, logger: Logger, sealer: FieldSealer?, security: SecurityServices,
        servicesStoppedAfterClient: [any Service] = [], onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let availability = DatabaseAvailability(client: client, logger: logger)
        let store = PostgresResourceStore(client: client, logger: logger, availability: availability, sealer: sealer)
        let security = security.with(availability: availability)
        let bulk = try? BulkService(store: store, security: security, settings: settings.bulk)
        let router = try buildRouter(store: store, client: client, settings: settings, security: security, bulk: bulk)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "medrec"),
            // Services stop in reverse order: the server, then the client, then (e.g.) the embedded cluster.
            services: servicesStoppedAfterClient + [client, availability, ReindexService(reindexer: Reindexer(store: store), logger: logger)]
                + (bulk.map { [$0.worker()] } ?? []),
            onServerRunning: onServerRunning,
            logger: logger
        )
        return app
    }
}

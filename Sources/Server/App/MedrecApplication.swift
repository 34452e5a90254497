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
        store: any ResourceStore, client: PostgresClient, settings: ServerSettings, security: SecurityServices
    ) -> Router<Context> {
        let router = Router(context: Context.self)
        router.add(middleware: RequestLogMiddleware())
        router.add(middleware: FHIROutcomeMiddleware())
        router.add(middleware: PlatformErrorMiddleware())
        // Deny by default: every route below needs a valid access token unless it is public.
        router.add(middleware: BearerAuthenticator(security: security))
        HealthController(client: client).addRoutes(to: router)
        WellKnownController(security: security, baseURL: settings.baseURL).addRoutes(to: router)
        AuthController(store: store, security: security).addRoutes(to: router)
        AdminController(security: security).addRoutes(to: router)
        PlatformAPI.addRoutes(to: router, store: store, security: security)
        APIDocuments.addRoutes(to: router)
        let fhir = router.group("fhir")
        FHIRController(store: store, limits: settings.limits, baseURL: settings.baseURL, security: security).addRoutes(to: fhir)
        return router
    }

    /// The application with the database client as a service (the caller has migrated the database).
    /// `servicesStoppedAfterClient` (the embedded cluster) shut down only after the database client has.
    public static func build(
        client: PostgresClient, settings: ServerSettings, logger: Logger, sealer: FieldSealer?, security: SecurityServices,
        servicesStoppedAfterClient: [any Service] = [], onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let availability = DatabaseAvailability(client: client, logger: logger)
        let store = PostgresResourceStore(client: client, logger: logger, availability: availability, sealer: sealer)
        let router = buildRouter(store: store, client: client, settings: settings, security: security.with(availability: availability))
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "medrec"),
            // Services stop in reverse order: the server, then the client, then (e.g.) the embedded cluster.
            services: servicesStoppedAfterClient + [client, availability, ReindexService(reindexer: Reindexer(store: store), logger: logger)],
            onServerRunning: onServerRunning,
            logger: logger
        )
        return app
    }
}

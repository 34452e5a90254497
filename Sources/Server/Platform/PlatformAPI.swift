import Hummingbird
import Mapping

/// The platform face: one `PlatformController` per model, on the routes of `PlatformRoutes`,
/// each over that model's `PlatformRecords` service.
enum PlatformAPI {
    static func addRoutes(
        reads: RouterGroup<MedrecRequestContext>, authenticated router: RouterGroup<MedrecRequestContext>, services: PlatformServices
    ) {
        func add<Model: PlatformModel>(_ service: PlatformRecords<Model>) {
            PlatformController<Model>(service: service, filters: .of(collection: Model.collection)).addRoutes(reads: reads, authenticated: router)
        }
        add(services.patients)
        add(services.doctors)
        add(services.appointments)
        add(services.medicalRecords)
        add(services.prescriptions)
        add(services.billings)
    }
}

import Hummingbird
import Mapping

/// The platform face: one `PlatformController` per model, on the routes of `PlatformRoutes`.
enum PlatformAPI {
    static func addRoutes(
        reads: RouterGroup<MedrecRequestContext>, authenticated router: RouterGroup<MedrecRequestContext>, store: any ResourceStore,
        settings: ServerSettings, security: SecurityServices
    ) {
        let records = RecordService(store: store, security: security)
        let searches = SearchService(store: store, security: security, maxIncluded: settings.limits.maxPageSize)
        func controller<Model: PlatformModel>(_ model: Model.Type) -> PlatformController<Model> {
            PlatformController<Model>(records: records, searches: searches, store: store, filters: .of(collection: Model.collection))
        }
        controller(PatientDTO.self).addRoutes(reads: reads, authenticated: router)
        controller(DoctorDTO.self).addRoutes(reads: reads, authenticated: router)
        var appointments = controller(AppointmentDTO.self)
        appointments.cancel = { appointment in
            var canceled = appointment
            canceled.status = .canceled
            return canceled
        }
        appointments.addRoutes(reads: reads, authenticated: router)
        controller(MedicalRecordDTO.self).addRoutes(reads: reads, authenticated: router)
        controller(PrescriptionDTO.self).addRoutes(reads: reads, authenticated: router)
        controller(BillingDTO.self).addRoutes(reads: reads, authenticated: router)
    }
}

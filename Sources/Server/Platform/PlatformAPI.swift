import Hummingbird
import Mapping

/// The platform face: one `PlatformController` per model, on the routes of `PlatformRoutes`.
enum PlatformAPI {
    static func addRoutes(to router: Router<MedrecRequestContext>, store: any ResourceStore, security: SecurityServices) {
        func controller<Model: PlatformModel>(_ model: Model.Type) -> PlatformController<Model> {
            PlatformController<Model>(store: store, security: security, filters: .of(collection: Model.collection))
        }
        controller(PatientDTO.self).addRoutes(to: router)
        controller(DoctorDTO.self).addRoutes(to: router)
        var appointments = controller(AppointmentDTO.self)
        appointments.cancel = { appointment in
            var canceled = appointment
            canceled.status = .canceled
            return canceled
        }
        appointments.addRoutes(to: router)
        controller(MedicalRecordDTO.self).addRoutes(to: router)
        controller(PrescriptionDTO.self).addRoutes(to: router)
        controller(BillingDTO.self).addRoutes(to: router)
    }
}

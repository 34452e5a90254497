import Mapping
import PropertyBased

extension Generators {
    static let appointment = Generator<AppointmentDTO, Shrink.None<AppointmentDTO>>(run: { rng in
        AppointmentDTO(
            patientID: Draw.id(&rng),
            doctorID: Draw.id(&rng),
            dateTime: Draw.dateTime(&rng),
            reasonForVisit: Draw.optional(&rng, Draw.text),
            status: Draw.element(AppointmentStatus.allCases, &rng),
            notes: Draw.optional(&rng, Draw.text)
        )
    })
}

import Mapping
import PropertyBased

extension Generators {
    static let medicalRecord = Generator<MedicalRecordDTO, Shrink.None<MedicalRecordDTO>>(run: { rng in
        MedicalRecordDTO(
            patientID: Draw.id(&rng),
            diagnosis: Draw.optional(&rng, Draw.text),
            treatment: Draw.optional(&rng, Draw.text),
            notes: Draw.optional(&rng, Draw.text),
            procedures: Draw.list(&rng, item),
            prescriptions: Draw.list(&rng, item),
            testResults: Draw.list(&rng, item),
            allergies: Draw.list(&rng, item),
            immunizations: Draw.list(&rng, item)
        )
    })

    static func item(_ rng: inout Draw.RNG) -> RecordItem {
        RecordItem(
            description: Draw.text(&rng),
            date: Draw.optional(&rng, Draw.dateOrDateTime),
            code: Draw.optional(&rng) { Draw.digits(Draw.int(4...9, &$0), &$0) }
        )
    }
}

import Mapping
import PropertyBased

extension Generators {
    static let prescription = Generator<PrescriptionDTO, Shrink.None<PrescriptionDTO>>(run: { rng in
        PrescriptionDTO(
            patientID: Draw.id(&rng),
            doctorID: Draw.id(&rng),
            dateIssued: Draw.dateOrDateTime(&rng),
            medication: Draw.element(["Amoxicillin 500 mg", "Ibuprofen 200 mg", "Metformin"], &rng) + " " + Draw.name(&rng),
            dosage: Draw.optional(&rng, Draw.text),
            instructions: Draw.optional(&rng, Draw.text),
            refills: Draw.optional(&rng) { Draw.element([0, 1, 2, 5, 1000], &$0) }
        )
    })
}

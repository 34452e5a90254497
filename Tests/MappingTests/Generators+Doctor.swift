import Mapping
import PropertyBased

extension Generators {
    static let doctor = Generator<DoctorDTO, Shrink.None<DoctorDTO>>(run: { rng in
        DoctorDTO(
            firstName: Draw.name(&rng),
            lastName: Draw.name(&rng),
            specialization: Draw.optional(&rng) { Draw.element(["Cardiology", "Pediatrics", "General practice", "Oncology"], &$0) },
            qualifications: Draw.list(&rng) { Draw.element(["MD", "PhD", "Board certified", "MBBS"], &$0) + " " + Draw.name(&$0) },
            contact: Draw.optional(&rng, contact),
            workSchedule: Draw.list(&rng) { rng in
                let start = Draw.int(0...20, &rng)
                let end = Draw.int((start + 1)...23, &rng)
                let days = DayOfWeek.allCases.filter { _ in Draw.bool(&rng) }
                return WorkSchedule(
                    daysOfWeek: days.isEmpty ? [.mon] : days,
                    startTime: "\(start < 10 ? "0" : "")\(start):00:00",
                    endTime: "\(end < 10 ? "0" : "")\(end):30:00"
                )
            }
        )
    })
}

import Mapping
import PropertyBased

extension Generators {
    static let billing = Generator<BillingDTO, Shrink.None<BillingDTO>>(run: { rng in
        let currency = Draw.element(["USD", "EUR", "CHF"], &rng)
        let amount = Draw.int(0...99_999_999, &rng)
        let coverage = Draw.int(0...amount, &rng)
        return BillingDTO(
            patientID: Draw.id(&rng),
            appointmentID: Draw.optional(&rng, Draw.id),
            date: Draw.dateOrDateTime(&rng),
            amount: MoneyAmount(value: Draw.money(cents: amount), currency: currency),
            insuranceCoverage: MoneyAmount(value: Draw.money(cents: coverage), currency: currency),
            outstandingAmount: MoneyAmount(value: Draw.money(cents: amount - coverage), currency: currency),
            status: Draw.element(PaymentStatus.allCases, &rng)
        )
    })
}

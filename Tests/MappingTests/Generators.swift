import Mapping
import PropertyBased

/// Generators of valid platform models, as `init(body:)` would produce them.
enum Generators {
    static let patient = Generator<PatientDTO, Shrink.None<PatientDTO>>(run: { rng in
        PatientDTO(
            firstName: Draw.name(&rng),
            lastName: Draw.name(&rng) + (Draw.bool(&rng) ? "-" + Draw.name(&rng) : ""),
            dateOfBirth: Draw.date(&rng),
            gender: Draw.element(Gender.allCases, &rng),
            address: Draw.optional(&rng, address),
            contact: Draw.optional(&rng, contact),
            insurance: Draw.optional(&rng) { rng in
                InsuranceDetails(
                    provider: Draw.optional(&rng, Draw.name) ?? Draw.name(&rng),
                    policyNumber: Draw.optional(&rng) { Draw.digits(8, &$0) },
                    coverageDetails: Draw.optional(&rng, Draw.text)
                )
            }
        )
    })

    static func address(_ rng: inout Draw.RNG) -> PostalAddress {
        let address = PostalAddress(
            line: Draw.list(&rng, count: 0...2) { "\(Draw.int(1...999, &$0)) \(Draw.name(&$0)) Street" },
            city: Draw.optional(&rng, Draw.name),
            state: Draw.optional(&rng) { Draw.element(["MA", "CA", "Vic", "Bern"], &$0) },
            postalCode: Draw.optional(&rng) { Draw.digits(5, &$0) },
            country: Draw.optional(&rng) { Draw.element(["US", "AU", "CH"], &$0) }
        )
        return address == PostalAddress() ? PostalAddress(city: Draw.name(&rng)) : address
    }

    static func contact(_ rng: inout Draw.RNG) -> ContactDetails {
        let contact = ContactDetails(
            phone: Draw.optional(&rng, Draw.phone),
            email: Draw.optional(&rng, Draw.email),
            other: Draw.list(&rng, count: 0...2) { Draw.bool(&$0) ? Draw.phone(&$0) : "https://" + Draw.name(&$0).lowercased() + ".example" }
        )
        return contact == ContactDetails() ? ContactDetails(phone: Draw.phone(&rng)) : contact
    }
}

/// The codes allowed in each `code` element whose binding is `required` to a value set the
/// specification enumerates (`Observation.status`, `Patient.gender`, `HumanName.use`, …):
/// `scripts/generate-required-codes.py` reads them from the official StructureDefinitions and
/// XML schema. Keys are element paths as the metadata names owner types (`Patient.contact.gender`).
/// Bindings to external value sets (MIME types, languages, currencies) are not here.
enum RequiredCodes {
    struct Binding: Sendable {
        let name: String
        let codes: Set<String>
    }

    /// Parsed once, at first use.
    static let byPath: [String: Binding] = {
        var result: [String: Binding] = [:]
        for line in table.split(separator: "\n") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            result[String(fields[0])] = Binding(
                name: String(fields[1]), codes: Set(fields[2].split(separator: "|").map(String.init)))
        }
        return result
    }()

    static func binding(owner: String, element: String) -> Binding? {
        byPath["\(owner).\(element)"]
    }
}

extension FHIRMetadata.Catalog {
    /// Decodes the line format written by `scripts/generate-metadata.py`. The input is generated
    /// and compiled in, so a malformed line is a build defect and traps.
    init(decoding text: String) {
        var types: [String: TypeInfo] = [:]
        types.reserveCapacity(700)
        // Type codes repeat thousands of times; share one string per distinct code.
        var interned: [Substring: String] = [:]
        func intern(_ text: Substring) -> String {
            if let existing = interned[text] { return existing }
            let string = String(text)
            interned[text] = string
            return string
        }

        var current: (name: String, kind: FHIRTypeKind, isAbstract: Bool)?
        var elements: [ElementInfo] = []
        func finish() {
            guard let type = current else { return }
            types[type.name] = TypeInfo(name: type.name, kind: type.kind, isAbstract: type.isAbstract, elements: elements)
            elements = []
        }

        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let fields = line.split(separator: " ")
            switch fields[0] {
            case "T":
                precondition(fields.count == 4, "metadata: bad type line")
                finish()
                let kind: FHIRTypeKind
                switch fields[2] {
                case "p": kind = .primitive
                case "c": kind = .complex
                case "r": kind = .resource
                case "b": kind = .backbone
                default: preconditionFailure("metadata: bad type kind")
                }
                current = (String(fields[1]), kind, fields[3] == "a")
            case "E":
                precondition(fields.count == 6 && current != nil, "metadata: bad element line")
                let flags = fields[4]
                let representation: ElementRepresentation =
                    flags.contains("x") ? .xmlAttribute : flags.contains("h") ? .xhtml : .element
                elements.append(ElementInfo(
                    name: intern(fields[1]),
                    min: Int(fields[2])!,
                    max: fields[3] == "*" ? nil : Int(fields[3])!,
                    types: fields[5].split(separator: "|").map(intern),
                    isChoice: flags.contains("c"),
                    isSummary: flags.contains("s"),
                    representation: representation))
            default:
                preconditionFailure("metadata: bad line")
            }
        }
        finish()
        self.types = types
        self.resourceTypeNames = types.values
            .filter { $0.kind == .resource && !$0.isAbstract }
            .map(\.name)
            .sorted()
    }
}

import FHIRModels

/// The Composition sections of a medical record, each found by its LOINC code.
enum RecordSection: String, CaseIterable {
    case diagnosis, treatment, procedures, prescriptions, testResults, allergies, immunizations, notes

    static let loincSystem = "http://loinc.org"

    var loincCode: String {
        switch self {
        case .diagnosis: "29548-5"
        case .treatment: "18776-5"
        case .procedures: "47519-4"
        case .prescriptions: "10160-0"
        case .testResults: "30954-2"
        case .allergies: "48765-2"
        case .immunizations: "11369-6"
        case .notes: "48767-8"
        }
    }

    var title: String {
        switch self {
        case .diagnosis: "Diagnosis"
        case .treatment: "Treatment"
        case .procedures: "Procedures"
        case .prescriptions: "Prescriptions"
        case .testResults: "Test results"
        case .allergies: "Allergies"
        case .immunizations: "Immunizations"
        case .notes: "Notes"
        }
    }

    /// Text sections hold one string; the others a list of `RecordItem`s.
    var holdsText: Bool {
        [.diagnosis, .treatment, .notes].contains(self)
    }

    /// The first top-level section coded with this section's LOINC code.
    func index(in sections: [JSONValue]) -> Int? {
        sections.firstIndex { section in
            (section["code"]?["coding"]?.arrayValue ?? []).contains {
                $0["system"]?.stringValue == Self.loincSystem && $0["code"]?.stringValue == loincCode
            }
        }
    }

    func newSection() -> JSONObject {
        [
            "title": .string(title),
            "code": ["coding": [["system": .string(Self.loincSystem), "code": .string(loincCode)]]],
        ]
    }
}

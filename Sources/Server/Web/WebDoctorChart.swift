import FHIRModels
import Foundation
import Mapping

/// A patient's chart for the doctor's pages, behind the interface of the shared
/// `WebPatientChart` (branch web-patient): a minimal stand-in until that component is merged.
/// Every read and search goes through the services with the caller (break-glass included), so
/// access and audit are theirs; the Patient read comes first, so a chart the doctor may not see
/// fails before anything else is asked.
struct WebDoctorChart: Sendable {
    let platform: PlatformServices

    static let pageSize = 20

    /// Demographics (no more than a chart needs), conditions, allergies, current medications,
    /// the medical-record entries and prescriptions.
    func summary(patientID: String, as caller: Caller) async throws -> [String: Any] {
        let patient = try await platform.patients.read(id: patientID, as: caller)
        var data: [String: Any] = ["name": WebFormat.name(first: patient.model.firstName, last: patient.model.lastName)]
        if let born = WebFormat.date(patient.model.dateOfBirth) { data["birthDate"] = born }
        if let gender = patient.model.gender { data["gender"] = gender.rawValue }
        let subject: (key: String, value: String) = ("patient", "Patient/\(patientID)")
        data["conditions"] = try await rows("Condition", [subject, ("_count", "50")], as: caller) { resource in
            ["text": WebFormat.concept(resource["code"]) ?? "(unnamed)",
             "since": WebFormat.date(resource["onsetDateTime"]?.stringValue) ?? ""]
        }
        data["allergies"] = try await rows("AllergyIntolerance", [subject, ("_count", "50")], as: caller) { resource in
            ["text": WebFormat.concept(resource["code"]) ?? "(unnamed)"]
        }
        data["medications"] = try await rows("MedicationRequest", [subject, ("status", "active"), ("_count", "50")], as: caller) { resource in
            ["text": WebFormat.concept(resource["medicationCodeableConcept"]) ?? "(unnamed)",
             "since": WebFormat.date(resource["authoredOn"]?.stringValue) ?? ""]
        }
        let entries = try await platform.medicalRecords.list(
            [("subject", "Patient/\(patientID)"), ("_sort", "-date"), ("_count", "20")], queryText: "chart: medical records",
            maxCount: 20, as: caller)
        data["entries"] = entries.items.map { item -> [String: Any] in
            let model = item.model
            return [
                "date": WebFormat.dateTime(model.createdAt) ?? "", "diagnosis": model.diagnosis ?? "",
                "treatment": model.treatment ?? "", "notes": model.notes ?? "",
            ]
        }
        let prescriptions = try await platform.prescriptions.list(
            [("subject", "Patient/\(patientID)"), ("_count", "20")], queryText: "chart: prescriptions", maxCount: 20, as: caller)
        data["prescriptions"] = prescriptions.items.map { item -> [String: Any] in
            let model = item.model
            return [
                "medication": model.medication ?? "", "dosage": model.dosage ?? "", "instructions": model.instructions ?? "",
                "date": WebFormat.date(model.dateIssued) ?? "",
            ]
        }
        data["has"] = Self.nonEmpty(data, ["conditions", "allergies", "medications", "entries", "prescriptions"])
        return data
    }

    /// Which of `keys` are non-empty lists (`{{#has.x}}` in a template).
    static func nonEmpty(_ data: [String: Any], _ keys: [String]) -> [String: Bool] {
        Dictionary(uniqueKeysWithValues: keys.map { ($0, !((data[$0] as? [[String: Any]])?.isEmpty ?? true)) })
    }

    /// Encounters, newest first, a page at a time (`cursor` from the previous page's `next`).
    func timeline(patientID: String, cursor: String?, as caller: Caller) async throws -> [String: Any] {
        var items: [(key: String, value: String)] = [("patient", "Patient/\(patientID)"), ("_sort", "-date"), ("_count", String(Self.pageSize))]
        if let cursor { items.append(("_cursor", cursor)) }
        let result = try await search("Encounter", items, as: caller)
        var data: [String: Any] = [
            "items": result.matches.map { _, resource -> [String: Any] in
                let type = WebFormat.concept(resource["type"]?.arrayValue?.first)
                return [
                    "date": WebFormat.dateTime(resource["period"]?["start"]?.stringValue) ?? "",
                    "text": type ?? WebFormat.concept(resource["class"]) ?? "Encounter",
                    "status": resource["status"]?.stringValue ?? "",
                ]
            },
        ]
        if let next = result.next { data["next"] = next }
        data["has"] = Self.nonEmpty(data, ["items"])
        return data
    }

    func results(patientID: String, cursor: String?, as caller: Caller) async throws -> [String: Any] {
        var items: [(key: String, value: String)] = [("patient", "Patient/\(patientID)"), ("_sort", "-date"), ("_count", String(Self.pageSize))]
        if let cursor { items.append(("_cursor", cursor)) }
        let result = try await search("Observation", items, as: caller)
        var data: [String: Any] = [
            "items": result.matches.map { _, resource -> [String: Any] in
                [
                    "date": WebFormat.dateTime(resource["effectiveDateTime"]?.stringValue) ?? "",
                    "text": WebFormat.concept(resource["code"]) ?? "",
                    "value": WebFormat.quantity(resource["valueQuantity"]) ?? WebFormat.concept(resource["valueCodeableConcept"]) ?? "",
                ]
            },
        ]
        if let next = result.next { data["next"] = next }
        data["has"] = Self.nonEmpty(data, ["items"])
        return data
    }

    private func rows(
        _ type: String, _ items: [(key: String, value: String)], as caller: Caller, _ row: (JSONValue) -> [String: Any]
    ) async throws -> [[String: Any]] {
        try await search(type, items, as: caller).matches.map { row($0.resource) }
    }

    private func search(_ type: String, _ items: [(key: String, value: String)], as caller: Caller) async throws -> SearchService.Result {
        let parser = SearchQueryParser(baseURL: "", strict: true, maxCount: 50)
        let query = try parser.parse(types: [type], items: items)
        return try await platform.searches.search(SearchService.Request(query: query, items: items, auditType: type), as: caller)
    }
}

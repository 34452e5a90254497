import FHIRModels
import Foundation
import Mapping

/// A patient's chart as template data, read through the services as the caller (a doctor's
/// reads are decided and audited per resource, break-glass included, by the services).
///
/// Every section is one service call (a read or one sorted, paged search): a patient with a
/// long history costs what a new one does. The partials `chart/summary`, `chart/timeline` and
/// `chart/results` render the dictionaries; the including page sets `chartBase`, the URL the
/// pager links append `?cursor=…` to (set it inside `timeline`/`results` when they differ).
struct WebPatientChart: Sendable {
    let platform: PlatformServices

    /// Rows per page of the timeline and of the results table.
    static let pageSize = 25
    /// Allergies, conditions and medications shown on the summary (newest first).
    static let summaryCount = 50
    /// The values the charts are drawn from: the newest of the common measurements.
    static let chartValues = 60

    /// The common measurements charted on the results, by LOINC code, in display order. A
    /// panel's components (blood pressure) become two series.
    static let chartedCodes: [(code: String, title: String, components: [(code: String, name: String)])] = [
        ("29463-7", "Body weight", []),
        ("39156-5", "Body mass index", []),
        ("85354-9", "Blood pressure", [("8480-6", "Systolic"), ("8462-4", "Diastolic")]),
        ("55284-4", "Blood pressure", [("8480-6", "Systolic"), ("8462-4", "Diastolic")]),
        ("8867-4", "Heart rate", []),
        ("2093-3", "Total cholesterol", []),
        ("2339-0", "Glucose", []),
        ("4548-4", "Hemoglobin A1c", []),
        ("33914-3", "Estimated glomerular filtration rate", []),
    ]

    // MARK: - Summary

    /// Demographics, contact, insurance, allergies, active conditions, current medications.
    func summary(patientID: String, as caller: Caller) async throws -> [String: Any] {
        // The Patient first: a refusal (404 for a patient not theirs, a doctor without a care
        // relationship) comes before any search.
        let patient = try await platform.patients.read(id: patientID, as: caller)
        let resource = try patient.stored.resource() ?? .object([:])
        let subject = "Patient/\(patientID)"
        async let allergies = search("AllergyIntolerance", [("patient", subject), ("_sort", "-date")], count: Self.summaryCount, as: caller)
        async let conditions = search(
            "Condition", [("patient", subject), ("clinical-status", "active,recurrence,relapse"), ("_sort", "-onset-date")],
            count: Self.summaryCount, as: caller)
        async let medications = search(
            "MedicationRequest", [("patient", subject), ("status", "active,on-hold"), ("_sort", "-authoredon")],
            count: Self.summaryCount, as: caller)
        let allergyRows = try await allergies.matches.map { Self.allergy($0.resource) }
        let conditionRows = try await conditions.matches.map { Self.condition($0.resource) }
        let medicationRows = try await medications.matches.map { Self.medication($0.resource) }
        return [
            "patient": Self.demographics(patient.model, resource),
            "allergies": allergyRows, "hasAllergies": !allergyRows.isEmpty,
            "conditions": conditionRows, "hasConditions": !conditionRows.isEmpty,
            "medications": medicationRows, "hasMedications": !medicationRows.isEmpty,
        ]
    }

    static func demographics(_ model: PatientDTO, _ resource: JSONValue) -> [String: Any] {
        var data: [String: Any] = [
            "name": WebFormat.name(first: model.firstName, last: model.lastName),
        ]
        data["birthDate"] = WebFormat.date(model.dateOfBirth)
        data["gender"] = model.gender.map { $0.rawValue.capitalized }
        if let address = model.address {
            let parts = address.line + [address.city, address.state, address.postalCode, address.country].compactMap { $0 }
            if !parts.isEmpty { data["address"] = parts.joined(separator: ", ") }
        }
        data["phone"] = model.contact?.phone
        data["email"] = model.contact?.email
        if let insurance = model.insurance {
            data["insurance"] = [
                "provider": insurance.provider as Any, "policyNumber": insurance.policyNumber as Any,
                "coverageDetails": insurance.coverageDetails as Any,
            ]
        }
        data["language"] = WebFormat.concept(resource["communication"]?.arrayValue?.first?["language"])
        data["maritalStatus"] = WebFormat.concept(resource["maritalStatus"])
        if let deceased = resource["deceasedDateTime"]?.stringValue { data["deceased"] = WebFormat.date(deceased) }
        return data
    }

    static func allergy(_ resource: JSONValue) -> [String: Any] {
        var row: [String: Any] = ["substance": WebFormat.concept(resource["code"]) ?? "Unnamed allergy"]
        row["criticality"] = resource["criticality"]?.stringValue.map(Self.words)
        row["status"] = WebFormat.concept(resource["clinicalStatus"]).map(Self.words)
        row["category"] = resource["category"]?.arrayValue?.compactMap(\.stringValue).map(Self.words).joined(separator: ", ")
        row["recorded"] = WebFormat.date(resource["recordedDate"]?.stringValue ?? resource["onsetDateTime"]?.stringValue)
        let reactions = (resource["reaction"]?.arrayValue ?? []).flatMap { reaction in
            (reaction["manifestation"]?.arrayValue ?? []).compactMap { WebFormat.concept($0) }
        }
        if !reactions.isEmpty { row["reactions"] = reactions.joined(separator: ", ") }
        return row
    }

    static func condition(_ resource: JSONValue) -> [String: Any] {
        var row: [String: Any] = ["name": WebFormat.concept(resource["code"]) ?? "Unnamed condition"]
        row["onset"] = WebFormat.date(resource["onsetDateTime"]?.stringValue ?? resource["onsetPeriod"]?["start"]?.stringValue)
        row["recorded"] = WebFormat.date(resource["recordedDate"]?.stringValue)
        row["status"] = WebFormat.concept(resource["clinicalStatus"]).map(Self.words)
        return row
    }

    static func medication(_ resource: JSONValue) -> [String: Any] {
        var row: [String: Any] = [
            "name": WebFormat.concept(resource["medicationCodeableConcept"]) ?? resource["medicationReference"]?["display"]?.stringValue
                ?? "Unnamed medication",
        ]
        row["since"] = WebFormat.date(resource["authoredOn"]?.stringValue)
        row["dosage"] = resource["dosageInstruction"]?.arrayValue?.first?["text"]?.stringValue
        row["prescriber"] = resource["requester"]?["display"]?.stringValue
        row["status"] = resource["status"]?.stringValue.map(Self.words)
        return row
    }

    // MARK: - Timeline

    /// Encounters and notes (medical records) as a timeline, newest first, one page; `cursor` is the previous page's "nextCursor".
    func timeline(patientID: String, cursor: String?, as caller: Caller) async throws -> [String: Any] {
        var items: [(key: String, value: String)] = [("patient", "Patient/\(patientID)"), ("_sort", "-date")]
        if let cursor { items.append(("_cursor", cursor)) }
        let result = try await search(["Encounter", "Composition"], items, count: Self.pageSize, as: caller)
        let entries = result.matches.map { Self.timelineEntry($0.stored, $0.resource) }
        var data: [String: Any] = ["entries": entries, "hasEntries": !entries.isEmpty, "isFirstPage": cursor == nil]
        data["nextCursor"] = result.next
        return data
    }

    static func timelineEntry(_ stored: StoredResource, _ resource: JSONValue) -> [String: Any] {
        var facts: [[String: String]] = []
        func fact(_ label: String, _ value: String?) {
            if let value, !value.isEmpty { facts.append(["label": label, "value": value]) }
        }
        var entry: [String: Any] = ["id": stored.id]
        if stored.type == "Composition" {
            let record = MedicalRecordDTO(fhir: resource)
            entry["kind"] = "Medical record"
            entry["isNote"] = true
            entry["when"] = WebFormat.dateTime(record.createdAt)
            entry["datetime"] = record.createdAt
            entry["title"] = record.diagnosis.map { "Diagnosis: \($0)" } ?? (resource["title"]?.stringValue ?? "Medical record")
            fact("Author", resource["author"]?.arrayValue?.first?["display"]?.stringValue)
            fact("Treatment", record.treatment)
            fact("Notes", record.notes)
            for (label, list) in [
                ("Procedures", record.procedures), ("Prescriptions", record.prescriptions), ("Test results", record.testResults),
                ("Allergies", record.allergies), ("Immunizations", record.immunizations),
            ] where !list.isEmpty {
                fact(label, list.map { item in
                    [item.description, item.date.flatMap { WebFormat.date($0) }].compactMap { $0 }.joined(separator: ", ")
                }.joined(separator: "; "))
            }
        } else {
            let start = resource["period"]?["start"]?.stringValue
            entry["kind"] = "Encounter"
            entry["when"] = WebFormat.dateTime(start)
            entry["datetime"] = start
            let type = WebFormat.concept(resource["type"]?.arrayValue?.first) ?? resource["class"]?["display"]?.stringValue ?? "Encounter"
            entry["title"] = type
            fact("Status", resource["status"]?.stringValue.map(words))
            fact("Kind", resource["class"]?["display"]?.stringValue ?? resource["class"]?["code"]?.stringValue)
            fact("Reason", (resource["reasonCode"]?.arrayValue ?? []).compactMap { WebFormat.concept($0) }.joined(separator: ", "))
            fact("With", (resource["participant"]?.arrayValue ?? []).compactMap { $0["individual"]?["display"]?.stringValue }
                .joined(separator: ", "))
            fact("Where", resource["serviceProvider"]?["display"]?.stringValue ?? resource["location"]?.arrayValue?.first?["location"]?["display"]?.stringValue)
            if let end = resource["period"]?["end"]?.stringValue, end != start { fact("Ended", WebFormat.dateTime(end)) }
        }
        entry["facts"] = facts
        entry["hasFacts"] = !facts.isEmpty
        return entry
    }

    // MARK: - Results

    /// Lab results and vital signs: tables, plus a small chart of values over time per common measurement drawn server-side as SVG; paged.
    func results(patientID: String, cursor: String?, as caller: Caller) async throws -> [String: Any] {
        let subject = "Patient/\(patientID)"
        var items: [(key: String, value: String)] = [("patient", subject), ("category", "laboratory,vital-signs"), ("_sort", "-date")]
        if let cursor { items.append(("_cursor", cursor)) }
        async let page = search("Observation", items, count: Self.pageSize, as: caller)
        // The charts show the newest values of the common measurements, on the first page only.
        async let charted = cursor == nil ? chartedValues(subject: subject, as: caller) : nil
        let rows = try await page.matches.map { Self.resultRow($0.resource) }
        var data: [String: Any] = ["rows": rows, "hasRows": !rows.isEmpty, "isFirstPage": cursor == nil]
        data["nextCursor"] = try await page.next
        if let charted = try await charted {
            let charts = Self.charts(charted.matches.map(\.resource))
            data["charts"] = charts
            data["hasCharts"] = !charts.isEmpty
        }
        return data
    }

    static func resultRow(_ resource: JSONValue) -> [String: Any] {
        var row: [String: Any] = ["name": WebFormat.concept(resource["code"]) ?? "Unnamed result"]
        let effective = resource["effectiveDateTime"]?.stringValue ?? resource["effectivePeriod"]?["start"]?.stringValue
            ?? resource["issued"]?.stringValue
        row["when"] = WebFormat.dateTime(effective)
        row["datetime"] = effective
        row["value"] = value(of: resource) ?? "—"
        let category = (resource["category"]?.arrayValue ?? []).compactMap { $0["coding"]?.arrayValue?.first?["code"]?.stringValue }.first
        row["category"] = category == "vital-signs" ? "Vital sign" : category == "laboratory" ? "Laboratory" : category.map(words)
        if let interpretation = WebFormat.concept(resource["interpretation"]?.arrayValue?.first) { row["interpretation"] = interpretation }
        return row
    }

    /// A Quantity for people: "77.85 kg" (at most two decimals; machine-made values such as
    /// 77.85258448030889 are rounded, shorter ones shown as written).
    static func quantity(_ value: JSONValue?) -> String? {
        guard let value, let lexical = value["value"]?.numberLexical else { return nil }
        let unit = value["unit"]?.stringValue ?? value["code"]?.stringValue
        return [rounded(lexical), unit].compactMap { $0 }.joined(separator: " ")
    }

    static func rounded(_ lexical: String) -> String {
        guard let dot = lexical.firstIndex(of: "."), lexical.distance(from: dot, to: lexical.endIndex) > 3,
              !lexical.contains("e"), !lexical.contains("E"), let number = Double(lexical) else { return lexical }
        return WebFormat.fixed(number, digits: 2)
    }

    /// "7.2 mmol/L", "120/80 mm[Hg]" (a panel's components), a coded answer's text, a string.
    static func value(of resource: JSONValue) -> String? {
        if let text = quantity(resource["valueQuantity"]) { return text }
        if let concept = WebFormat.concept(resource["valueCodeableConcept"]) { return concept }
        if let text = resource["valueString"]?.stringValue { return text }
        if let number = resource["valueInteger"]?.numberLexical { return number }
        if let flag = resource["valueBoolean"]?.boolValue { return flag ? "Yes" : "No" }
        let components = resource["component"]?.arrayValue ?? []
        let values = components.compactMap { $0["valueQuantity"] }
        if values.count == 2, let a = values[0]["value"]?.numberLexical, let b = values[1]["value"]?.numberLexical {
            let unit = values[1]["unit"]?.stringValue ?? values[1]["code"]?.stringValue
            return ["\(rounded(a))/\(rounded(b))", unit].compactMap { $0 }.joined(separator: " ")
        }
        let parts = components.compactMap { component -> String? in
            guard let value = quantity(component["valueQuantity"]) ?? WebFormat.concept(component["valueCodeableConcept"]) else {
                return nil
            }
            return [WebFormat.concept(component["code"]), value].compactMap { $0 }.joined(separator: ": ")
        }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }

    /// One chart per charted measurement with values (in `chartedCodes` order), each with its
    /// values as table rows (newest first), the same data as the picture.
    static func charts(_ observations: [JSONValue]) -> [[String: Any]] {
        var byCode: [String: [JSONValue]] = [:]
        for observation in observations {
            for coding in observation["code"]?["coding"]?.arrayValue ?? [] where coding["system"]?.stringValue == "http://loinc.org" {
                if let code = coding["code"]?.stringValue { byCode[code, default: []].append(observation) }
            }
        }
        var charts: [[String: Any]] = []
        var drawn = Set<String>()
        for (index, measurement) in chartedCodes.enumerated() {
            guard let found = byCode[measurement.code], !found.isEmpty, drawn.insert(measurement.title).inserted else { continue }
            var series: [WebSVGChart.Series] = []
            var unit: String?
            var rows: [[String: String]] = []
            func instant(_ observation: JSONValue) -> (Date, String)? {
                guard let text = observation["effectiveDateTime"]?.stringValue ?? observation["effectivePeriod"]?["start"]?.stringValue,
                      let date = Self.instant(text) else { return nil }
                return (date, text)
            }
            if measurement.components.isEmpty {
                var points: [WebSVGChart.Point] = []
                for observation in found {
                    guard let (date, text) = instant(observation), let lexical = observation["valueQuantity"]?["value"]?.numberLexical,
                          let number = Double(lexical) else { continue }
                    unit = unit ?? observation["valueQuantity"]?["unit"]?.stringValue ?? observation["valueQuantity"]?["code"]?.stringValue
                    points.append(.init(date: date, value: number))
                    rows.append(["when": WebFormat.date(text) ?? text, "value": quantity(observation["valueQuantity"]) ?? lexical])
                }
                series.append(.init(name: measurement.title, points: points))
            } else {
                var lines: [[WebSVGChart.Point]] = Array(repeating: [], count: measurement.components.count)
                for observation in found {
                    guard let (date, text) = instant(observation) else { continue }
                    var shown: [String] = []
                    for (position, component) in measurement.components.enumerated() {
                        let match = (observation["component"]?.arrayValue ?? []).first {
                            ($0["code"]?["coding"]?.arrayValue ?? []).contains { $0["code"]?.stringValue == component.code }
                        }
                        guard let quantity = match?["valueQuantity"], let lexical = quantity["value"]?.numberLexical,
                              let number = Double(lexical) else { continue }
                        unit = unit ?? quantity["unit"]?.stringValue ?? quantity["code"]?.stringValue
                        lines[position].append(.init(date: date, value: number))
                        shown.append("\(component.name) \(rounded(lexical))")
                    }
                    if !shown.isEmpty {
                        rows.append(["when": WebFormat.date(text) ?? text, "value": shown.joined(separator: ", ") + (unit.map { " \($0)" } ?? "")])
                    }
                }
                series = zip(measurement.components, lines).map { .init(name: $0.name, points: $1) }
            }
            let chart = WebSVGChart(id: "chart-\(index)", title: measurement.title, unit: unit, series: series)
            guard let svg = chart.svg else { continue }
            charts.append([
                "id": "chart-\(index)", "title": measurement.title, "unit": unit as Any, "svg": svg, "values": rows,
                "count": rows.count,
            ])
        }
        return charts
    }

    /// The newest values of the charted measurements: one search, bounded.
    private func chartedValues(subject: String, as caller: Caller) async throws -> SearchService.Result? {
        let codes = Self.chartedCodes.map { "http://loinc.org|\($0.code)" }.joined(separator: ",")
        return try await search("Observation", [("patient", subject), ("code", codes), ("_sort", "-date")], count: Self.chartValues, as: caller)
    }

    /// A FHIR date or dateTime as an instant (a date alone is its midnight UTC; a time without
    /// a zone is read as UTC). Parsed by hand: charts read hundreds per page.
    static func instant(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        func number(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[from..<(from + count)] {
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        guard let year = number(0, 4) else { return nil }
        let month = bytes.count >= 7 ? number(5, 2) ?? 1 : 1
        let day = bytes.count >= 10 ? number(8, 2) ?? 1 : 1
        guard (1...12).contains(month), (1...31).contains(day) else { return nil }
        var seconds = 0
        if bytes.count >= 16, bytes[10] == UInt8(ascii: "T") {
            seconds = (number(11, 2) ?? 0) * 3600 + (number(14, 2) ?? 0) * 60 + (number(17, 2) ?? 0)
            if let sign = bytes.lastIndex(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") }), sign > 10,
               let hours = number(sign + 1, 2), let minutes = number(sign + 4, 2) {
                seconds -= (hours * 3600 + minutes * 60) * (bytes[sign] == UInt8(ascii: "-") ? -1 : 1)
            }
        }
        // Days from the civil date (H. Hinnant's algorithm).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return Date(timeIntervalSince1970: TimeInterval(days * 86_400 + seconds))
    }

    // MARK: - Parts

    /// One page of a search of `types` as the caller; the services decide, restrict and audit.
    func search(
        _ types: [String], _ items: [(key: String, value: String)], count: Int, as caller: Caller
    ) async throws -> SearchService.Result {
        let items = items + [("_count", String(count))]
        var parser = SearchQueryParser(baseURL: "", strict: true, maxCount: max(count, 1))
        let query = try parser.parse(types: types, items: items)
        return try await platform.searches.search(
            SearchService.Request(query: query, items: items, auditType: types.count == 1 ? types[0] : nil), as: caller)
    }

    func search(_ type: String, _ items: [(key: String, value: String)], count: Int, as caller: Caller) async throws -> SearchService.Result {
        try await search([type], items, count: count, as: caller)
    }

    /// A FHIR code as words: "on-hold" → "On hold".
    static func words(_ code: String) -> String {
        let text = code.replacingOccurrences(of: "-", with: " ").replacingOccurrences(of: "_", with: " ")
        return text.prefix(1).uppercased() + text.dropFirst()
    }
}

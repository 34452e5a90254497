import FHIRModels
import FixtureSupport
import Foundation
import HummingbirdTesting
import Testing
@testable import Server

/// Every parameter type on real Synthea data. Each expectation is computed from the fixture
/// JSON by plain filtering, never taken from the server.
@Suite("Search: parameter types")
struct SearchParameterTypeTests {
    typealias Synthea = SyntheaSearchData

    static func patient(_ data: SyntheaSearchData, _ index: Int) throws -> JSONValue {
        try #require(data.resource("Patient/\(data.patientIDs[index])"))
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func stringParametersAreCaseInsensitivePrefixesOverEveryNamePart() async throws {
        let data = try Synthea.load()
        let patients = data.patients
        @Sendable func expected(_ predicate: (JSONValue) -> Bool) -> Set<String> { Synthea.references(patients.filter(predicate)) }
        let keeling = try Self.patient(data, 0)
        let rodriguez = try Self.patient(data, 2)
        let wyman = try Self.patient(data, 4)
        // "k": two families start with K (Keeling, Kutch); searched in lower case.
        let familyInitial = try #require(Synthea.strings(keeling, "name.family").first?.prefix(1).lowercased())
        let byFamily = expected { Synthea.startsWith(Synthea.strings($0, "name.family"), familyInitial) }
        try #require(byFamily.count >= 2, "the data should hold two families with the same initial")
        // Upper case against a mixed-case given name.
        let givenPrefix = try #require(Synthea.strings(rodriguez, "name.given").first?.prefix(3).uppercased())
        // The maiden name (second HumanName) of a married patient.
        let maiden = try #require(Synthea.strings(wyman, "name.family").dropFirst().first)
        let maidenPrefix = String(maiden.prefix(4)).lowercased()

        try await TestApp.run { client in
            try await data.post(to: client)
            try await Synthea.expectMatches(client, Synthea.path("Patient", [("family", familyInitial)]), byFamily)
            try await Synthea.expectMatches(
                client, Synthea.path("Patient", [("given", givenPrefix)]),
                expected { Synthea.startsWith(Synthea.strings($0, "name.given"), givenPrefix) })
            // `family` reaches every HumanName, not only the official one.
            try await Synthea.expectMatches(
                client, Synthea.path("Patient", [("family", maidenPrefix)]),
                expected { Synthea.startsWith(Synthea.strings($0, "name.family"), maidenPrefix) })
            // `name` matches any part: a given name and a family name.
            for value in [givenPrefix.lowercased(), maidenPrefix, familyInitial] {
                try await Synthea.expectMatches(
                    client, Synthea.path("Patient", [("name", value)]), expected { Synthea.startsWith(Synthea.nameParts($0), value) })
            }
            // A prefix is not a substring: the middle of a name finds nothing by default.
            let middle = String(try #require(Synthea.strings(keeling, "name.family").first).dropFirst(2).prefix(3))
            try await Synthea.expectMatches(
                client, Synthea.path("Patient", [("family", middle)]),
                expected { Synthea.startsWith(Synthea.strings($0, "name.family"), middle) }, allowEmpty: true)
            // The issue's example, "born before 1970 with a family name starting with …".
            let old = expected { patient in
                Synthea.startsWith(Synthea.strings(patient, "name.family"), familyInitial)
                    && (patient["birthDate"]?.stringValue ?? "9999") < "1970"
            }
            try await Synthea.expectMatches(client, Synthea.path("Patient", [("birthdate", "lt1970"), ("family", familyInitial)]), old)
            #expect(old.count < byFamily.count, "the AND must narrow the result")
            // Practitioners: "Sch".
            let practitioners = data.resources("Practitioner")
            try await Synthea.expectMatches(
                client, Synthea.path("Practitioner", [("name", "Sch")]),
                Synthea.references(practitioners.filter { Synthea.startsWith(Synthea.nameParts($0), "Sch") }))
        }
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func tokenParametersMatchSystemAndCode() async throws {
        let data = try Synthea.load()
        let observations = data.resources("Observation")
        let patients = data.patients
        let loinc = "http://loinc.org"
        let height = "8302-2"
        let weight = "29463-7"
        let keeling = try Self.patient(data, 0)
        // An Observation coded without a system, which only `|code` singles out.
        let systemless: JSONValue = [
            "resourceType": "Observation", "id": "height-without-system", "status": "final",
            "code": ["coding": [["code": .string(height)]], "text": "height, no system"],
            "subject": ["reference": .string("Patient/\(data.patientIDs[0])")],
            "valueQuantity": ["value": 180, "unit": "cm", "system": "http://unitsofmeasure.org", "code": "cm"],
        ]
        let all = observations + [systemless]
        @Sendable func expected(_ predicate: (JSONValue) -> Bool) -> Set<String> { Synthea.references(all.filter(predicate)) }

        try await TestApp.run { client in
            try await data.post(to: client)
            #expect(try await client.sendJSON(.put, "/fhir/Observation/height-without-system", systemless).status == .created)

            let withSystem = expected { Synthea.hasCoding($0, "code", system: loinc, code: height) }
            let anySystem = expected { Synthea.hasCoding($0, "code", system: nil, code: height) }
            try #require(anySystem.count == withSystem.count + 1)
            try await Synthea.expectMatches(client, Synthea.path("Observation", [("code", "\(loinc)|\(height)")]), withSystem)
            try await Synthea.expectMatches(client, Synthea.path("Observation", [("code", height)]), anySystem)
            try await Synthea.expectMatches(client, Synthea.path("Observation", [("code", "|\(height)")]), ["Observation/height-without-system"])
            // Comma is OR.
            try await Synthea.expectMatches(
                client, Synthea.path("Observation", [("code", "\(loinc)|\(height),\(loinc)|\(weight)")]),
                withSystem.union(expected { Synthea.hasCoding($0, "code", system: loinc, code: weight) }))
            // Category, a token on another element.
            try await Synthea.expectMatches(
                client, Synthea.path("Observation", [("category", "laboratory")]),
                expected { Synthea.hasCoding($0, "category", system: nil, code: "laboratory") })

            // Identifier with and without its system; a system alone.
            let ssn = try #require(Synthea.values(keeling, "identifier").first { $0["system"] == "http://hl7.org/fhir/sid/us-ssn" })
            let ssnValue = try #require(ssn["value"]?.stringValue)
            try await Synthea.expectMatches(
                client, Synthea.path("Patient", [("identifier", "http://hl7.org/fhir/sid/us-ssn|\(ssnValue)")]),
                ["Patient/\(data.patientIDs[0])"])
            try await Synthea.expectMatches(client, Synthea.path("Patient", [("identifier", ssnValue)]), ["Patient/\(data.patientIDs[0])"])
            try await Synthea.expectMatches(client, Synthea.path("Patient", [("identifier", "http://hl7.org/fhir/sid/us-ssn|999-00-0000")]), [], allowEmpty: true)
            let passport = "http://standardhealthrecord.org/fhir/StructureDefinition/passportNumber"
            try await Synthea.expectMatches(
                client, Synthea.path("Patient", [("identifier", "\(passport)|")]),
                Synthea.references(patients.filter { Synthea.values($0, "identifier").contains { $0["system"] == .string(passport) } }))

            // A code: gender; and OR over both values.
            for gender in ["female", "male", "female,male"] {
                let wanted = Set(gender.split(separator: ",").map(String.init))
                try await Synthea.expectMatches(
                    client, Synthea.path("Patient", [("gender", gender)]),
                    Synthea.references(patients.filter { wanted.contains($0["gender"]?.stringValue ?? "") }))
            }
            // _id and _tag, the common token parameters.
            try await Synthea.expectMatches(
                client, Synthea.path("Patient", [("_id", "\(data.patientIDs[1]),\(data.patientIDs[3])")]),
                ["Patient/\(data.patientIDs[1])", "Patient/\(data.patientIDs[3])"])
            try await Synthea.expectMatches(
                client, Synthea.path("Patient", [("_tag", "https://smarthealthit.org/tags|synthea-5-2019")]),
                Synthea.references(patients.filter { Synthea.values($0, "meta.tag").contains { $0["code"] == "synthea-5-2019" } }))
        }
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func datePrefixesAndPartialDatesFollowTheRangeRules() async throws {
        let data = try Synthea.load()
        let patients = data.patients
        let observations = data.resources("Observation")
        let encounters = data.resources("Encounter")

        // Birth dates: date against date, every prefix over year, month and day precision.
        let keelingBirth = try #require(try Self.patient(data, 0)["birthDate"]?.stringValue)
        let year = String(keelingBirth.prefix(4))
        let month = String(keelingBirth.prefix(7))
        var birthQueries: [(String, Set<String>)] = []
        for value in [year, month, keelingBirth] {
            let search = try #require(Synthea.dateRange(value))
            for prefix in ["", "eq", "ne", "gt", "lt", "ge", "le", "sa", "eb"] {
                let matching = patients.filter { patient in
                    guard let birth = patient["birthDate"]?.stringValue, let target = Synthea.dateRange(birth) else { return false }
                    return search.matches(prefix.isEmpty ? "eq" : prefix, target: target)
                }
                birthQueries.append(("\(prefix)\(value)", Synthea.references(matching)))
            }
        }

        // Observation dates (instants with zones): a day with observations whose neighbours
        // (14 h either side) have none, so the zone a server assumes for the search value cannot matter.
        let effective = observations.compactMap { obs in
            obs["effectiveDateTime"]?.stringValue.flatMap(Synthea.dateRange).map { (Synthea.reference(of: obs), $0) }
        }
        let ranges = effective.map { $0.1 }.sorted { $0.low < $1.low }
        let middle = ranges[ranges.count / 2].low
        var day: String?
        var candidate = floor(middle / 86_400) * 86_400
        for _ in 0..<3_000 {
            let inside = ranges.contains { $0.low >= candidate && $0.high <= candidate + 86_400 }
            let nearby = ranges.contains { r in
                (r.high > candidate - 14 * 3600 && r.low < candidate) || (r.high > candidate + 86_400 && r.low < candidate + 86_400 + 14 * 3600)
            }
            if inside && !nearby { day = Synthea.day(candidate); break }
            candidate += 86_400
        }
        let observationDay = try #require(day, "no isolated day with observations")
        var observationQueries: [(String, Set<String>)] = []
        let daySearch = try #require(Synthea.dateRange(observationDay))
        for prefix in ["eq", "ne", "gt", "lt", "ge", "le", "sa", "eb"] {
            observationQueries.append((
                "\(prefix)\(observationDay)",
                Set(effective.filter { daySearch.matches(prefix, target: $0.1) }.map { $0.0 })))
        }
        // Full precision with a zone: an observation's own instant.
        let instantText = try #require(observations.compactMap { $0["effectiveDateTime"]?.stringValue }.sorted()[observations.count / 3])
        let instant = try #require(Synthea.dateRange(instantText))
        for prefix in ["eq", "gt", "le"] {
            observationQueries.append(("\(prefix)\(instantText)", Set(effective.filter { instant.matches(prefix, target: $0.1) }.map { $0.0 })))
        }

        // Encounter periods: a quiet day (no period within 14 h of it) splits them.
        let periods = encounters.compactMap { enc in enc["period"].flatMap(Synthea.periodRange).map { (Synthea.reference(of: enc), $0) } }
        let sortedPeriods = periods.map { $0.1 }.sorted { $0.low < $1.low }
        let quiet = Synthea.quietDay(from: sortedPeriods[sortedPeriods.count / 2].low, avoiding: sortedPeriods)
        let quietRange = try #require(Synthea.dateRange(quiet))
        var encounterQueries: [(String, Set<String>)] = []
        for prefix in ["gt", "lt", "ge", "le", "sa", "eb", "ne"] {
            encounterQueries.append(("\(prefix)\(quiet)", Set(periods.filter { quietRange.matches(prefix, target: $0.1) }.map { $0.0 })))
        }

        let (births, observationChecks, encounterChecks) = (birthQueries, observationQueries, encounterQueries)
        try await TestApp.run { client in
            try await data.post(to: client)
            for (value, expected) in births {
                try await Synthea.expectMatches(client, Synthea.path("Patient", [("birthdate", value)]), expected)
            }
            for (value, expected) in observationChecks {
                try await Synthea.expectMatches(client, Synthea.path("Observation", [("date", value)]), expected)
            }
            for (value, expected) in encounterChecks {
                try await Synthea.expectMatches(client, Synthea.path("Encounter", [("date", value)]), expected)
            }
            // Repetition is AND: a two-sided range.
            let from = try #require(Synthea.dateRange(String(instantText.prefix(4))))
            let between = effective.filter { from.matches("ge", target: $0.1) && instant.matches("lt", target: $0.1) }
            try await Synthea.expectMatches(
                client, Synthea.path("Observation", [("date", "ge\(instantText.prefix(4))"), ("date", "lt\(instantText)")]), Set(between.map { $0.0 }))

            // _lastUpdated: everything was written just now; days two away are clear of any zone a server assumes.
            let yesterday = Synthea.day(Date().timeIntervalSince1970, plusDays: -2)
            let tomorrow = Synthea.day(Date().timeIntervalSince1970, plusDays: 2)
            try await Synthea.expectMatches(client, Synthea.path("Patient", [("_lastUpdated", "gt\(yesterday)")]), Synthea.references(patients))
            try await Synthea.expectMatches(client, Synthea.path("Patient", [("_lastUpdated", "lt\(yesterday)")]), [], allowEmpty: true)
            try await Synthea.expectMatches(client, Synthea.path("Patient", [("_lastUpdated", "ge\(tomorrow)")]), [], allowEmpty: true)
            // ap: the server chooses the width, but the same day is in and decades away are out.
            let approximate = try await Synthea.search(client, Synthea.path("Patient", [("birthdate", "ap\(keelingBirth)")]))
            let birthYear = Int(year) ?? 0
            let sameDay = Synthea.references(patients.filter { $0["birthDate"]?.stringValue == keelingBirth })
            let farAway = Synthea.references(patients.filter { abs((Int($0["birthDate"]?.stringValue?.prefix(4) ?? "0") ?? 0) - birthYear) >= 12 })
            try #require(!farAway.isEmpty)
            #expect(sameDay.isSubset(of: approximate.matchSet))
            #expect(farAway.isDisjoint(with: approximate.matchSet), "ap\(keelingBirth) reached patients born 12+ years away")
        }
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func referenceParametersAcceptTypedAndPlainIDs() async throws {
        let data = try Synthea.load()
        let observations = data.resources("Observation")
        let encounters = data.resources("Encounter")
        let requests = data.resources("MedicationRequest")
        let patientID = data.patientIDs[2]
        let ofPatient = Synthea.references(observations.filter { Synthea.referenceTargets($0, "subject").contains("Patient/\(patientID)") })
        let encounter = try #require(encounters.filter { Synthea.referenceTargets($0, "subject").contains("Patient/\(patientID)") }
            .map(Synthea.reference(of:)).sorted().first { encounter in observations.contains { Synthea.referenceTargets($0, "encounter").contains(encounter) } })
        let ofEncounter = Synthea.references(observations.filter { Synthea.referenceTargets($0, "encounter").contains(encounter) })
        let practitioner = try #require(data.resources("Practitioner").map(Synthea.reference(of:)).sorted().first)
        let practitionerID = String(practitioner.dropFirst("Practitioner/".count))

        try await TestApp.run { client in
            try await data.post(to: client)
            for (name, value) in [
                ("subject", "Patient/\(patientID)"), ("subject", patientID), ("subject:Patient", patientID),
                ("patient", patientID), ("patient", "Patient/\(patientID)"),
            ] {
                try await Synthea.expectMatches(client, Synthea.path("Observation", [(name, value)]), ofPatient)
            }
            // A type modifier that names another type finds nothing.
            try await Synthea.expectMatches(client, Synthea.path("Observation", [("subject:Group", patientID)]), [], allowEmpty: true)
            try await Synthea.expectMatches(client, Synthea.path("Observation", [("encounter", encounter)]), ofEncounter)
            // Encounter.participant.individual and MedicationRequest.requester point at Practitioners.
            try await Synthea.expectMatches(
                client, Synthea.path("Encounter", [("practitioner", practitionerID)]),
                Synthea.references(encounters.filter { Synthea.referenceTargets($0, "participant.individual").contains(practitioner) }))
            try await Synthea.expectMatches(
                client, Synthea.path("Encounter", [("participant", practitioner)]),
                Synthea.references(encounters.filter { Synthea.referenceTargets($0, "participant.individual").contains(practitioner) }))
            let requester = try #require(requests.flatMap { Synthea.referenceTargets($0, "requester") }.sorted().first)
            let requested = Synthea.references(requests.filter { Synthea.referenceTargets($0, "requester").contains(requester) })
            try await Synthea.expectMatches(client, Synthea.path("MedicationRequest", [("requester", requester)]), requested)
            // OR over two patients.
            let other = data.patientIDs[4]
            try await Synthea.expectMatches(
                client, Synthea.path("Observation", [("patient", "\(patientID),\(other)")]),
                Synthea.references(observations.filter {
                    let subject = Synthea.referenceTargets($0, "subject")
                    return subject.contains("Patient/\(patientID)") || subject.contains("Patient/\(other)")
                }))
        }
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func quantityAndNumberParametersCompareValuesAndUnits() async throws {
        let data = try Synthea.load()
        let observations = data.resources("Observation")
        let ucum = "http://unitsofmeasure.org"
        let quantities: [(String, Decimal, String?, String?, String?)] = observations.compactMap { obs in
            guard let quantity = obs["valueQuantity"], let value = Synthea.decimal(quantity["value"]) else { return nil }
            return (Synthea.reference(of: obs), value, quantity["system"]?.stringValue, quantity["code"]?.stringValue, quantity["unit"]?.stringValue)
        }
        let values = Set(quantities.map { $0.1 })
        // A threshold of 100 must not coincide with a stored value, or gt/ge would differ only by it.
        try #require(!values.contains(100))
        @Sendable func expected(_ predicate: ((String, Decimal, String?, String?, String?)) -> Bool) -> Set<String> {
            Set(quantities.filter(predicate).map { $0.0 })
        }
        // An mmol/L value from the data, searched at its own precision.
        // The median mmol/L value, so that values lie on both sides of it.
        let mmolQuantities = observations.compactMap { $0["valueQuantity"] }.filter { $0["code"] == "mmol/L" }
            .sorted { (Synthea.decimal($0["value"]) ?? 0) < (Synthea.decimal($1["value"]) ?? 0) }
        try #require(mmolQuantities.count >= 3)
        let mmol = mmolQuantities[mmolQuantities.count / 2]
        let mmolValue = try #require(mmol["value"]?.numberLexical)
        // Rounded to one decimal: "5.4" stands for [5.35, 5.45).
        let mmolLexical = String(format: "%.1f", Double(mmolValue) ?? 0)
        let window = try #require(Synthea.implicitRange(mmolLexical))
        try #require(!values.contains(window.low) && !values.contains(window.high))
        let components: [(String, Decimal)] = observations.flatMap { obs in
            Synthea.values(obs, "component").compactMap { component in
                Synthea.decimal(component["valueQuantity"]?["value"]).map { (Synthea.reference(of: obs), $0) }
            }
        }

        // RiskAssessment.prediction.probability, the R4 number parameter, on resources made here.
        let probabilities = ["0.1", "0.25", "0.5", "0.75", "0.9"]
        let assessments: [JSONValue] = probabilities.enumerated().map { index, probability in
            [
                "resourceType": "RiskAssessment", "id": .string("risk-\(index)"), "status": "final",
                "subject": ["reference": .string("Patient/\(data.patientIDs[0])")],
                "prediction": [["probabilityDecimal": .number(probability)]],
            ]
        }
        @Sendable func risks(_ predicate: (Decimal) -> Bool) -> Set<String> {
            Set(assessments.filter { Synthea.decimal($0["prediction"]?[0]?["probabilityDecimal"]).map(predicate) ?? false }
                .map(Synthea.reference(of:)))
        }

        try await TestApp.run { client in
            try await data.post(to: client)
            for assessment in assessments {
                #expect(try await client.sendJSON(.put, "/fhir/RiskAssessment/\(assessment["id"]?.stringValue ?? "")", assessment).status == .created)
            }
            try await Synthea.expectMatches(client, Synthea.path("Observation", [("value-quantity", "gt100")]), expected { $0.1 > 100 })
            try await Synthea.expectMatches(client, Synthea.path("Observation", [("value-quantity", "lt100")]), expected { $0.1 < 100 })
            try await Synthea.expectMatches(client, Synthea.path("Observation", [("value-quantity", "ge100")]), expected { $0.1 >= 100 })
            try await Synthea.expectMatches(
                client, Synthea.path("Observation", [("value-quantity", "lt\(mmolLexical)|\(ucum)|mmol/L")]),
                expected { $0.1 < (Synthea.decimal(.number(mmolLexical)) ?? 0) && $0.2 == ucum && $0.3 == "mmol/L" })
            // eq by precision: 5.4 is [5.35, 5.45).
            let inWindow = expected { $0.1 >= window.low && $0.1 < window.high && $0.2 == ucum && $0.3 == "mmol/L" }
            try await Synthea.expectMatches(client, Synthea.path("Observation", [("value-quantity", "\(mmolLexical)|\(ucum)|mmol/L")]), inWindow)
            try await Synthea.expectMatches(client, Synthea.path("Observation", [("value-quantity", "eq\(mmolLexical)|\(ucum)|mmol/L")]), inWindow)
            // ap: everything within the precision window is in; values twice as large or half as small are out.
            let approximate = try await Synthea.search(client, Synthea.path("Observation", [("value-quantity", "ap\(mmolLexical)|\(ucum)|mmol/L")]))
            let center = Synthea.decimal(.number(mmolLexical)) ?? 0
            #expect(inWindow.isSubset(of: approximate.matchSet))
            #expect(approximate.matchSet.isDisjoint(with: expected { $0.3 == "mmol/L" && ($0.1 > center * 2 || $0.1 * 2 < center) }))
            // Full precision: lt and gt split at an exact stored value.
            let exact = Synthea.decimal(.number(mmolValue)) ?? 0
            try await Synthea.expectMatches(
                client, Synthea.path("Observation", [("value-quantity", "gt\(mmolValue)|\(ucum)|mmol/L")]),
                expected { $0.1 > exact && $0.2 == ucum && $0.3 == "mmol/L" })
            try await Synthea.expectMatches(
                client, Synthea.path("Observation", [("value-quantity", "le\(mmolValue)|\(ucum)|mmol/L")]),
                expected { $0.1 <= exact && $0.2 == ucum && $0.3 == "mmol/L" })
            // `||code` matches the code or the unit, whatever the system.
            try await Synthea.expectMatches(
                client, Synthea.path("Observation", [("value-quantity", "\(mmolLexical)||mmol/L")]),
                expected { $0.1 >= window.low && $0.1 < window.high && ($0.3 == "mmol/L" || $0.4 == "mmol/L") })
            // A unit that does not match finds nothing.
            try await Synthea.expectMatches(
                client, Synthea.path("Observation", [("value-quantity", "\(mmolLexical)|\(ucum)|mg/dL")]),
                expected { $0.1 >= window.low && $0.1 < window.high && $0.3 == "mg/dL" }, allowEmpty: true)
            // Components (the blood pressure panels).
            try await Synthea.expectMatches(
                client, Synthea.path("Observation", [("component-value-quantity", "gt120")]), Set(components.filter { $0.1 > 120 }.map { $0.0 }))

            // Numbers.
            try await Synthea.expectMatches(client, Synthea.path("RiskAssessment", [("probability", "gt0.5")]), risks { $0 > Decimal(string: "0.5")! })
            try await Synthea.expectMatches(client, Synthea.path("RiskAssessment", [("probability", "le0.5")]), risks { $0 <= Decimal(string: "0.5")! })
            try await Synthea.expectMatches(client, Synthea.path("RiskAssessment", [("probability", "0.25")]), risks { $0 == Decimal(string: "0.25")! })
            try await Synthea.expectMatches(
                client, Synthea.path("RiskAssessment", [("probability", "ne0.25")]), risks { $0 != Decimal(string: "0.25")! })
            // 0.3 at one decimal is [0.25, 0.35): holds 0.25.
            try await Synthea.expectMatches(client, Synthea.path("RiskAssessment", [("probability", "0.3")]), risks { $0 == Decimal(string: "0.25")! })
            try await Synthea.expectMatches(
                client, Synthea.path("RiskAssessment", [("probability", "0.1,0.9")]),
                risks { $0 == Decimal(string: "0.1")! || $0 == Decimal(string: "0.9")! })
        }
    }

    @Test
    func uriParametersMatchWholeValuesAndBelowAbove() async throws {
        let urls = [
            "http://example.org/fhir/ValueSet/vitals",
            "http://example.org/fhir/ValueSet/vitals/adult",
            "http://example.org/fhir/ValueSet/labs",
            "http://other.example.com/fhir/ValueSet/vitals",
        ]
        let valueSets: [JSONValue] = urls.enumerated().map { index, url in
            ["resourceType": "ValueSet", "id": .string("vs-\(index)"), "status": "active", "url": .string(url)]
        }
        @Sendable func expected(_ predicate: (String) -> Bool) -> Set<String> {
            Set(urls.enumerated().filter { predicate($0.element) }.map { "ValueSet/vs-\($0.offset)" })
        }
        let profile = "http://example.org/fhir/StructureDefinition/test-patient"
        try await TestApp.run { client in
            for valueSet in valueSets {
                #expect(try await client.sendJSON(.put, "/fhir/ValueSet/\(valueSet["id"]?.stringValue ?? "")", valueSet).status == .created)
            }
            let profiled: JSONValue = ["resourceType": "Patient", "id": "profiled", "meta": ["profile": .array([.string(profile)])], "gender": "other"]
            #expect(try await client.sendJSON(.put, "/fhir/Patient/profiled", profiled).status == .created)
            #expect(try await client.sendJSON(.put, "/fhir/Patient/plain", ["resourceType": "Patient", "id": "plain", "gender": "other"]).status == .created)

            try await Synthea.expectMatches(client, Synthea.path("ValueSet", [("url", urls[0])]), expected { $0 == urls[0] })
            // A uri is matched whole by default, not as a prefix.
            try await Synthea.expectMatches(client, Synthea.path("ValueSet", [("url", "http://example.org/fhir/ValueSet")]), [], allowEmpty: true)
            try await Synthea.expectMatches(
                client, Synthea.path("ValueSet", [("url:below", "http://example.org/fhir/ValueSet/vitals")]),
                expected { $0.hasPrefix("http://example.org/fhir/ValueSet/vitals") })
            try await Synthea.expectMatches(
                client, Synthea.path("ValueSet", [("url:below", "http://example.org/fhir")]), expected { $0.hasPrefix("http://example.org/fhir") })
            try await Synthea.expectMatches(
                client, Synthea.path("ValueSet", [("url:above", "http://example.org/fhir/ValueSet/vitals/adult/2024")]),
                expected { "http://example.org/fhir/ValueSet/vitals/adult/2024".hasPrefix($0) })
            try await Synthea.expectMatches(client, Synthea.path("Patient", [("_profile", profile)]), ["Patient/profiled"])
        }
    }
}

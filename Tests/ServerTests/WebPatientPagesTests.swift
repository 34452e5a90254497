import FHIRModels
import FixtureSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import Server

/// The patient's pages on the real app and database: the chart of an imported Synthea patient
/// (names, conditions, allergies, medications, results and their charts, the timeline, paging),
/// appointments, prescriptions and bills, who accessed the record (a doctor's read and a
/// break-glass read with its reason), another patient getting nothing, and user text escaped.
@Suite struct WebPatientPagesTests {
    /// A Synthea patient with allergies, active conditions and medications, and 102 observations.
    static let fixture = "Reyna_Ziemann_08f8bfce-34cf-4b5a-a398-8e49650c6e3c.json"

    /// A patient account whose Patient resource is the Synthea patient of `file`, imported with its whole bundle.
    static func importedPatient(
        _ client: any TestClientProtocol, _ security: SecurityServices, email: String, file: String = fixture
    ) async throws -> (session: Accounts.Session, data: SyntheaSearchData) {
        let session = try await Accounts(client: client, security: security).patient(email)
        let data = try SyntheaSearchData.load([file], patientIDs: [session.resourceID])
        try await data.post(to: client)
        return (session, data)
    }

    /// Occurrences of `needle` in `text`.
    static func count(_ needle: String, in text: String) -> Int {
        text.components(separatedBy: needle).count - 1
    }

    /// The href of the link whose text is `label`.
    static func link(_ label: String, in html: String) -> String? {
        guard let end = html.range(of: "\">\(label)</a>") else { return nil }
        let before = html[..<end.lowerBound]
        guard let start = before.range(of: "href=\"", options: .backwards) else { return nil }
        return String(before[start.upperBound...]).replacingOccurrences(of: "&amp;", with: "&")
    }

    static func observations(_ data: SyntheaSearchData, categories: Set<String>) -> [JSONValue] {
        data.resources("Observation").filter { observation in
            SyntheaSearchData.strings(observation, "category.coding.code").contains { categories.contains($0) }
        }
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func aPatientSeesTheirImportedChartAndRecords() async throws {
        try await TestApp.runSecured { client, _, security in
            let (_, data) = try await Self.importedPatient(client, security, email: "reyna@web.example")
            let browser = WebBrowser(client)
            let home = try await browser.signIn("reyna@web.example")
            #expect(home.status == .ok)
            // Summary: the Synthea name, an active condition, an allergy, a current medication.
            #expect(home.text.contains("<h1>My summary</h1>"))
            #expect(home.text.contains("Reyna Ziemann"))
            #expect(home.text.contains("28 Feb 1974"))
            #expect(home.text.contains("Hypertension"))
            #expect(home.text.contains("Allergy to peanuts"))
            #expect(home.text.contains("Hydrochlorothiazide 25 MG"))
            // Resolved conditions are not "active conditions".
            #expect(!home.text.contains("Viral sinusitis (disorder)"))

            let records = try await browser.get("/app/patient/records")
            #expect(records.status == .ok)
            // The newest body weight from the fixture, rounded for people, with its unit.
            let weights = data.resources("Observation").filter { SyntheaSearchData.hasCoding($0, "code", system: "http://loinc.org", code: "29463-7") }
            let newest = try #require(weights.max { ($0["effectiveDateTime"]?.stringValue ?? "") < ($1["effectiveDateTime"]?.stringValue ?? "") })
            let shown = try #require(WebPatientChart.quantity(newest["valueQuantity"]))
            #expect(shown.hasSuffix(" kg"))
            #expect(records.text.contains(shown), "\(shown) on the records page")
            // A chart drawn on the server, with an accessible name, and its values in a table.
            #expect(records.text.contains(#"<svg class="chart""#))
            #expect(records.text.contains(#"role="img" aria-labelledby="chart-0-title""#))
            #expect(records.text.contains(#"<title id="chart-0-title">Body weight (kg): "#))
            #expect(records.text.contains("Body weight: the "))
            // An encounter of the fixture on the timeline.
            #expect(records.text.contains("Visits and notes"))
            #expect(records.text.contains("General examination of patient (procedure)") || records.text.contains("Encounter for"))

            // Paging: every lab result and vital sign once, over the results pages.
            let expectedResults = Self.observations(data, categories: ["laboratory", "vital-signs"]).count
            try #require(expectedResults > WebPatientChart.pageSize, "the fixture needs more than one page")
            var next: String? = "/app/patient/records/results"
            var rows = 0
            var pages = 0
            while let path = next {
                let page = try await browser.get(path)
                try #require(page.status == .ok, "\(path): \(page.status)")
                rows += Self.count("<td><time datetime=", in: page.text)
                next = Self.link("Older results", in: page.text)
                pages += 1
                try #require(pages < 20)
            }
            #expect(rows == expectedResults)
            #expect(pages == (expectedResults + WebPatientChart.pageSize - 1) / WebPatientChart.pageSize)
            // The timeline's pages hold every encounter once.
            let encounters = data.resources("Encounter").count
            next = "/app/patient/records/timeline"
            var entries = 0
            pages = 0
            while let path = next {
                let page = try await browser.get(path)
                try #require(page.status == .ok, "\(path): \(page.status)")
                entries += Self.count("<li>\n      <time datetime=", in: page.text)
                next = Self.link("Older visits and notes", in: page.text)
                pages += 1
                try #require(pages < 20)
            }
            #expect(entries == encounters)
            // A cursor that is not one is a 400 page, not a crash.
            let bad = try await browser.get("/app/patient/records/results?cursor=forged")
            #expect(bad.status == .badRequest)
        }
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func theRecordsPagesOfALongHistoryAnswerAndPage() async throws {
        try await TestApp.runSecured { client, _, security in
            // The fixture patient with the most observations, plus 900 more values (dated
            // earlier), so the page has a long history to page through.
            let (session, data) = try await Self.importedPatient(client, security, email: "long@web.example")
            let originals = Self.observations(data, categories: ["laboratory", "vital-signs"])
            for batch in 0..<9 {
                var entries: [JSONValue] = []
                for (index, observation) in originals.prefix(100).enumerated() {
                    var copy = observation.objectValue ?? [:]
                    copy["id"] = nil
                    if let date = observation["effectiveDateTime"]?.stringValue, let year = Int(date.prefix(4)) {
                        copy["effectiveDateTime"] = .string(String(year - 10 * (batch + 1)) + date.dropFirst(4))
                    }
                    copy["subject"] = .object(["reference": .string("Patient/\(session.resourceID)")])
                    copy["encounter"] = nil
                    entries.append(.object([
                        "fullUrl": .string("urn:uuid:\(UUID().uuidString.lowercased())"), "resource": .object(copy),
                        "request": .object(["method": "POST", "url": "Observation"]),
                    ]))
                    _ = index
                }
                let posted = try await client.sendJSON(.post, "/fhir", .object(["resourceType": "Bundle", "type": "transaction", "entry": .array(entries)]))
                try #require(posted.status == .ok, "\(posted.text.prefix(300))")
            }
            let browser = WebBrowser(client)
            try await browser.signIn("long@web.example")
            let second = try await browser.get("/app/patient/records/results")
            let cursorPath = try #require(Self.link("Older results", in: second.text))
            for path in ["/app/patient/records", "/app/patient/records/timeline", "/app/patient/records/results", cursorPath, "/app/patient"] {
                var times: [Double] = []
                for _ in 0..<12 {
                    let start = ContinuousClock.now
                    let page = try await browser.get(path)
                    let elapsed = ContinuousClock.now - start
                    try #require(page.status == .ok)
                    times.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)
                }
                let warm = times.dropFirst(2).sorted()
                let median = warm[warm.count / 2]
                print("web-patient: \(path.prefix(40)) for a patient with \(originals.count + 900) results: median \(String(format: "%.1f", median)) ms, min \(String(format: "%.1f", warm.first!)) ms, max \(String(format: "%.1f", warm.last!)) ms (in-process, debug build, 10 warm requests)")
            }
        }
    }

    @Test func anotherPatientCannotCancelAnAppointmentOrSeeIt() async throws {
        try await TestApp.runSecured { client, _, security in
            let accounts = Accounts(client: client, security: security)
            let alice = try await accounts.patient("alice@web.example", first: "Alice", last: "Ames")
            _ = try await accounts.patient("bob@web.example", first: "Bob", last: "Burns")
            let admin = try await accounts.admin("admin@web.example")
            let doctor = try await accounts.doctor("house@web.example", approvedBy: admin)
            // An appointment for Alice, made by the system (as a practice would).
            let created = try await Platform.call(client, .post, "/appointments", body: .object([
                "patientId": .string(alice.resourceID), "doctorId": .string(doctor.resourceID),
                "dateTime": "2099-03-01T09:30:00Z", "reasonForVisit": "<script>alert(1)</script> check-up", "status": "scheduled",
            ]))
            try #require(created.status == .created, "\(created.text)")
            let appointmentID = try #require(try created.json["id"]?.stringValue)

            let aliceBrowser = WebBrowser(client)
            try await aliceBrowser.signIn("alice@web.example")
            let mine = try await aliceBrowser.get("/app/patient/appointments")
            #expect(mine.status == .ok)
            #expect(mine.text.contains("1 Mar 2099, 09:30 UTC"))
            #expect(mine.text.contains("&lt;script&gt;alert(1)&lt;/script&gt; check-up"))
            #expect(!mine.text.contains("<script>alert(1)"))
            #expect(mine.text.contains("/app/patient/appointments/\(appointmentID)/cancel"))

            // Bob does not see it, and cancelling it by its id is refused and changes nothing.
            let bobBrowser = WebBrowser(client)
            try await bobBrowser.signIn("bob@web.example")
            let his = try await bobBrowser.get("/app/patient/appointments")
            #expect(his.status == .ok)
            #expect(!his.text.contains("check-up"))
            #expect(his.text.contains("No upcoming appointments."))
            let refused = try await bobBrowser.submit(
                "/app/patient/appointments", to: "/app/patient/appointments/\(appointmentID)/cancel", [])
            #expect(refused.status == .notFound || refused.status == .forbidden, "\(refused.status)")
            #expect(refused.text.contains("Not found") || refused.text.contains("Not permitted"))
            #expect(!refused.text.contains("check-up"))
            let stored = try await Platform.call(client, .get, "/appointments/\(appointmentID)")
            #expect(try stored.json["status"]?.stringValue == "scheduled")
            // A hand-made id is the same 404 page.
            let unknown = try await bobBrowser.submit("/app/patient/appointments", to: "/app/patient/appointments/no-such-id/cancel", [])
            #expect(unknown.status == .notFound || unknown.status == .forbidden)
            // Other roles do not get the patient's pages.
            let doctorBrowser = WebBrowser(client)
            try await doctorBrowser.signIn("house@web.example")
            #expect(try await doctorBrowser.get("/app/patient").status == .forbidden)
        }
    }

    /// Needs the access-rules change (patients may list the doctor directory, book and cancel
    /// their own appointments); it fails on a branch without it.
    @Test func aPatientBooksAndCancelsTheirOwnAppointment() async throws {
        try await TestApp.runSecured { client, _, security in
            let accounts = Accounts(client: client, security: security)
            let alice = try await accounts.patient("book@web.example", first: "Alice", last: "Ames")
            let admin = try await accounts.admin("admin2@web.example")
            let doctor = try await accounts.doctor("house2@web.example", approvedBy: admin)
            let browser = WebBrowser(client)
            try await browser.signIn("book@web.example")
            let page = try await browser.get("/app/patient/appointments")
            #expect(page.text.contains(#"<option value="\#(doctor.resourceID)">Dr. Greg House"#), "the directory lists the doctor")
            // Invalid: a time in the past, no doctor: 422 with the problems next to the fields.
            let invalid = try await browser.submit("/app/patient/appointments", [("doctorId", ""), ("dateTime", "2001-01-01T10:00"), ("reason", "x")])
            #expect(invalid.status == .unprocessableContent)
            #expect(invalid.text.contains(#"id="dateTime-error""#))
            #expect(invalid.text.contains(#"id="doctorId-error""#))
            // The doctor has no working hours yet: the schedule has no slot, said next to the time.
            let noSlot = try await browser.submit(
                "/app/patient/appointments", [("doctorId", doctor.resourceID), ("dateTime", "2099-05-04T10:15"), ("reason", "Knee pain")])
            #expect(noSlot.status == .conflict)
            #expect(noSlot.text.contains(#"id="dateTime-error""#))
            let schedule = try await Platform.call(client, .put, "/doctors/\(doctor.resourceID)", body: [
                "firstName": "Greg", "lastName": "House", "specialization": "Diagnostics",
                "workSchedule": [["daysOfWeek": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "startTime": "08:00", "endTime": "18:00"]],
            ])
            try #require(schedule.status == .ok, "\(schedule.text)")
            let booked = try await browser.submit(
                "/app/patient/appointments", [("doctorId", doctor.resourceID), ("dateTime", "2099-05-04T10:15"), ("reason", "Knee pain")])
            #expect(booked.status == .seeOther, "\(booked.status): \(booked.text.prefix(300))")
            let list = try await Platform.call(client, .get, "/appointments?patientId=\(alice.resourceID)")
            let items = try list.json["items"]?.arrayValue ?? []
            #expect(items.count == 1)
            #expect(items.first?["dateTime"]?.stringValue == "2099-05-04T10:15:00Z")
            #expect(items.first?["doctorId"]?.stringValue == doctor.resourceID)
            let id = try #require(items.first?["id"]?.stringValue)
            let shown = try await browser.get("/app/patient/appointments?done=booked")
            #expect(shown.text.contains("Your appointment is booked."))
            #expect(shown.text.contains("4 May 2099, 10:15 UTC"))
            let canceled = try await browser.submit("/app/patient/appointments", to: "/app/patient/appointments/\(id)/cancel", [])
            #expect(canceled.status == .seeOther)
            let stored = try await Platform.call(client, .get, "/appointments/\(id)")
            #expect(try stored.json["status"]?.stringValue == "canceled")
        }
    }

    @Test func theAccessPageListsADoctorsReadAndABreakGlassReadWithItsReason() async throws {
        try await TestApp.runSecured { client, _, security in
            let accounts = Accounts(client: client, security: security)
            let patient = try await accounts.patient("watched@web.example", first: "Wanda", last: "Watched")
            let admin = try await accounts.admin("admin3@web.example")
            let carer = try await accounts.doctor("carer@web.example", approvedBy: admin)
            let stranger = try await accounts.doctor("stranger@web.example", approvedBy: admin)
            // A visit gives the first doctor a care relationship.
            let visit = try await Platform.call(client, .post, "/appointments", body: .object([
                "patientId": .string(patient.resourceID), "doctorId": .string(carer.resourceID),
                "dateTime": "2099-01-01T09:00:00Z", "status": "scheduled",
            ]))
            try #require(visit.status == .created, "\(visit.text)")
            let read = try await client.send(.get, "/fhir/Patient/\(patient.resourceID)", headers: carer.headers)
            #expect(read.status == .ok)
            // The other doctor has none: a read without a reason is refused, with one it is break-glass.
            let denied = try await client.send(.get, "/fhir/Patient/\(patient.resourceID)", headers: stranger.headers)
            #expect(denied.status == .notFound)
            var glass = stranger.headers
            glass[.breakGlass] = "<script>alert(1)</script> unconscious in ED"
            let broken = try await client.send(.get, "/fhir/Patient/\(patient.resourceID)", headers: glass)
            #expect(broken.status == .ok)

            let browser = WebBrowser(client)
            try await browser.signIn("watched@web.example")
            let page = try await browser.get("/app/patient/access")
            #expect(page.status == .ok)
            #expect(page.text.contains("<h1>Who accessed my record</h1>"))
            #expect(page.text.contains("Viewed personal details"))
            #expect(page.text.contains("Treatment"))
            #expect(page.text.contains(#"<span class="badge break-glass">Break-glass</span>"#))
            #expect(page.text.contains("Reason given: &lt;script&gt;alert(1)&lt;/script&gt; unconscious in ED"))
            #expect(!page.text.contains("<script>alert(1)"))
            #expect(page.text.contains("Refused"))
            // The doctor is named (or, where the directory is closed to patients, "A doctor" with the id).
            #expect(page.text.contains("Dr. Greg House") || page.text.contains("A doctor (\(stranger.resourceID))"))
        }
    }

    @Test func userTextIsEscapedAndEmptyPagesSaySo() async throws {
        try await TestApp.runSecured { client, _, security in
            let accounts = Accounts(client: client, security: security)
            _ = try await accounts.patient("xss@web.example", first: "<script>alert(1)</script>", last: "O'Hara")
            let browser = WebBrowser(client)
            let home = try await browser.signIn("xss@web.example")
            #expect(home.status == .ok)
            #expect(home.text.contains("&lt;script&gt;alert(1)&lt;/script&gt; O&#39;Hara") || home.text.contains("&lt;script&gt;alert(1)&lt;/script&gt; O&#x27;Hara"),
                    "\(home.text.components(separatedBy: "Name</dt>").dropFirst().first?.prefix(120) ?? "")")
            #expect(!home.text.contains("<script>alert(1)"))
            #expect(home.text.contains("No allergies recorded."))
            #expect(home.text.contains("No active conditions recorded."))
            #expect(home.text.contains("No insurance recorded."))
            let records = try await browser.get("/app/patient/records")
            #expect(records.text.contains("No visits or notes yet."))
            #expect(records.text.contains("No lab results or vital signs yet."))
            #expect(try await browser.get("/app/patient/prescriptions").text.contains("No prescriptions yet."))
            #expect(try await browser.get("/app/patient/bills").text.contains("No bills yet."))
            let access = try await browser.get("/app/patient/access")
            #expect(access.status == .ok)
            #expect(access.text.contains("You"))
        }
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func prescriptionsAndBillsOfAnImportedPatient() async throws {
        try await TestApp.runSecured { client, _, security in
            let (_, data) = try await Self.importedPatient(client, security, email: "bills@web.example")
            let browser = WebBrowser(client)
            try await browser.signIn("bills@web.example")
            let prescriptions = try await browser.get("/app/patient/prescriptions")
            #expect(prescriptions.status == .ok)
            #expect(prescriptions.text.contains("Hydrochlorothiazide 25 MG"))
            #expect(Self.count("<tr><td>", in: prescriptions.text) == data.resources("MedicationRequest").count)
            let bills = try await browser.get("/app/patient/bills")
            #expect(bills.status == .ok)
            let claims = data.resources("Claim")
            #expect(Self.count("<tr><td>", in: bills.text) == min(claims.count, WebPatientPages.pageSize))
            let total = try #require(claims.first?["total"]?["value"]?.numberLexical)
            #expect(bills.text.contains(total), "a bill's amount (\(total))")
        }
    }
}

import FHIRModels
import FixtureSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import Testing
@testable import Server

/// The doctor's pages on the real app and database: my patients (care relationships only), the
/// patient index search, the chart with break-glass, writing an entry, prescribing, scheduling,
/// rescheduling and cancelling, the schedule; what the doctor sees, what is stored (read back
/// through the platform API) and what is audited; other users editing URLs get nothing.
@Suite struct WebDoctorPagesTests {
    struct World {
        let accounts: Accounts
        let admin: Accounts.Session
        let doctor: Accounts.Session
        /// Treated by the doctor (an Encounter lists them).
        let alice: Accounts.Session
        /// No care relationship with the doctor.
        let bob: Accounts.Session
        let browser: WebBrowser
    }

    static func world(_ client: any TestClientProtocol, _ security: SecurityServices) async throws -> World {
        let accounts = Accounts(client: client, security: security)
        let admin = try await accounts.admin("admin@doctor.example")
        let doctor = try await accounts.doctor("house@doctor.example", approvedBy: admin)
        let alice = try await accounts.patient("alice@doctor.example", first: "Alice", last: "Treated")
        let bob = try await accounts.patient("bob@doctor.example", first: "Bob", last: "Stranger")
        let encounter: JSONValue = [
            "resourceType": "Encounter", "status": "finished",
            "class": ["system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"],
            "subject": ["reference": .string("Patient/\(alice.resourceID)")],
            "participant": [["individual": ["reference": .string(doctor.fhirUser ?? "")]]],
        ]
        let linked = try await client.sendJSON(.post, "/fhir/Encounter", encounter)
        try #require(linked.status == .created, "\(linked.text)")
        let browser = WebBrowser(client)
        let home = try await browser.signIn("house@doctor.example")
        try #require(home.status == .ok, "\(home.status)")
        return World(accounts: accounts, admin: admin, doctor: doctor, alice: alice, bob: bob, browser: browser)
    }

    static func count(_ sql: String, _ value: String, _ endpoint: DatabaseEndpoint) async throws -> Int {
        try await endpoint.withConnection(logger: TestApp.logger) { connection in
            var bindings = PostgresBindings(capacity: 1)
            bindings.append(value)
            let rows = try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: TestApp.logger)
            var count = 0
            for try await n in rows.decode(Int.self) { count = n }
            return count
        }
    }

    @Test func myPatientsListsThePatientsTheDoctorTreatsAndNoOthers() async throws {
        try await TestApp.runSecured { client, _, security in
            let w = try await Self.world(client, security)
            let page = try await w.browser.get("/app/doctor")
            #expect(page.status == .ok)
            #expect(page.text.contains("Alice Treated"))
            #expect(page.text.contains("/app/doctor/patients/\(w.alice.resourceID)"))
            #expect(!page.text.contains("Bob Stranger"))
            // Another role is not shown the doctor's pages.
            let patient = WebBrowser(client)
            try await patient.signIn("bob@doctor.example")
            #expect(try await patient.get("/app/doctor").status == .forbidden)
            #expect(try await patient.get("/app/doctor/patients/\(w.alice.resourceID)").status == .forbidden)
        }
    }

    @Test func anUnrelatedPatientsChartAsksForBreakGlassAndOpensAuditedWithTheReason() async throws {
        try await TestApp.runSecured { client, endpoint, security in
            let w = try await Self.world(client, security)
            let chart = "/app/doctor/patients/\(w.bob.resourceID)"
            let asked = try await w.browser.get(chart)
            #expect(asked.status == .ok)
            #expect(asked.text.contains("no care relationship with this patient, or there is no such patient"))
            #expect(asked.text.contains("audited") && asked.text.contains("visible to the patient"))
            #expect(!asked.text.contains("Stranger"), "nothing of the patient before break-glass")
            // A patient that does not exist gets the very same page.
            let missing = try await w.browser.get("/app/doctor/patients/no-such-patient")
            #expect(missing.status == .ok)
            #expect(missing.text.contains("no care relationship with this patient, or there is no such patient"))

            // Without a reason (or with one too long): the form again, nothing clinical.
            let empty = try await w.browser.submit(chart, [("breakGlassReason", "  ")])
            #expect(empty.status == .unprocessableContent)
            #expect(empty.text.contains(#"id="breakGlassReason-error""#))
            #expect(!empty.text.contains("Stranger"))
            let long = try await w.browser.submit(chart, [("breakGlassReason", String(repeating: "x", count: 201))])
            #expect(long.status == .unprocessableContent)
            #expect(!long.text.contains("Stranger"))
            #expect(try await Self.count("SELECT count(*)::int FROM audit_event WHERE purpose = 'BTG' AND $1 = ANY(patient_ids)", w.bob.resourceID, endpoint) == 0)

            // A long history, so that the chart pages.
            for day in 1...27 {
                let visit: JSONValue = [
                    "resourceType": "Encounter", "status": "finished",
                    "class": ["system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"],
                    "type": [["text": .string("Visit number \(day)")]],
                    "subject": ["reference": .string("Patient/\(w.bob.resourceID)")],
                    "period": ["start": .string(String(format: "2020-01-%02dT10:00:00Z", day))],
                ]
                let made = try await client.sendJSON(.post, "/fhir/Encounter", visit)
                try #require(made.status == .created, "\(made.text)")
            }
            let reason = "Unconscious in ED, <b>no</b> relatives"
            let opened = try await w.browser.submit(chart, [("breakGlassReason", reason)])
            #expect(opened.status == .ok)
            #expect(opened.text.contains("Emergency access (audited)"))
            #expect(opened.text.contains("Bob Stranger"))
            #expect(opened.text.contains("Unconscious in ED, &lt;b&gt;no&lt;/b&gt; relatives"))
            // The chart's forms carry the reason (POST, hidden field), never a link with it.
            #expect(opened.text.contains(#"name="breakGlassReason" value="Unconscious in ED"#))
            #expect(!opened.text.contains("breakGlassReason="))
            let audited = try await Self.count(
                "SELECT count(*)::int FROM audit_event WHERE purpose = 'BTG' AND outcome = '0' AND break_glass_reason = $1",
                reason, endpoint)
            #expect(audited >= 1)
            #expect(try await Self.count(
                "SELECT count(*)::int FROM audit_event WHERE purpose = 'BTG' AND entity_type = 'Patient' AND entity_id = $1",
                w.bob.resourceID, endpoint) >= 1)
            // The pager is a POST form carrying the reason: the next page opens under break-glass too.
            // Twenty-five visits on the first page (newest first), the other two on the next.
            let visits = { (html: String) in (1...27).filter { html.contains("Visit number \($0)</strong>") } }
            #expect(visits(opened.text) == Array(3...27))
            #expect(opened.text.contains(#"<form method="post" action="\#(chart)/timeline""#))
            let cursorRange = try #require(opened.text.range(of: #"name="cursor" value="[^"]+""#, options: .regularExpression))
            let cursor = String(opened.text[cursorRange].dropFirst(#"name="cursor" value=""#.count).dropLast())
            let csrf = try #require(WebBrowser.csrf(in: opened.text))
            let older = try await w.browser.post(chart + "/timeline", [("breakGlassReason", reason), ("cursor", cursor)], csrf: csrf)
            #expect(older.status == .ok)
            #expect(older.text.contains("Emergency access (audited)"))
            #expect(visits(older.text) == [1, 2])
            // Without the reason, the older page is the break-glass question again.
            let unasked = try await w.browser.get(chart + "/timeline?cursor=" + cursor)
            #expect(unasked.text.contains("no care relationship"))
            #expect(!unasked.text.contains("Visit number"))
            // Break-glass held for that request only: the next plain view asks again.
            let again = try await w.browser.get(chart)
            #expect(again.text.contains("no care relationship"))
            #expect(!again.text.contains("Stranger"))
        }
    }

    @Test func writingAnEntryAndPrescribingStoreRecordsAuthoredByTheDoctor() async throws {
        try await TestApp.runSecured { client, _, security in
            let w = try await Self.world(client, security)
            let alice = w.alice.resourceID
            let chart = "/app/doctor/patients/\(alice)"
            let form = try await w.browser.get(chart + "/entry")
            #expect(form.status == .ok)
            #expect(form.text.contains(#"<label for="notes">"#))
            let saved = try await w.browser.submit(
                chart + "/entry", [("diagnosis", "Influenza"), ("treatment", "Rest"), ("notes", "<script>alert(1)</script>")])
            #expect(saved.status == .seeOther)
            #expect(saved.headers[.location] == chart + "?done=entry")
            let shown = try await w.browser.get(chart + "?done=entry")
            #expect(shown.status == .ok)
            #expect(shown.text.contains("Influenza"))
            #expect(shown.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
            #expect(!shown.text.contains("<script>alert(1)"))
            let records = try await Platform.call(client, .get, "/medical-records?patientId=\(alice)", as: w.doctor)
            let entry = try #require(try records.json["items"]?.arrayValue?.first)
            #expect(entry["diagnosis"]?.stringValue == "Influenza")
            #expect(entry["notes"]?.stringValue == "<script>alert(1)</script>")
            let compositions = try await Platform.call(client, .get, "/fhir/Composition?subject=Patient/\(alice)", as: w.doctor)
            let composition = try #require(try compositions.json["entry"]?[0]?["resource"])
            #expect(composition["author"]?[0]?["reference"]?.stringValue == w.doctor.fhirUser)

            // A prescription with a problem comes back with it next to the field, nothing stored.
            let bad = try await w.browser.submit(chart + "/prescribe", [("medication", ""), ("refills", "many")])
            #expect(bad.status == .unprocessableContent)
            #expect(bad.text.contains(#"id="medication-error""#))
            #expect(bad.text.contains(#"id="refills-error""#))
            let prescribed = try await w.browser.submit(
                chart + "/prescribe", [("medication", "Amoxicillin 500 mg"), ("dosage", "1 capsule 3× a day"), ("refills", "2")])
            #expect(prescribed.status == .seeOther)
            let prescriptions = try await Platform.call(client, .get, "/prescriptions?patientId=\(alice)", as: w.doctor)
            let items = try #require(try prescriptions.json["items"]?.arrayValue)
            #expect(items.count == 1)
            #expect(items.first?["medication"]?.stringValue == "Amoxicillin 500 mg")
            #expect(items.first?["doctorId"]?.stringValue == w.doctor.resourceID)
            #expect(items.first?["refills"]?.numberLexical == "2")

            // The patient sees both through the API (their own records).
            let own = try await Platform.call(client, .get, "/prescriptions?patientId=\(alice)", as: w.alice)
            #expect(try Platform.ids(own).count == 1)
        }
    }

    @Test func anotherDoctorEditingTheURLCannotWriteIntoAnUnrelatedRecord() async throws {
        try await TestApp.runSecured { client, _, security in
            let w = try await Self.world(client, security)
            let bob = w.bob.resourceID
            let entry = try await w.browser.submit("/app/doctor/patients/\(bob)/entry", [("diagnosis", "Nothing"), ("notes", "x")])
            #expect(entry.status == .forbidden)
            let prescription = try await w.browser.submit("/app/doctor/patients/\(bob)/prescribe", [("medication", "Aspirin")])
            #expect(prescription.status == .forbidden)
            // A patient id that names nobody: the problem is shown, nothing stored.
            let nobody = try await w.browser.submit("/app/doctor/patients/nobody-here/prescribe", [("medication", "Aspirin")])
            #expect(([.unprocessableContent, .forbidden, .notFound] as [HTTPResponse.Status]).contains(nobody.status))
            let records = try await Platform.call(client, .get, "/medical-records?patientId=\(bob)", as: w.bob)
            #expect(try Platform.ids(records).isEmpty)
            let prescriptions = try await Platform.call(client, .get, "/prescriptions?patientId=\(bob)", as: w.bob)
            #expect(try Platform.ids(prescriptions).isEmpty)
            // Another doctor cannot reschedule or cancel the first one's appointments.
            let made = try await w.browser.submit(
                "/app/doctor/patients/\(w.alice.resourceID)/appointments/new", [("dateTime", "2030-03-05T09:30"), ("reasonForVisit", "Checkup")])
            #expect(made.status == .seeOther)
            let schedule = try await w.browser.get("/app/doctor/schedule?date=2030-03-05")
            let id = try #require(Self.appointmentID(in: schedule.text))
            _ = try await w.accounts.doctor("cuddy@doctor.example", approvedBy: w.admin)
            let other = WebBrowser(client)
            try await other.signIn("cuddy@doctor.example")
            #expect(try await other.get("/app/doctor/appointments/\(id)").status == .notFound)
            let csrf = try #require(WebBrowser.csrf(in: try await other.get("/app/doctor").text))
            let cancel = try await other.post("/app/doctor/appointments/\(id)/cancel", [], csrf: csrf)
            #expect(([.notFound, .forbidden] as [HTTPResponse.Status]).contains(cancel.status))
            let stored = try await Platform.call(client, .get, "/appointments/\(id)", as: w.doctor)
            #expect(try stored.json["status"]?.stringValue == "scheduled")
        }
    }

    static func appointmentID(in html: String) -> String? {
        guard let range = html.range(of: #"/app/doctor/appointments/([A-Za-z0-9\-.]+)/cancel"#, options: .regularExpression) else { return nil }
        return String(html[range].dropFirst("/app/doctor/appointments/".count).dropLast("/cancel".count))
    }

    @Test func theScheduleShowsAppointmentsOnTheirDayAndReschedulingAndCancellingWork() async throws {
        try await TestApp.runSecured { client, _, security in
            let w = try await Self.world(client, security)
            let alice = w.alice.resourceID
            let made = try await w.browser.submit(
                "/app/doctor/patients/\(alice)/appointments/new", [("dateTime", "2030-03-05T09:30"), ("reasonForVisit", "Checkup <i>yearly</i>")])
            #expect(made.status == .seeOther)
            #expect(made.headers[.location] == "/app/doctor/schedule?date=2030-03-05&saved=1")
            let day = try await w.browser.get("/app/doctor/schedule?date=2030-03-05")
            #expect(day.status == .ok)
            #expect(day.text.contains("Checkup &lt;i&gt;yearly&lt;/i&gt;"))
            #expect(day.text.contains("Alice Treated"))
            #expect(day.text.contains("5 Mar 2030, 09:30 UTC"))
            let otherDay = try await w.browser.get("/app/doctor/schedule?date=2030-03-06")
            #expect(!otherDay.text.contains("Checkup"))
            #expect(otherDay.text.contains("No appointments."))
            let week = try await w.browser.get("/app/doctor/schedule?view=week&date=2030-03-07")
            #expect(week.text.contains("Checkup"))
            #expect(week.text.contains("/app/doctor/schedule?view=week&amp;date=2030-03-11") || week.text.contains("/app/doctor/schedule?view=week&date=2030-03-11"))
            let nextWeek = try await w.browser.get("/app/doctor/schedule?view=week&date=2030-03-11")
            #expect(!nextWeek.text.contains("Checkup"))

            let id = try #require(Self.appointmentID(in: day.text))
            let form = try await w.browser.get("/app/doctor/appointments/\(id)")
            #expect(form.status == .ok)
            #expect(form.text.contains(#"value="2030-03-05T09:30""#))
            let bad = try await w.browser.submit("/app/doctor/appointments/\(id)", [("dateTime", "soon"), ("reasonForVisit", "Checkup")])
            #expect(bad.status == .unprocessableContent)
            #expect(bad.text.contains(#"id="dateTime-error""#))
            let moved = try await w.browser.submit("/app/doctor/appointments/\(id)", [("dateTime", "2030-03-06T10:00"), ("reasonForVisit", "Checkup")])
            #expect(moved.status == .seeOther)
            #expect(try await w.browser.get("/app/doctor/schedule?date=2030-03-06").text.contains("Checkup"))
            #expect(!(try await w.browser.get("/app/doctor/schedule?date=2030-03-05").text.contains("Checkup")))
            let api = try await Platform.call(client, .get, "/appointments/\(id)", as: w.doctor)
            #expect(try api.json["dateTime"]?.stringValue?.hasPrefix("2030-03-06T10:00") == true)
            #expect(try api.json["patientId"]?.stringValue == alice)

            let page = try await w.browser.get("/app/doctor/schedule?date=2030-03-06")
            let csrf = try #require(WebBrowser.csrf(in: page.text))
            let canceled = try await w.browser.post("/app/doctor/appointments/\(id)/cancel", [], csrf: csrf)
            #expect(canceled.status == .seeOther)
            let after = try await w.browser.get("/app/doctor/schedule?date=2030-03-06")
            #expect(after.text.contains("canceled"))
            #expect(try await Platform.call(client, .get, "/appointments/\(id)", as: w.doctor).json["status"]?.stringValue == "canceled")
        }
    }

    @Test func everyPostWithoutTheCSRFTokenIsRefusedAndStoresNothing() async throws {
        try await TestApp.runSecured { client, _, security in
            let w = try await Self.world(client, security)
            let alice = w.alice.resourceID
            let made = try await w.browser.submit(
                "/app/doctor/patients/\(alice)/appointments/new", [("dateTime", "2030-03-05T09:30"), ("reasonForVisit", "Checkup")])
            #expect(made.status == .seeOther)
            let id = try #require(Self.appointmentID(in: try await w.browser.get("/app/doctor/schedule?date=2030-03-05").text))
            let posts: [(String, [(String, String)])] = [
                ("/app/doctor/patients/\(w.bob.resourceID)", [("breakGlassReason", "emergency")]),
                ("/app/doctor/patients/\(alice)/entry", [("diagnosis", "Forged")]),
                ("/app/doctor/patients/\(alice)/prescribe", [("medication", "Forged")]),
                ("/app/doctor/patients/\(alice)/appointments/new", [("dateTime", "2030-04-01T09:00")]),
                ("/app/doctor/appointments/\(id)", [("dateTime", "2030-04-02T09:00")]),
                ("/app/doctor/appointments/\(id)/cancel", []),
            ]
            for (path, fields) in posts {
                let refused = try await w.browser.post(path, fields, csrf: nil)
                #expect(refused.status == .forbidden, "\(path)")
                let wrong = try await w.browser.post(path, fields, csrf: "not-the-token")
                #expect(wrong.status == .forbidden, "\(path)")
                #expect(!refused.text.contains("Bob Stranger"))
            }
            #expect(try Platform.ids(try await Platform.call(client, .get, "/medical-records?patientId=\(alice)", as: w.doctor)).isEmpty)
            #expect(try Platform.ids(try await Platform.call(client, .get, "/prescriptions?patientId=\(alice)", as: w.doctor)).isEmpty)
            let appointment = try await Platform.call(client, .get, "/appointments/\(id)", as: w.doctor)
            #expect(try appointment.json["status"]?.stringValue == "scheduled")
            #expect(try appointment.json["dateTime"]?.stringValue?.hasPrefix("2030-03-05T09:30") == true)
            let listed = try await Platform.call(client, .get, "/appointments?doctorId=\(w.doctor.resourceID)", as: w.doctor)
            // The appointment made here and the world's linking Encounter (it names the doctor too).
            #expect(try Platform.ids(listed).count == 2)
        }
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func searchFindsASyntheaPatientByNameBirthDateAndIdentifierWithoutClinicalOrContactData() async throws {
        try await TestApp.runSecured { client, endpoint, security in
            let w = try await Self.world(client, security)
            let data = try SyntheaSearchData.load([SyntheaSearchData.defaultFiles[0]])
            try await data.post(to: client)
            let id = data.patientIDs[0]
            let patient = try #require(data.byReference["Patient/\(id)"])
            let family = try #require(patient["name"]?[0]?["family"]?.stringValue)
            let birthDate = try #require(patient["birthDate"]?.stringValue)
            let mrn = try #require((patient["identifier"]?.arrayValue ?? []).first {
                $0["type"]?["coding"]?[0]?["code"]?.stringValue == "MR"
            }?["value"]?.stringValue)
            let phone = patient["telecom"]?[0]?["value"]?.stringValue
            let street = patient["address"]?[0]?["line"]?[0]?.stringValue
            let condition = try #require(data.resources("Condition").compactMap { WebFormat.concept($0["code"]) }.first)

            let empty = try await w.browser.get("/app/doctor/search")
            #expect(empty.status == .ok)
            #expect(empty.text.contains("data-live") && empty.text.contains(#"id="results""#))
            for query in ["name=\(SyntheaSearchData.encode(String(family.prefix(4))))", "birthDate=\(birthDate)", "identifier=\(SyntheaSearchData.encode(mrn))"] {
                let found = try await w.browser.get("/app/doctor/search?\(query)")
                #expect(found.status == .ok, "\(query)")
                #expect(found.text.contains("/app/doctor/patients/\(id)"), "\(query)")
                #expect(found.text.contains(WebFormat.date(birthDate) ?? birthDate))
                if let phone { #expect(!found.text.contains(phone), "no contact data") }
                if let street { #expect(!found.text.contains(street), "no address") }
                #expect(!found.text.contains(condition), "nothing clinical")
            }
            let nobody = try await w.browser.get("/app/doctor/search?name=Zzyzxq")
            #expect(nobody.text.contains("No patient matches."))
            let invalid = try await w.browser.get("/app/doctor/search?birthDate=yesterday")
            #expect(invalid.status == .unprocessableContent)
            #expect(invalid.text.contains(#"id="birthDate-error""#))
            // Each search is audited with its query.
            #expect(try await Self.count(
                "SELECT count(*)::int FROM audit_event WHERE subtype = 'search-type' AND entity_type = 'Patient' AND $1 = ANY(patient_ids) AND query LIKE 'identifier=%'",
                id, endpoint) == 1)
            // Found, not read: the chart still asks for break-glass.
            let chart = try await w.browser.get("/app/doctor/patients/\(id)")
            #expect(chart.text.contains("no care relationship"))
            // A patient cannot use the index.
            let patientBrowser = WebBrowser(client)
            try await patientBrowser.signIn("bob@doctor.example")
            #expect(try await patientBrowser.get("/app/doctor/search?name=\(family)").status == .forbidden)
        }
    }
}

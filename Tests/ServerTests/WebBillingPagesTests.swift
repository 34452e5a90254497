import FHIRModels
import FixtureSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import Server

/// The billing staff's pages on the real app and database: a bill for a patient's appointment
/// (readable through `/billings`), the status and patient filters, a payment, a patient's
/// insurance; field errors next to the fields; other roles get the 403 page and change
/// nothing; no form works without its CSRF token; a `<script>` name stays text.
@Suite struct WebBillingPagesTests {
    /// A billing account (made like `medrec user add --role billing`) and a browser signed in as it.
    static func billing(_ client: any TestClientProtocol, _ security: SecurityServices, _ email: String = "bill@webbilling.example") async throws -> WebBrowser {
        let hash = try await security.hasher.hash(Accounts.password)
        let inserted = try await security.identities.insertUser(
            id: UUID().uuidString.lowercased(), email: email, passwordHash: hash, role: .billing, status: .active, fhirUser: nil)
        try #require(inserted)
        let browser = WebBrowser(client)
        try await browser.signIn(email)
        return browser
    }

    /// A Patient made through the platform API (the test suite's system client), with insurance.
    static func patient(_ client: any TestClientProtocol, first: String, last: String, insurer: String? = nil) async throws -> String {
        var body: JSONObject = ["firstName": .string(first), "lastName": .string(last), "dateOfBirth": "1980-04-02", "gender": "female"]
        if let insurer { body["insurance"] = ["provider": .string(insurer), "policyNumber": "POL-123", "coverageDetails": "80% outpatient"] }
        let created = try await Platform.call(client, .post, "/patients", body: .object(body))
        try #require(created.status == .created, "\(created.text)")
        return try #require(try created.json["id"]?.stringValue)
    }

    /// A doctor and an appointment of the patient with them.
    static func appointment(_ client: any TestClientProtocol, patient: String) async throws -> String {
        let doctor = try await Platform.call(client, .post, "/doctors", body: ["firstName": "Greg", "lastName": "House"])
        try #require(doctor.status == .created, "\(doctor.text)")
        let doctorID = try #require(try doctor.json["id"]?.stringValue)
        let booked = try await Platform.call(client, .post, "/appointments", body: [
            "patientId": .string(patient), "doctorId": .string(doctorID), "dateTime": "2026-12-01T09:30:00Z", "status": "completed",
        ])
        try #require(booked.status == .created, "\(booked.text)")
        return try #require(try booked.json["id"]?.stringValue)
    }

    static func bill(_ client: any TestClientProtocol, patient: String, amount: String, status: String) async throws -> String {
        let created = try await Platform.call(client, .post, "/billings", body: [
            "patientId": .string(patient), "date": "2026-12-02", "status": .string(status),
            "amount": ["value": .string(amount), "currency": "USD"], "insuranceCoverage": ["value": "0", "currency": "USD"],
            "outstandingAmount": ["value": .string(amount), "currency": "USD"],
        ])
        try #require(created.status == .created, "\(created.text)")
        return try #require(try created.json["id"]?.stringValue)
    }

    @Test func billingCreatesABillForAnAppointmentReadableThroughTheAPI() async throws {
        try await TestApp.runSecured { client, _, security in
            let patientID = try await Self.patient(client, first: "Ada", last: "Lovelace", insurer: "Acme Health")
            let appointmentID = try await Self.appointment(client, patient: patientID)
            let browser = try await Self.billing(client, security)
            // Choose the patient by searching for the name.
            let search = try await browser.get("/app/billing/new?q=Lovelace")
            #expect(search.status == .ok)
            #expect(search.text.contains(#"href="/app/billing/new?patient=\#(patientID)""#) && search.text.contains("Ada Lovelace"))
            let form = try await browser.get("/app/billing/new?patient=\(patientID)")
            #expect(form.text.contains("Insurer on record: Acme Health"))
            // Field problems come back next to their fields, nothing is stored.
            let invalid = try await browser.submit("/app/billing/new?patient=\(patientID)", to: "/app/billing/new", [
                ("patientId", patientID), ("appointmentId", "no-such-visit"), ("date", "2026-12-02"), ("currency", "USD"),
                ("amount", "12.5x"), ("insuranceCoverage", "0"), ("status", "pending"),
            ])
            #expect(invalid.status == .unprocessableContent)
            #expect(invalid.text.contains(#"id="amount-error""#))
            #expect(try await Platform.ids(Platform.call(client, .get, "/billings")).isEmpty)
            let unknown = try await browser.submit("/app/billing/new?patient=\(patientID)", to: "/app/billing/new", [
                ("patientId", patientID), ("appointmentId", "no-such-visit"), ("date", "2026-12-02"), ("currency", "USD"),
                ("amount", "150.00"), ("insuranceCoverage", "120"), ("status", "pending"),
            ])
            #expect(unknown.status == .unprocessableContent)
            #expect(unknown.text.contains(#"id="appointmentId-error""#) && unknown.text.contains("names no existing"))
            let tooMuch = try await browser.submit("/app/billing/new?patient=\(patientID)", to: "/app/billing/new", [
                ("patientId", patientID), ("date", "2026-12-02"), ("currency", "USD"),
                ("amount", "150.00"), ("insuranceCoverage", "200.00"), ("status", "pending"),
            ])
            #expect(tooMuch.status == .unprocessableContent)
            #expect(tooMuch.text.contains(#"id="insuranceCoverage-error""#))

            let created = try await browser.submit("/app/billing/new?patient=\(patientID)", to: "/app/billing/new", [
                ("patientId", patientID), ("appointmentId", appointmentID), ("date", "2026-12-02"), ("currency", "USD"),
                ("amount", "150.00"), ("insuranceCoverage", "120"), ("status", "pending"),
            ])
            #expect(created.status == .seeOther, "\(created.text)")
            let location = try #require(created.headers[.location])
            let billID = try #require(location.split(separator: "/").last?.split(separator: "?").first.map(String.init))
            let stored = try await Platform.call(client, .get, "/billings/\(billID)")
            #expect(stored.status == .ok)
            #expect(try stored.json["patientId"]?.stringValue == patientID)
            #expect(try stored.json["appointmentId"]?.stringValue == appointmentID)
            #expect(try stored.json["amount"] == ["value": "150.00", "currency": "USD"])
            #expect(try stored.json["outstandingAmount"] == ["value": "30.00", "currency": "USD"])
            #expect(try stored.json["status"] == "pending")
            let page = try await browser.get(location)
            #expect(page.text.contains("The bill is created.") && page.text.contains("150.00 USD") && page.text.contains("30.00 USD"))
            #expect(page.text.contains("Ada Lovelace"))
        }
    }

    @Test func billsAreFilteredByStatusAndByPatient() async throws {
        try await TestApp.runSecured { client, _, security in
            let ada = try await Self.patient(client, first: "Ada", last: "Lovelace")
            let alan = try await Self.patient(client, first: "<script>alert(1)</script>", last: "Turing")
            let paid = try await Self.bill(client, patient: ada, amount: "10.00", status: "paid")
            let pending = try await Self.bill(client, patient: ada, amount: "20.00", status: "pending")
            let alans = try await Self.bill(client, patient: alan, amount: "30.00", status: "pending")
            let browser = try await Self.billing(client, security)
            let all = try await browser.get("/app/billing")
            #expect(all.status == .ok)
            for id in [paid, pending, alans] { #expect(all.text.contains("/app/billing/bills/\(id)")) }
            #expect(all.text.contains("&lt;script&gt;alert(1)&lt;/script&gt; Turing") && !all.text.contains("<script>alert(1)"))
            let paidOnly = try await browser.get("/app/billing?status=paid")
            #expect(paidOnly.text.contains("/app/billing/bills/\(paid)"))
            #expect(!paidOnly.text.contains("/app/billing/bills/\(pending)") && !paidOnly.text.contains("/app/billing/bills/\(alans)"))
            let found = try await browser.get("/app/billing?q=Turing")
            #expect(found.text.contains(#"href="/app/billing?patient=\#(alan)""#))
            let alanOnly = try await browser.get("/app/billing?patient=\(alan)")
            #expect(alanOnly.text.contains("/app/billing/bills/\(alans)"))
            #expect(!alanOnly.text.contains("/app/billing/bills/\(paid)") && !alanOnly.text.contains("/app/billing/bills/\(pending)"))
            let adaPending = try await browser.get("/app/billing?patient=\(ada)&status=pending")
            #expect(adaPending.text.contains("/app/billing/bills/\(pending)") && !adaPending.text.contains("/app/billing/bills/\(paid)"))
            #expect(try await browser.get("/app/billing?status=overdue").status == .badRequest)
            #expect(try await browser.get("/app/billing?patient=no-such-patient").status == .notFound)
        }
    }

    @Test func aPaymentUpdatesTheBillAndBadInputIsShownAtTheField() async throws {
        try await TestApp.runSecured { client, _, security in
            let ada = try await Self.patient(client, first: "Ada", last: "Lovelace")
            let billID = try await Self.bill(client, patient: ada, amount: "99.99", status: "pending")
            let browser = try await Self.billing(client, security)
            let path = "/app/billing/bills/\(billID)"
            let page = try await browser.get(path)
            #expect(page.status == .ok && page.text.contains("99.99 USD"))
            let tooMuch = try await browser.submit(path, [("status", "paid"), ("insuranceCoverage", "100"), ("version", "1")])
            #expect(tooMuch.status == .unprocessableContent)
            #expect(tooMuch.text.contains(#"id="insuranceCoverage-error""#))
            #expect(try await Platform.call(client, .get, "/billings/\(billID)").json["status"] == "pending")
            let saved = try await browser.submit(path, [("status", "paid"), ("insuranceCoverage", "50.5"), ("version", "1")], follow: true)
            #expect(saved.status == .ok && saved.text.contains("The bill is saved."))
            let stored = try await Platform.call(client, .get, "/billings/\(billID)")
            #expect(try stored.json["status"] == "paid")
            #expect(try stored.json["insuranceCoverage"] == ["value": "50.5", "currency": "USD"])
            #expect(try stored.json["outstandingAmount"] == ["value": "49.49", "currency": "USD"])
            #expect(try stored.json["patientId"]?.stringValue == ada, "the rest of the bill is kept")
            // A stale version is a conflict and changes nothing.
            let stale = try await browser.submit(path, [("status", "pending"), ("insuranceCoverage", "0"), ("version", "1")])
            #expect(stale.status == .conflict)
            #expect(try await Platform.call(client, .get, "/billings/\(billID)").json["status"] == "paid")
            #expect(try await browser.get("/app/billing/bills/no-such-bill").status == .notFound)
        }
    }

    @Test func aPatientsInsuranceShowsTheRecordAndItsCoverage() async throws {
        try await TestApp.runSecured { client, _, security in
            let ada = try await Self.patient(client, first: "Ada", last: "Lovelace", insurer: "Acme Health")
            let coverage: JSONValue = [
                "resourceType": "Coverage", "status": "active", "beneficiary": ["reference": .string("Patient/\(ada)")],
                "payor": [["display": "Blue Shield <b>West</b>"]], "subscriberId": "SUB-42",
                "period": ["start": "2026-01-01", "end": "2026-12-31"],
            ]
            let stored = try await client.sendJSON(.post, "/fhir/Coverage", coverage)
            try #require(stored.status == .created, "\(stored.text)")
            let browser = try await Self.billing(client, security)
            let page = try await browser.get("/app/billing/patients/\(ada)")
            #expect(page.status == .ok)
            #expect(page.text.contains("Acme Health") && page.text.contains("POL-123") && page.text.contains("80% outpatient"))
            #expect(page.text.contains("Blue Shield &lt;b&gt;West&lt;/b&gt;") && page.text.contains("SUB-42"))
            #expect(page.text.contains("1 Jan 2026 – 31 Dec 2026"))
            #expect(page.text.contains("No bills yet."))
            let plain = try await Self.patient(client, first: "Alan", last: "Turing")
            let none = try await browser.get("/app/billing/patients/\(plain)")
            #expect(none.text.contains("No insurance on the patient&#39;s record.") || none.text.contains("No insurance on the patient"))
            #expect(none.text.contains("No coverage records."))
            #expect(try await browser.get("/app/billing/patients/no-such-patient").status == .notFound)
        }
    }

    @Test func otherRolesGetTheForbiddenPageAndFormsNeedTheirToken() async throws {
        try await TestApp.runSecured { client, _, security in
            let accounts = Accounts(client: client, security: security)
            let ivy = try await accounts.patient("ivy@webbilling.example")
            let ada = try await Self.patient(client, first: "Ada", last: "Lovelace")
            let billID = try await Self.bill(client, patient: ada, amount: "10.00", status: "pending")
            _ = try await accounts.admin("root@webbilling.example")
            let fields: [(String, String)] = [
                ("patientId", ivy.resourceID), ("date", "2026-12-02"), ("currency", "USD"), ("amount", "1.00"),
                ("insuranceCoverage", "0"), ("status", "paid"),
            ]
            for email in ["ivy@webbilling.example", "root@webbilling.example"] {
                let browser = WebBrowser(client)
                try await browser.signIn(email)
                let csrf = try #require(WebBrowser.csrf(in: try await browser.get("/app/account/password").text))
                for path in ["/app/billing", "/app/billing/new", "/app/billing/bills/\(billID)", "/app/billing/patients/\(ada)"] {
                    let page = try await browser.get(path)
                    #expect(page.status == .forbidden, "\(email) \(path)")
                }
                #expect(try await browser.post("/app/billing/new", fields, csrf: csrf).status == .forbidden)
                #expect(try await browser.post("/app/billing/bills/\(billID)", [("status", "paid"), ("insuranceCoverage", "0")], csrf: csrf).status == .forbidden)
            }
            let billing = try await Self.billing(client, security)
            let noToken = try await billing.post("/app/billing/new", fields, csrf: nil)
            #expect(noToken.status == .forbidden && noToken.text.contains("This form has expired"))
            let noTokenUpdate = try await billing.post("/app/billing/bills/\(billID)", [("status", "paid"), ("insuranceCoverage", "0")], csrf: nil)
            #expect(noTokenUpdate.status == .forbidden)
            let bills = try await Platform.call(client, .get, "/billings")
            #expect(try Platform.ids(bills) == [billID])
            #expect(try await Platform.call(client, .get, "/billings/\(billID)").json["status"] == "pending")
        }
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func importedSyntheaPatientsShowTheirClaimsAndCoverage() async throws {
        try await TestApp.runSecured { client, _, security in
            let data = try SyntheaSearchData.load([SyntheaSearchData.defaultFiles[0]])
            for bundle in data.bundles {
                let imported = try await client.sendJSON(.post, "/fhir", bundle)
                try #require(imported.status == .ok, "\(imported.text)")
            }
            let patientID = data.patientIDs[0]
            let claims = data.byReference.filter { $0.key.hasPrefix("Claim/") && $0.value["patient"]?["reference"]?.stringValue == "Patient/\(patientID)" }
            let coverages = data.byReference.filter { $0.key.hasPrefix("Coverage/") }
            let browser = try await Self.billing(client, security)
            let patient = try await browser.get("/app/billing/patients/\(patientID)")
            #expect(patient.status == .ok)
            #expect(patient.text.contains(coverages.isEmpty ? "No coverage records." : "<caption>Coverage</caption>"))
            // The patient's claims are the bills of the filter; the first page holds 25, newest first.
            let bills = try await browser.get("/app/billing?patient=\(patientID)")
            #expect(bills.status == .ok)
            #expect(!claims.isEmpty, "the fixture has claims")
            let shown = bills.text.components(separatedBy: "/app/billing/bills/").count - 1
            #expect(shown == min(claims.count, 25), "\(shown) of \(claims.count)")
            if claims.count > 25 { #expect(bills.text.contains("Older bills")) }
            let first = try #require(claims.keys.sorted().first.map { String($0.dropFirst("Claim/".count)) })
            let bill = try await browser.get("/app/billing/bills/\(first)")
            #expect(bill.status == .ok && bill.text.contains("Record a payment"))
        }
    }
}

import FHIRModels
import Foundation
import Hummingbird
import Mapping

/// The billing staff's pages (`/app/billing/…`): bills by payment status and by patient (the
/// patient found by a name search), a new bill, a bill's payment, and a patient's insurance.
/// A thin face over `PlatformRecords<BillingDTO>`/`<PatientDTO>` and `SearchService` (for
/// Coverage), which decide and audit; a bill's fields are checked by `BillingDTO(body:)`, the
/// same checks as `POST /billings`.
struct WebBillingPages: Sendable {
    typealias Context = MedrecRequestContext
    let face: WebFace

    init(face: WebFace) {
        self.face = face
    }

    var view: WebView { face.view }
    var bills: PlatformRecords<BillingDTO> { face.platform.billings }
    var patients: PlatformRecords<PatientDTO> { face.platform.patients }

    static let pageSize = 25

    func addRoutes(to pages: RouterGroup<Context>) {
        let billing = pages.group("billing").add(middleware: RequireWebRole(roles: [.billing]))
        billing.get("", use: list)
        billing.get("new", use: newBill)
        billing.post("new", use: createBill)
        billing.get("bills/{id}", use: bill)
        billing.post("bills/{id}", use: updateBill)
        billing.get("patients/{id}", use: patient)
    }

    static let notices = [
        "created": "The bill is created.",
        "saved": "The bill is saved.",
    ]

    // MARK: - Bills

    /// `/app/billing`: bills, newest first, by payment status and by patient.
    @Sendable func list(_ request: Request, context: Context) async throws -> Response {
        let caller = try context.webCaller()
        let query = request.uri.queryParameters
        var data: [String: Any] = [:]
        if let key = query["done"].map(String.init), let text = Self.notices[key] { data["notice"] = text }
        let statusText = query["status"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        let status = statusText.flatMap(PaymentStatus.init(rawValue:))
        if statusText != nil && status == nil { throw WebError.badRequest("the status filter is not one this page offers") }
        let patientID = try Self.patientParameter(query["patient"].map(String.init))
        let cursor = query["cursor"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        data["statuses"] = PaymentStatus.allCases.map { item -> [String: Any] in ["code": item.rawValue, "label": Self.statusLabel(item), "selected": item == status] }
        if let patientID {
            let patient = try await patients.read(id: patientID, as: caller)
            data["patient"] = ["id": patientID, "name": WebFormat.name(first: patient.model.firstName, last: patient.model.lastName)]
        }
        try await patientSearch(query["q"].map(String.init), into: &data, link: "/app/billing?patient=", as: caller)
        let page = try await bills.bills(patientID: patientID, status: status, cursor: cursor, pageSize: Self.pageSize, as: caller)
        data["bills"] = try await rows(page.items, as: caller)
        data["hasBills"] = !page.items.isEmpty
        data["filtered"] = patientID != nil || status != nil
        if let next = page.next {
            var parts: [(String, String)] = []
            if let patientID { parts.append(("patient", patientID)) }
            if let status { parts.append(("status", status.rawValue)) }
            parts.append(("cursor", next))
            data["next"] = "/app/billing?" + parts.map { "\($0.0)=\(WebAdminPages.encode($0.1))" }.joined(separator: "&")
        }
        return view.page("billing/bills", title: "Bills", request: request, context: context, data: data)
    }

    /// The table rows of bills, with each patient's name (read once per patient, audited).
    private func rows(_ items: [PlatformRecords<BillingDTO>.Item], as caller: Caller) async throws -> [[String: Any]] {
        var names: [String: String] = [:]
        for id in Set(items.compactMap(\.model.patientID)) {
            names[id] = (try? await patients.read(id: id, as: caller)).map { WebFormat.name(first: $0.model.firstName, last: $0.model.lastName) }
        }
        return items.map { item in
            let bill = item.model
            var row = Self.facts(bill)
            row["id"] = item.stored.id
            if let patientID = bill.patientID { row["patientName"] = names[patientID] ?? "Patient \(patientID)" }
            return row
        }
    }

    static func facts(_ bill: BillingDTO) -> [String: Any] {
        var row: [String: Any] = [
            "date": WebFormat.date(bill.date) ?? "", "amount": WebFormat.money(bill.amount) ?? "",
            "coverage": WebFormat.money(bill.insuranceCoverage) ?? "", "outstanding": WebFormat.money(bill.outstandingAmount) ?? "",
            "status": bill.status.map(statusLabel) ?? "Unknown", "paid": bill.status == .paid,
        ]
        if let patientID = bill.patientID { row["patientId"] = patientID }
        if let appointmentID = bill.appointmentID { row["appointmentId"] = appointmentID }
        return row
    }

    static func statusLabel(_ status: PaymentStatus) -> String {
        switch status {
        case .paid: "Paid"
        case .pending: "Pending"
        }
    }

    /// Patients whose name matches `q` (at most 10), linked to `link` + id.
    private func patientSearch(_ q: String?, into data: inout [String: Any], link: String, as caller: Caller) async throws {
        guard let q = q?.trimmingCharacters(in: .whitespaces), !q.isEmpty else { return }
        let text = String(q.prefix(100))
        data["q"] = text
        let found = try await patients.list([("name", text), ("_count", "10")], queryText: "name", maxCount: 10, as: caller)
        data["searched"] = true
        data["matches"] = found.items.map { item -> [String: Any] in
            [
                "id": item.stored.id, "name": WebFormat.name(first: item.model.firstName, last: item.model.lastName),
                "born": WebFormat.date(item.model.dateOfBirth) ?? "", "href": link + WebAdminPages.encode(item.stored.id),
            ]
        }
        data["hasMatches"] = !found.items.isEmpty
    }

    /// A `patient` parameter: absent, or a valid id (anything else is a hand-edited URL).
    static func patientParameter(_ text: String?) throws -> String? {
        guard let text, !text.isEmpty else { return nil }
        guard FHIRRequest.isValidID(text) else { throw WebError.notFound }
        return text
    }

    // MARK: - A new bill

    @Sendable func newBill(_ request: Request, context: Context) async throws -> Response {
        let caller = try context.webCaller()
        let query = request.uri.queryParameters
        var data: [String: Any] = [:]
        if let patientID = try Self.patientParameter(query["patient"].map(String.init)) {
            let patient = try await patients.read(id: patientID, as: caller)
            data.merge(BillForm(patientID: patientID).data(problems: [])) { $1 }
            data["patient"] = ["id": patientID, "name": WebFormat.name(first: patient.model.firstName, last: patient.model.lastName)]
            if let insurer = patient.model.insurance?.provider { data["insurer"] = insurer }
        }
        try await patientSearch(query["q"].map(String.init), into: &data, link: "/app/billing/new?patient=", as: caller)
        return view.page("billing/new", title: "New bill", request: request, context: context, data: data)
    }

    @Sendable func createBill(_ request: Request, context: Context) async throws -> Response {
        let form = try await WebForm.read(request, context: context, csrfSecret: context.webFormSecret)
        let caller = try context.webCaller()
        let bill = BillForm(form: form)
        let problems: [FieldIssue]
        do {
            let created = try await bills.create(try bill.validated(), as: caller)
            return WebView.redirect("/app/billing/bills/\(WebAdminPages.encode(created.stored.id))?done=created")
        } catch let invalid as PlatformValidationError {
            problems = invalid.issues
        } catch let unknown as PlatformRecordsUnknownReferences {
            problems = unknown.referenceIssues
        }
        var data = bill.data(problems: problems)
        if FHIRRequest.isValidID(bill.patientID), let patient = try? await patients.read(id: bill.patientID, as: caller) {
            data["patient"] = ["id": bill.patientID, "name": WebFormat.name(first: patient.model.firstName, last: patient.model.lastName)]
        } else {
            data["patient"] = ["id": bill.patientID, "name": "Unknown patient"]
        }
        return view.page("billing/new", title: "New bill", request: request, context: context, data: data, status: .unprocessableContent)
    }

    // MARK: - One bill

    @Sendable func bill(_ request: Request, context: Context) async throws -> Response {
        let id = try context.parameters.require("id")
        guard FHIRRequest.isValidID(id) else { throw WebError.notFound }
        let caller = try context.webCaller()
        let item = try await bills.read(id: id, as: caller)
        var data = try await billData(item, form: nil, problems: [], as: caller)
        if let key = request.uri.queryParameters["done"].map(String.init), let text = Self.notices[key] { data["notice"] = text }
        return view.page("billing/bill", title: "Bill", request: request, context: context, data: data)
    }

    private func billData(
        _ item: PlatformRecords<BillingDTO>.Item, form: (status: String, coverage: String)?, problems: [FieldIssue], as caller: Caller
    ) async throws -> [String: Any] {
        let bill = item.model
        var data = WebFieldErrors(problems.map { (BillForm.formField($0.field), $0.issue) }).data
        var facts = Self.facts(bill)
        if let patientID = bill.patientID {
            facts["patientName"] = (try? await patients.read(id: patientID, as: caller))
                .map { WebFormat.name(first: $0.model.firstName, last: $0.model.lastName) } ?? "Patient \(patientID)"
        }
        data["bill"] = facts
        data["id"] = item.stored.id
        data["version"] = item.stored.versionID
        data["currency"] = bill.amount?.currency ?? ""
        let status = form?.status ?? bill.status?.rawValue
        data["statuses"] = PaymentStatus.allCases.map { item -> [String: Any] in ["code": item.rawValue, "label": Self.statusLabel(item), "selected": item.rawValue == status] }
        data["coverageValue"] = form?.coverage ?? bill.insuranceCoverage?.value ?? ""
        return data
    }

    /// Payment: the status and the insurance's part (the outstanding amount follows); the rest
    /// of the bill is kept as stored. `version` makes a concurrent change a conflict, not a loss.
    @Sendable func updateBill(_ request: Request, context: Context) async throws -> Response {
        let form = try await WebForm.read(request, context: context, csrfSecret: context.webFormSecret)
        let id = try context.parameters.require("id")
        guard FHIRRequest.isValidID(id) else { throw WebError.notFound }
        let caller = try context.webCaller()
        let item = try await bills.read(id: id, as: caller)
        let status = form.text("status") ?? ""
        let coverage = form.text("insuranceCoverage") ?? ""
        var body = item.model.json.objectValue ?? JSONObject()
        body["id"] = nil
        body["status"] = .string(status)
        let currency = item.model.amount?.currency ?? ""
        body["insuranceCoverage"] = .object(["value": .string(coverage), "currency": .string(currency)])
        body["outstandingAmount"] = .object([
            "value": .string(BillForm.outstanding(item.model.amount?.value ?? "", coverage)), "currency": .string(currency),
        ])
        do {
            let bill = try BillingDTO(body: body)
            _ = try await bills.update(id: id, bill, ifMatch: form.text("version").flatMap(Int.init), as: caller)
            return WebView.redirect("/app/billing/bills/\(WebAdminPages.encode(id))?done=saved")
        } catch let invalid as PlatformValidationError {
            let data = try await billData(item, form: (status, coverage), problems: invalid.issues, as: caller)
            return view.page("billing/bill", title: "Bill", request: request, context: context, data: data, status: .unprocessableContent)
        }
    }

    // MARK: - A patient's insurance

    @Sendable func patient(_ request: Request, context: Context) async throws -> Response {
        let id = try context.parameters.require("id")
        guard FHIRRequest.isValidID(id) else { throw WebError.notFound }
        let caller = try context.webCaller()
        let patient = try await patients.read(id: id, as: caller).model
        var data: [String: Any] = [
            "id": id, "name": WebFormat.name(first: patient.firstName, last: patient.lastName),
            "born": WebFormat.date(patient.dateOfBirth) ?? "",
        ]
        if let insurance = patient.insurance {
            data["insurance"] = [
                "provider": insurance.provider ?? "", "policyNumber": insurance.policyNumber ?? "",
                "coverageDetails": insurance.coverageDetails ?? "",
            ]
        }
        let coverages = try await coverages(of: id, as: caller)
        data["coverages"] = coverages
        data["hasCoverages"] = !coverages.isEmpty
        let recent = try await bills.bills(patientID: id, status: nil, cursor: nil, pageSize: 10, maxPages: 1, as: caller)
        data["bills"] = recent.items.map { item -> [String: Any] in
            var row = Self.facts(item.model)
            row["id"] = item.stored.id
            return row
        }
        data["hasBills"] = !recent.items.isEmpty
        return view.page("billing/patient", title: "Patient insurance", request: request, context: context, data: data)
    }

    /// The patient's Coverage resources (imported records carry them), newest first.
    private func coverages(of patientID: String, as caller: Caller) async throws -> [[String: Any]] {
        var parser = SearchQueryParser(baseURL: "", strict: true, maxCount: 20)
        parser.sealedContact = (face.store as? PostgresResourceStore)?.sealedContactSearch
        let items: [(key: String, value: String)] = [("patient", "Patient/\(patientID)"), ("_count", "20"), ("_sort", "-_lastUpdated")]
        let query = try parser.parse(types: ["Coverage"], items: items)
        let result = try await face.platform.searches.search(
            SearchService.Request(query: query, items: items, auditType: "Coverage"), as: caller)
        return result.matches.map { _, coverage -> [String: Any] in
            var row: [String: Any] = ["status": coverage["status"]?.stringValue ?? ""]
            let payors = (coverage["payor"]?.arrayValue ?? []).compactMap { $0["display"]?.stringValue ?? $0["reference"]?.stringValue }
            row["payor"] = payors.isEmpty ? "Not named" : payors.joined(separator: ", ")
            row["type"] = WebFormat.concept(coverage["type"]) ?? ""
            row["subscriberId"] = coverage["subscriberId"]?.stringValue ?? ""
            let start = WebFormat.date(coverage["period"]?["start"]?.stringValue)
            let end = WebFormat.date(coverage["period"]?["end"]?.stringValue)
            if start != nil || end != nil { row["period"] = "\(start ?? "…") – \(end ?? "…")" }
            let classes = (coverage["class"]?.arrayValue ?? []).compactMap { item -> String? in
                guard let value = item["value"]?.stringValue else { return nil }
                return [WebFormat.concept(item["type"]), item["name"]?.stringValue ?? value].compactMap { $0 }.joined(separator: ": ")
            }
            row["plan"] = classes.joined(separator: "; ")
            return row
        }
    }
}

/// The new-bill form ⇄ the platform body of `POST /billings`: money as decimal strings in one
/// currency, the outstanding amount computed (amount minus the insurance's part), checked by
/// `BillingDTO(body:)`.
struct BillForm {
    var patientID = ""
    var appointmentID = ""
    var date = ""
    var currency = "USD"
    var amount = ""
    var coverage = "0.00"
    var status = PaymentStatus.pending.rawValue

    init(patientID: String) {
        self.patientID = patientID
        date = String(StoreTimestamp.string(Date()).prefix(10))
    }

    init(form: WebForm) {
        patientID = form.text("patientId") ?? ""
        appointmentID = form.text("appointmentId") ?? ""
        date = form.text("date") ?? ""
        currency = form.text("currency") ?? ""
        amount = form.text("amount") ?? ""
        coverage = form.text("insuranceCoverage") ?? ""
        status = form.text("status") ?? ""
    }

    var body: JSONObject {
        var body: JSONObject = [
            "patientId": .string(patientID), "date": .string(date), "status": .string(status),
            "amount": .object(["value": .string(amount), "currency": .string(currency)]),
            "insuranceCoverage": .object(["value": .string(coverage), "currency": .string(currency)]),
            "outstandingAmount": .object(["value": .string(Self.outstanding(amount, coverage)), "currency": .string(currency)]),
        ]
        if !appointmentID.isEmpty { body["appointmentId"] = .string(appointmentID) }
        return body
    }

    func validated() throws(PlatformValidationError) -> BillingDTO {
        try BillingDTO(body: body)
    }

    /// `amount - coverage` in decimal, with as many decimals as the more precise of the two;
    /// "0" when either is not an amount or the coverage exceeds it (the body check then names
    /// the real problem).
    static func outstanding(_ amount: String, _ coverage: String) -> String {
        guard let total = MoneyAmount(value: amount, currency: nil).decimal, let covered = MoneyAmount(value: coverage, currency: nil).decimal, covered <= total else { return "0" }
        let scale = max(decimals(amount), decimals(coverage))
        var difference = total - covered
        var rounded = Decimal()
        NSDecimalRound(&rounded, &difference, scale, .plain)
        var text = "\(rounded)"
        guard scale > 0 else { return text }
        if !text.contains(".") { text += "." }
        let have = text.count - 1 - (text.firstIndex(of: ".").map { text.distance(from: text.startIndex, to: $0) } ?? 0)
        return text + String(repeating: "0", count: max(0, scale - have))
    }

    private static func decimals(_ text: String) -> Int {
        guard let dot = text.firstIndex(of: ".") else { return 0 }
        return text.distance(from: dot, to: text.endIndex) - 1
    }

    /// A platform field (`amount.value`, `insuranceCoverage.currency`) as the form's field name.
    static func formField(_ field: String) -> String {
        if field.hasSuffix(".currency") { return "currency" }
        if field.hasPrefix("amount") { return "amount" }
        if field.hasPrefix("insuranceCoverage") || field.hasPrefix("outstandingAmount") { return "insuranceCoverage" }
        return field
    }

    func data(problems: [FieldIssue]) -> [String: Any] {
        var data = WebFieldErrors(problems.map { (Self.formField($0.field), $0.issue) }).data
        data["form"] = true
        data["patientId"] = patientID
        data["appointmentId"] = appointmentID
        data["date"] = date
        data["currency"] = currency
        data["amount"] = amount
        data["coverage"] = coverage
        data["statuses"] = PaymentStatus.allCases.map { (item) -> [String: Any] in
            ["code": item.rawValue, "label": WebBillingPages.statusLabel(item), "selected": item.rawValue == status]
        }
        return data
    }
}

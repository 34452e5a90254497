import FHIRModels
import Foundation
import Hummingbird
import Mapping

/// The patient's pages (`/app/patient/…`): their chart summary, records (timeline and results),
/// appointments (list, book, cancel), prescriptions, bills, and who accessed their record.
/// Every page reads through the services as the signed-in patient, so what they see is what
/// the API would give them (their own compartment), and every view is audited there. The only
/// ids in these URLs are paging cursors and appointment ids; another patient's appointment id
/// gets the services' refusal (the 404 or 403 page), never a change.
struct WebPatientPages: Sendable {
    typealias Context = MedrecRequestContext
    let face: WebFace

    init(face: WebFace) {
        self.face = face
    }

    var view: WebView { face.view }
    var platform: PlatformServices { face.platform }
    var chart: WebPatientChart { WebPatientChart(platform: face.platform) }

    static let pageSize = 25

    func addRoutes(to pages: RouterGroup<Context>) {
        let group = pages.group("patient").add(middleware: RequireWebRole(roles: [.patient]))
        group.get("", use: summary)
        group.get("records", use: records)
        group.get("records/timeline", use: timeline)
        group.get("records/results", use: results)
        group.get("appointments", use: appointments)
        group.post("appointments", use: book)
        group.post("appointments/{id}/cancel", use: cancel)
        group.get("prescriptions", use: prescriptions)
        group.get("bills", use: bills)
        group.get("access", use: access)
    }

    /// The signed-in patient and their Patient id.
    private func me(_ context: Context) throws -> (caller: Caller, patientID: String) {
        let caller = try context.webCaller()
        guard let patientID = caller.principal.patientID else { throw WebError.forbidden }
        return (caller, patientID)
    }

    private static func cursor(_ request: Request) throws -> String? {
        guard let text = request.uri.queryParameters["cursor"].map(String.init), !text.isEmpty else { return nil }
        guard text.count <= 4096 else { throw WebError.badRequest("The page link is not valid.") }
        return text
    }

    // MARK: - Summary and records

    @Sendable func summary(_ request: Request, context: Context) async throws -> Response {
        let (caller, patientID) = try me(context)
        let data = try await chart.summary(patientID: patientID, as: caller)
        return view.page("patient/summary", title: "My summary", request: request, context: context, data: data)
    }

    /// The newest visits and notes and the newest results (with charts) on one page; older
    /// pages of each on their own page.
    @Sendable func records(_ request: Request, context: Context) async throws -> Response {
        let (caller, patientID) = try me(context)
        async let timeline = chart.timeline(patientID: patientID, cursor: nil, as: caller)
        async let results = chart.results(patientID: patientID, cursor: nil, as: caller)
        var timelineData = try await timeline
        timelineData["chartBase"] = "/app/patient/records/timeline"
        var resultsData = try await results
        resultsData["chartBase"] = "/app/patient/records/results"
        return view.page(
            "patient/records", title: "My records", request: request, context: context,
            data: ["timeline": timelineData, "results": resultsData])
    }

    @Sendable func timeline(_ request: Request, context: Context) async throws -> Response {
        let (caller, patientID) = try me(context)
        var data = try await chart.timeline(patientID: patientID, cursor: try Self.cursor(request), as: caller)
        data["chartBase"] = "/app/patient/records/timeline"
        return view.page("patient/timeline", title: "My visits and notes", request: request, context: context, data: ["timeline": data])
    }

    @Sendable func results(_ request: Request, context: Context) async throws -> Response {
        let (caller, patientID) = try me(context)
        var data = try await chart.results(patientID: patientID, cursor: try Self.cursor(request), as: caller)
        data["chartBase"] = "/app/patient/records/results"
        return view.page("patient/results", title: "My results", request: request, context: context, data: ["results": data])
    }

    // MARK: - Appointments

    @Sendable func appointments(_ request: Request, context: Context) async throws -> Response {
        var notice: String?
        switch request.uri.queryParameters["done"].map(String.init) {
        case "booked": notice = "Your appointment is booked."
        case "requested": notice = "Your request is sent: the practice will set the time."
        case "canceled": notice = "Your appointment is canceled."
        default: break
        }
        return try await appointmentsPage(request, context, form: [:], problems: [], notice: notice, status: .ok)
    }

    private func appointmentsPage(
        _ request: Request, _ context: Context, form: [String: String], problems: [(field: String, issue: String)],
        refusal: String? = nil, notice: String? = nil, status: HTTPResponse.Status
    ) async throws -> Response {
        let (caller, patientID) = try me(context)
        let cursor = try Self.cursor(request)
        let now = ISO8601DateFormatter().string(from: Date())
        async let upcoming = appointmentList(patientID, after: now, cursor: nil, as: caller)
        async let past = appointmentList(patientID, before: now, cursor: cursor, as: caller)
        async let requested = appointmentList(patientID, unscheduled: true, cursor: nil, as: caller)
        let directory = try await doctorDirectory(caller)
        var names: [String: String] = [:]
        for doctor in directory.doctors { names[doctor.id] = doctor.name }
        let upcomingPage = try await upcoming
        let pastPage = try await past
        let requestedPage = try await requested
        func rows(_ items: [PlatformRecords<AppointmentDTO>.Item], cancellable: Bool) -> [[String: Any]] {
            items.map { item in
                let model = item.model
                var row: [String: Any] = [
                    "id": item.stored.id,
                    "when": WebFormat.dateTime(model.dateTime) ?? "Requested, no time yet",
                    "status": (model.status ?? .scheduled).rawValue.capitalized,
                    "doctor": model.doctorID.map { names[$0] ?? "Doctor (\($0))" } ?? "No doctor named",
                ]
                row["reason"] = model.reasonForVisit
                row["isCanceled"] = model.status == .canceled
                row["canCancel"] = cancellable && model.status == .scheduled
                return row
            }
        }
        var data: [String: Any] = WebFieldErrors(problems).data
        // Requests (no time yet) are listed with the upcoming ones, first: the patient sees them
        // and can withdraw them like any other appointment.
        data["upcoming"] = rows(requestedPage.items, cancellable: true) + rows(upcomingPage.items, cancellable: true)
        data["hasUpcoming"] = !upcomingPage.items.isEmpty || !requestedPage.items.isEmpty
        data["past"] = rows(pastPage.items, cancellable: false)
        data["hasPast"] = !pastPage.items.isEmpty
        data["pastNext"] = pastPage.next
        data["isFirstPastPage"] = cursor == nil
        data["doctors"] = directory.doctors.map { doctor -> [String: Any] in
            ["id": doctor.id, "label": doctor.label, "selected": form["doctorId"] == doctor.id]
        }
        data["hasDoctors"] = !directory.doctors.isEmpty
        data["directoryRefused"] = directory.refused
        data["form"] = form
        data["minDateTime"] = String(now.prefix(16))
        if let refusal { data["refusal"] = refusal }
        if let notice { data["notice"] = notice }
        return view.page("patient/appointments", title: "My appointments", request: request, context: context, data: data, status: status)
    }

    /// Appointments of the patient from `after` on (soonest first, one page), before `before`
    /// (latest first, paged), or `unscheduled` requests that have no time yet (one page): the
    /// platform list with its `from`/`to` filters, or FHIR's `date:missing`.
    private func appointmentList(
        _ patientID: String, after: String? = nil, before: String? = nil, unscheduled: Bool = false, cursor: String?,
        as caller: Caller
    ) async throws -> (items: [PlatformRecords<AppointmentDTO>.Item], next: String?) {
        var search = PlatformFilters.Search()
        let filters = PlatformFilters.of(collection: "appointments")
        try filters.apply("patientId", patientID, to: &search)
        if let after { try filters.apply("from", after, to: &search) }
        if let before { try filters.apply("to", before, to: &search) }
        var items = search.items
        if unscheduled {
            items.append(("date:missing", "true"))
        } else {
            items.append(("_sort", after != nil ? "date" : "-date"))
        }
        items.append(("_count", String(Self.pageSize)))
        if let cursor { items.append(("_cursor", cursor)) }
        let window = unscheduled ? "date:missing=true" : after != nil ? "from=now" : "to=now"
        return try await platform.appointments.list(
            items, conditions: search.conditions, queryText: "patientId=\(patientID)&\(window)",
            maxCount: Self.pageSize, as: caller)
    }

    struct DirectoryEntry {
        let id: String
        let name: String
        let label: String
    }

    /// The doctor directory as the caller may read it; `refused` when the services refuse it.
    private func doctorDirectory(_ caller: Caller) async throws -> (doctors: [DirectoryEntry], refused: Bool) {
        do {
            let page = try await platform.doctors.list(
                [("_sort", "family"), ("_count", "100")], queryText: "directory", maxCount: 100, as: caller)
            let doctors = page.items.map { item -> DirectoryEntry in
                let name = "Dr. " + WebFormat.name(first: item.model.firstName, last: item.model.lastName)
                let label = [name, item.model.specialization].compactMap { $0 }.joined(separator: ", ")
                return DirectoryEntry(id: item.stored.id, name: name, label: label)
            }
            return (doctors, false)
        } catch is AccessDenied {
            return ([], true)
        }
    }

    /// Books an appointment: the same model and checks as `POST /appointments`, for the
    /// signed-in patient (the patient id is never a form field).
    @Sendable func book(_ request: Request, context: Context) async throws -> Response {
        let form = try await WebForm.read(request, context: context, csrfSecret: context.webFormSecret)
        let (caller, patientID) = try me(context)
        let entered: [String: String] = [
            "doctorId": form.text("doctorId") ?? "", "dateTime": form.text("dateTime") ?? "", "reason": form.text("reason") ?? "",
        ]
        var problems: [(field: String, issue: String)] = []
        var body: JSONObject = ["patientId": .string(patientID), "status": "scheduled"]
        if let doctor = form.text("doctorId") { body["doctorId"] = .string(doctor) }
        if let reason = form.text("reason") {
            if reason.count > 500 { problems.append(("reason", "must be at most 500 characters")) }
            body["reasonForVisit"] = .string(reason)
        }
        if let text = form.text("dateTime") {
            // A datetime-local control sends "YYYY-MM-DDThh:mm": the form says the time is UTC.
            let dateTime = text.count == 16 ? text + ":00Z" : text
            if let instant = PlatformDates.instant(dateTime), instant <= Date() {
                problems.append(("dateTime", "must be in the future"))
            }
            body["dateTime"] = .string(dateTime)
        }
        do {
            let model = try AppointmentDTO(body: body)
            guard problems.isEmpty else { throw PlatformValidationError([]) }
            _ = try await platform.appointments.create(model, as: caller)
        } catch let invalid as PlatformValidationError {
            problems += invalid.issues.map { ($0.field == "reasonForVisit" ? "reason" : $0.field, $0.issue) }
            return try await appointmentsPage(request, context, form: entered, problems: Self.labelled(problems), status: .unprocessableContent)
        } catch let unknown as any PlatformRecordsUnknownReferences {
            problems += unknown.referenceIssues.map { ($0.field, $0.field == "doctorId" ? "is not a doctor in the directory" : $0.issue) }
            return try await appointmentsPage(request, context, form: entered, problems: Self.labelled(problems), status: .unprocessableContent)
        } catch let refused as BookingRefused {
            // The doctor's schedule has no such slot (409) or the booking cannot be checked (422).
            problems.append(((refused.field ?? .dateTime).rawValue, refused.message))
            return try await appointmentsPage(
                request, context, form: entered, problems: Self.labelled(problems),
                status: refused.kind == .unavailable ? .conflict : .unprocessableContent)
        } catch let denied as AccessDenied where denied.kind == .forbidden {
            return try await appointmentsPage(
                request, context, form: entered, problems: [],
                refusal: "Your account may not book appointments here. Call the practice to book one.", status: .forbidden)
        }
        return WebView.redirect("/app/patient/appointments?done=\(form.text("dateTime") == nil ? "requested" : "booked")")
    }

    /// Form field names as the form labels them, for the error summary; the field key stays
    /// the input's id (the messages next to the fields use it).
    private static func labelled(_ problems: [(field: String, issue: String)]) -> [(field: String, issue: String)] {
        problems.map { problem in
            switch problem.field {
            case "doctorId": ("doctorId", problem.issue)
            case "dateTime": ("dateTime", problem.issue)
            case "reason": ("reason", problem.issue)
            default: ("doctorId", "\(problem.field) \(problem.issue)")
            }
        }
    }

    /// Cancels one of the patient's appointments. The id is the only input: the services decide
    /// whether this patient may cancel it (another patient's is refused and audited).
    @Sendable func cancel(_ request: Request, context: Context) async throws -> Response {
        _ = try await WebForm.read(request, context: context, csrfSecret: context.webFormSecret)
        let (caller, _) = try me(context)
        guard let id = context.parameters.get("id"), FHIRRequest.isValidID(id) else { throw WebError.notFound }
        guard try await platform.appointments.cancel(id: id, as: caller) != nil else { throw WebError.notFound }
        return WebView.redirect("/app/patient/appointments?done=canceled")
    }

    // MARK: - Prescriptions and bills

    @Sendable func prescriptions(_ request: Request, context: Context) async throws -> Response {
        let (caller, patientID) = try me(context)
        let cursor = try Self.cursor(request)
        var items: [(key: String, value: String)] = [("subject", "Patient/\(patientID)"), ("_sort", "-authoredon"), ("_count", String(Self.pageSize))]
        if let cursor { items.append(("_cursor", cursor)) }
        let page = try await platform.prescriptions.list(items, queryText: "patientId=\(patientID)", maxCount: Self.pageSize, as: caller)
        let rows = page.items.map { item -> [String: Any] in
            let model = item.model
            let resource = (try? item.stored.resource()) ?? nil
            var row: [String: Any] = ["medication": model.medication ?? "Unnamed medication"]
            row["issued"] = WebFormat.date(model.dateIssued)
            row["dosage"] = model.dosage
            row["instructions"] = model.instructions
            row["refills"] = model.refills.map(String.init)
            row["prescriber"] = resource?["requester"]?["display"]?.stringValue
            row["status"] = resource?["status"]?.stringValue.map(WebPatientChart.words)
            return row
        }
        return view.page(
            "patient/prescriptions", title: "My prescriptions", request: request, context: context,
            data: ["rows": rows, "hasRows": !rows.isEmpty, "nextCursor": page.next as Any, "isFirstPage": cursor == nil])
    }

    @Sendable func bills(_ request: Request, context: Context) async throws -> Response {
        let (caller, patientID) = try me(context)
        let cursor = try Self.cursor(request)
        var items: [(key: String, value: String)] = [("patient", "Patient/\(patientID)"), ("_sort", "-created"), ("_count", String(Self.pageSize))]
        if let cursor { items.append(("_cursor", cursor)) }
        let page = try await platform.billings.list(items, queryText: "patientId=\(patientID)", maxCount: Self.pageSize, as: caller)
        let rows = page.items.map { item -> [String: Any] in
            let model = item.model
            var row: [String: Any] = ["date": WebFormat.date(model.date) ?? "No date"]
            row["amount"] = WebFormat.money(model.amount)
            row["insurance"] = WebFormat.money(model.insuranceCoverage)
            row["outstanding"] = WebFormat.money(model.outstandingAmount)
            row["status"] = model.status.map { $0 == .paid ? "Paid" : "Pending" }
            row["isPaid"] = model.status == .paid
            return row
        }
        return view.page(
            "patient/bills", title: "My bills", request: request, context: context,
            data: ["rows": rows, "hasRows": !rows.isEmpty, "nextCursor": page.next as Any, "isFirstPage": cursor == nil])
    }

    // MARK: - Who accessed my record

    /// The audit trail of the patient's record, newest first, from `AuditTrailService` (which
    /// gives a patient only the events about their own record, and audits the reading).
    @Sendable func access(_ request: Request, context: Context) async throws -> Response {
        let (caller, patientID) = try me(context)
        let cursor = try Self.cursor(request)
        var before: Int64?
        if let cursor {
            guard let key = Int64(cursor), key > 0 else { throw WebError.badRequest("The page link is not valid.") }
            before = key
        }
        let trail = AuditTrailService(security: face.security)
        let page = try await trail.search(
            AuditTrailService.Filter(patient: patientID, before: before, count: Self.pageSize, queryText: "patient=\(patientID)"), as: caller)
        var doctorNames: [String: String] = [:]
        var rows: [[String: Any]] = []
        for event in page.events {
            var row = Self.accessRow(event, me: caller.principal)
            if let practitioner = row["practitionerID"] as? String {
                if doctorNames[practitioner] == nil {
                    doctorNames[practitioner] = await doctorName(practitioner, as: caller)
                }
                row["who"] = doctorNames[practitioner]
            }
            rows.append(row)
        }
        return view.page(
            "patient/access", title: "Who accessed my record", request: request, context: context,
            data: ["rows": rows, "hasRows": !rows.isEmpty, "nextCursor": page.next.map(String.init) as Any, "isFirstPage": cursor == nil])
    }

    /// A doctor's name as the directory shows it; "A doctor (id)" when it cannot be read.
    private func doctorName(_ id: String, as caller: Caller) async -> String {
        guard let doctor = try? await platform.doctors.read(id: id, as: caller) else { return "A doctor (\(id))" }
        return "Dr. " + WebFormat.name(first: doctor.model.firstName, last: doctor.model.lastName)
    }

    static let interactions: [String: String] = [
        "read": "Viewed", "vread": "Viewed an earlier version of", "search-type": "Searched", "search-system": "Searched",
        "search-compartment": "Searched", "history-instance": "Viewed the history of", "history-type": "Viewed the history of",
        "create": "Added", "update": "Changed", "patch": "Changed", "delete": "Deleted", "everything": "Viewed everything in",
    ]

    static let purposes: [String: String] = [
        "TREAT": "Treatment", "ETREAT": "Emergency treatment", "BTG": "Emergency access (break-glass)",
        "HOPERAT": "Healthcare operations", "PATADMIN": "Patient administration", "HPAYMT": "Billing and payment",
        "PATRQT": "Your own request", "PUBHLTH": "Public health", "HRESCH": "Research", "SYSADMN": "System administration",
    ]

    static let typeNames: [String: String] = [
        "Patient": "personal details", "Observation": "results and vital signs", "Condition": "conditions",
        "AllergyIntolerance": "allergies", "MedicationRequest": "prescriptions", "Encounter": "visits and appointments",
        "Composition": "medical records", "Claim": "bills", "ExplanationOfBenefit": "insurance statements",
        "Procedure": "procedures", "Immunization": "immunizations", "DiagnosticReport": "reports", "CarePlan": "care plans",
        "AuditEvent": "access log",
    ]

    /// One event as a row: who (role; a doctor's id to name), when, what, why, break-glass.
    static func accessRow(_ event: JSONValue, me: Principal) -> [String: Any] {
        let agent = (event["agent"]?.arrayValue ?? []).first { $0["requestor"]?.boolValue == true }
        let role = agent?["role"]?.arrayValue?.first?["coding"]?.arrayValue?.first?["code"]?.stringValue
        let reference = agent?["who"]?["reference"]?.stringValue
        let userID = agent?["who"]?["identifier"]?["value"]?.stringValue
        var row: [String: Any] = ["when": WebFormat.dateTime(event["recorded"]?.stringValue) ?? "Unknown time"]
        row["datetime"] = event["recorded"]?.stringValue
        switch role {
        case "patient":
            row["who"] = userID == me.subject ? "You" : "Another patient"
        case "doctor":
            if let reference, reference.hasPrefix("Practitioner/") {
                row["practitionerID"] = String(reference.dropFirst("Practitioner/".count))
            }
            row["who"] = "A doctor"
        case "billing": row["who"] = "Billing staff"
        case "admin": row["who"] = "An administrator"
        case "system": row["who"] = "A connected system"
        default: row["who"] = "Unknown"
        }
        row["role"] = role.map { WebView.roleLabel(Principal.Role(rawValue: $0) ?? .system) }
        let subtype = (event["subtype"]?.arrayValue ?? []).compactMap { $0["code"]?.stringValue }.last ?? ""
        var type: String?
        for entity in event["entity"]?.arrayValue ?? [] {
            if let what = entity["what"]?["reference"]?.stringValue, entity["role"]?["code"]?.stringValue == "4" {
                type = what.split(separator: "/").first.map(String.init)
                break
            }
            if let detail = entity["detail"]?.arrayValue?.first, detail["type"]?.stringValue == "resourceType" {
                type = detail["valueString"]?.stringValue
            }
        }
        let verb = interactions[subtype] ?? (subtype.isEmpty ? "Used" : WebPatientChart.words(subtype))
        let object = type.map { typeNames[$0] ?? $0 } ?? "your record"
        row["what"] = "\(verb) \(object)"
        let purpose = event["purposeOfEvent"]?.arrayValue?.first?["coding"]?.arrayValue?.first?["code"]?.stringValue
        row["why"] = purpose.map { purposes[$0] ?? $0 } ?? "Not stated"
        if purpose == "BTG" {
            row["breakGlass"] = true
            row["breakGlassReason"] = agent?["purposeOfUse"]?.arrayValue?.first?["text"]?.stringValue ?? "No reason given"
        }
        let outcome = event["outcome"]?.stringValue ?? "0"
        row["refused"] = outcome != "0"
        return row
    }
}

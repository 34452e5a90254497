import FHIRModels
import Foundation
import Hummingbird
import Mapping

/// The doctor's pages (`/app/doctor/…`): my patients, the patient index search, a patient's
/// chart (with break-glass when there is no care relationship), writing a medical-record entry,
/// prescribing, scheduling, rescheduling and cancelling appointments, and the schedule. A thin
/// face: every read, write, access decision and audit record is the services'.
///
/// Break-glass holds for one request, as on the API: the reason is typed into a form and carried
/// in the forms of the chart it opened (hidden `breakGlassReason` fields of POST forms), never in
/// a URL, header or cookie.
struct WebDoctorPages: Sendable {
    typealias Context = MedrecRequestContext
    let face: WebFace
    let index: PatientIndexService
    /// The same chart component as the patient's own pages: the doctor sees the sections the
    /// patient sees, read as the doctor (break-glass included) through the services.
    let chart: WebPatientChart

    init(face: WebFace) {
        self.face = face
        index = PatientIndexService(store: face.store, security: face.security)
        chart = WebPatientChart(platform: face.platform)
    }

    var view: WebView { face.view }
    var platform: PlatformServices { face.platform }

    static let maxReason = 200

    func addRoutes(to pages: RouterGroup<Context>) {
        let doctor = pages.group("doctor").add(middleware: RequireWebRole(roles: [.doctor]))
        doctor.get("", use: myPatients)
        doctor.get("search", use: search)
        doctor.get("schedule", use: schedule)
        for part in ChartPart.allCases {
            let path = RouterPath(part == .chart ? "patients/{id}" : "patients/{id}/\(part.rawValue)")
            doctor.get(path, use: { try await chartPage(part, $0, $1) })
            doctor.post(path, use: { try await chartWithBreakGlass(part, $0, $1) })
        }
        doctor.get("patients/{id}/entry", use: entryPage)
        doctor.post("patients/{id}/entry", use: writeEntry)
        doctor.get("patients/{id}/prescribe", use: prescribePage)
        doctor.post("patients/{id}/prescribe", use: prescribe)
        doctor.get("patients/{id}/appointments/new", use: newAppointmentPage)
        doctor.post("patients/{id}/appointments/new", use: createAppointment)
        doctor.get("appointments/{id}", use: reschedulePage)
        doctor.post("appointments/{id}", use: reschedule)
        doctor.post("appointments/{id}/cancel", use: cancelAppointment)
    }

    // MARK: - My patients

    /// The patients the doctor has a care relationship with: a doctor's Patient search shows
    /// exactly those (`AuditedAccess.restrictToVisible`), audited as a search.
    @Sendable func myPatients(_ request: Request, context: Context) async throws -> Response {
        let caller = try context.webCaller()
        var items: [(key: String, value: String)] = [("_count", "25")]
        if let cursor = Self.query(request, "cursor") { items.append(("_cursor", cursor)) }
        let page = try await platform.patients.list(items, queryText: "my patients", maxCount: 25, as: caller)
        let patients = page.items.map { item -> [String: Any] in
            var row: [String: Any] = [
                "id": item.stored.id, "name": WebFormat.name(first: item.model.firstName, last: item.model.lastName),
            ]
            if let born = WebFormat.date(item.model.dateOfBirth) { row["birthDate"] = born }
            if let gender = item.model.gender { row["gender"] = gender.rawValue }
            return row
        }
        var data: [String: Any] = ["patients": patients, "hasPatients": !patients.isEmpty]
        if let next = page.next { data["next"] = "/app/doctor?cursor=" + Self.encoded(next) }
        return view.page("doctor/patients", title: "My patients", request: request, context: context, data: data)
    }

    // MARK: - Patient search (the patient index)

    @Sendable func search(_ request: Request, context: Context) async throws -> Response {
        let name = Self.query(request, "name"), birthDate = Self.query(request, "birthDate")
        let identifier = Self.query(request, "identifier")
        var data: [String: Any] = [:]
        if let name { data["name"] = name }
        if let birthDate { data["birthDate"] = birthDate }
        if let identifier { data["identifier"] = identifier }
        var status: HTTPResponse.Status = .ok
        let query = PatientIndexService.Query(name: name, birthDate: birthDate, identifier: identifier)
        if !query.isEmpty {
            do {
                let found = try await index.search(query, as: try context.webCaller())
                data["searched"] = true
                data["hasResults"] = !found.isEmpty
                data["results"] = found.map { entry -> [String: Any] in
                    var row: [String: Any] = ["id": entry.id, "name": entry.name ?? "(no name)"]
                    if let born = WebFormat.date(entry.birthDate) { row["birthDate"] = born }
                    if let gender = entry.gender { row["gender"] = gender }
                    row["identifiers"] = entry.identifiers.map { ["label": $0.label ?? "Identifier", "value": $0.value] }
                    return row
                }
            } catch let invalid as PatientIndexService.InvalidQuery {
                data.merge(WebFieldErrors(invalid.issues.map { ($0.field, $0.issue) }).data) { $1 }
                status = .unprocessableContent
            }
        }
        return view.page("doctor/search", title: "Find a patient", request: request, context: context, data: data, status: status)
    }

    // MARK: - The chart

    /// The chart's pages: the chart itself (the summary and the newest visits and notes), and,
    /// one step away, the visits and notes or the results (tables and charts), paged by `cursor`.
    enum ChartPart: String, Sendable, CaseIterable {
        case chart, timeline, results
    }

    /// A chart page. Without a care relationship (or without such a patient: the same page) it
    /// asks for a break-glass reason.
    @Sendable func chartPage(_ part: ChartPart, _ request: Request, _ context: Context) async throws -> Response {
        let id = try Self.patientID(context)
        return try await askingForBreakGlass(id, request, context) {
            try await chartView(part, id, cursor: Self.query(request, "cursor"), reason: nil, request, context)
        }
    }

    /// The break-glass form's answer, and the chart's own POST forms under break-glass (which
    /// carry the reason and the cursor): the page under emergency access, for this request only.
    @Sendable func chartWithBreakGlass(_ part: ChartPart, _ request: Request, _ context: Context) async throws -> Response {
        let id = try Self.patientID(context)
        let form = try await WebForm.read(request, context: context, csrfSecret: context.webFormSecret)
        switch Self.requiredReason(form) {
        case .failure(let problem): return breakGlassForm(id, request, context, reason: form["breakGlassReason"], problems: [problem.pair])
        case .success(let reason): return try await chartView(part, id, cursor: form.text("cursor"), reason: reason, request, context)
        }
    }

    /// A reason that must be there (the chart's POSTs are break-glass only).
    private static func requiredReason(_ form: WebForm) -> Result<String, FieldProblem> {
        switch breakGlassReason(form) {
        case .success(let given?): .success(given)
        case .success(nil): .failure(FieldProblem(field: "breakGlassReason", issue: "enter the reason for emergency access"))
        case .failure(let problem): .failure(problem)
        }
    }

    /// `view`, or the break-glass form when the services hide the patient from this doctor
    /// (no care relationship) or there is no such patient: whether it exists is not told.
    private func askingForBreakGlass(
        _ id: String, _ request: Request, _ context: Context, _ view: () async throws -> Response
    ) async throws -> Response {
        do {
            return try await view()
        } catch let denied as AccessDenied where denied.kind == .hidden {
            return breakGlassForm(id, request, context)
        } catch let error as StoreError {
            switch error.code {
            case .notFound, .gone: return breakGlassForm(id, request, context)
            default: throw error
            }
        }
    }

    private func chartView(
        _ part: ChartPart, _ id: String, cursor: String?, reason: String?, notice: String? = nil, _ request: Request, _ context: Context
    ) async throws -> Response {
        switch part {
        case .chart: return try await mainChartView(id, reason: reason, notice: notice, request, context)
        case .timeline, .results: return try await sectionView(part, id, cursor: cursor, reason: reason, request, context)
        }
    }

    private func mainChartView(
        _ id: String, reason: String?, notice: String?, _ request: Request, _ context: Context
    ) async throws -> Response {
        let caller = try context.webCaller(breakGlassReason: reason)
        // The Patient read inside `summary` comes first: a refused chart asks nothing else.
        let summary = try await chart.summary(patientID: id, as: caller)
        let base = "/app/doctor/patients/\(id)"
        var timelineData = try await chart.timeline(patientID: id, cursor: nil, as: caller)
        timelineData["chartBase"] = base + "/timeline"
        var data: [String: Any] = ["summary": summary, "timeline": timelineData, "patientID": id, "patientBase": base]
        if let reason { data["breakGlass"] = ["reason": reason] }
        if let notice = notice ?? Self.query(request, "done") { data["notice"] = Self.notices[notice] }
        let name = (summary["patient"] as? [String: Any])?["name"] as? String ?? "Patient"
        return view.page("doctor/chart", title: name, request: request, context: context, data: data)
    }

    private func sectionView(
        _ section: ChartPart, _ id: String, cursor: String?, reason: String?, _ request: Request, _ context: Context
    ) async throws -> Response {
        let caller = try context.webCaller(breakGlassReason: reason)
        // The Patient first (its name is the title): a refused chart asks nothing else.
        let patient = try await platform.patients.read(id: id, as: caller)
        let base = "/app/doctor/patients/\(id)"
        var data: [String: Any] = ["patientID": id, "patientBase": base, "onSection": true]
        var sectionData: [String: Any]
        switch section {
        case .chart, .timeline: sectionData = try await chart.timeline(patientID: id, cursor: cursor, as: caller)
        case .results: sectionData = try await chart.results(patientID: id, cursor: cursor, as: caller)
        }
        sectionData["chartBase"] = base + "/" + section.rawValue
        data[section.rawValue] = sectionData
        if let reason { data["breakGlass"] = ["reason": reason] }
        let name = WebFormat.name(first: patient.model.firstName, last: patient.model.lastName)
        let title = section == .timeline ? "Visits and notes of \(name)" : "Results of \(name)"
        return view.page("doctor/chart-section", title: title, request: request, context: context, data: data)
    }

    private static let notices = [
        "entry": "The medical-record entry was saved.", "prescription": "The prescription was saved.",
        "appointment": "The appointment was saved.",
    ]

    private func breakGlassForm(
        _ id: String, _ request: Request, _ context: Context, reason: String? = nil, problems: [(String, String)] = []
    ) -> Response {
        var data = WebFieldErrors(problems.map { (field: $0.0, issue: $0.1) }).data
        data["patientID"] = id
        data["maxReason"] = Self.maxReason
        if let reason { data["reason"] = String(reason.prefix(Self.maxReason * 2)) }
        return view.page(
            "doctor/break-glass", title: "No care relationship", request: request, context: context, data: data,
            status: problems.isEmpty ? .ok : .unprocessableContent)
    }

    // MARK: - Write a medical-record entry

    @Sendable func entryPage(_ request: Request, context: Context) async throws -> Response {
        writeForm("doctor/entry", title: "New medical-record entry", try Self.patientID(context), request, context)
    }

    @Sendable func writeEntry(_ request: Request, context: Context) async throws -> Response {
        let id = try Self.patientID(context)
        let form = try await WebForm.read(request, context: context, csrfSecret: context.webFormSecret)
        let template = "doctor/entry", title = "New medical-record entry"
        let reason: String?
        switch Self.breakGlassReason(form) {
        case .success(let given): reason = given
        case .failure(let problem): return writeForm(template, title: title, id, request, context, form: form, problems: [problem.pair])
        }
        if form["show"] == "1" { return writeForm(template, title: title, id, request, context, reason: reason) }
        var body = JSONObject()
        body["patientId"] = .string(id)
        for field in ["diagnosis", "treatment", "notes"] {
            if let value = form.text(field) { body[field] = .string(value) }
        }
        do {
            let model = try MedicalRecordDTO(body: body)
            _ = try await platform.medicalRecords.create(model, as: try context.webCaller(breakGlassReason: reason))
        } catch {
            guard let problems = Self.fieldProblems(error) else { throw error }
            return writeForm(template, title: title, id, request, context, form: form, reason: reason, problems: problems)
        }
        return try await afterWrite(id, notice: "entry", reason: reason, request, context)
    }

    // MARK: - Prescribe

    @Sendable func prescribePage(_ request: Request, context: Context) async throws -> Response {
        writeForm("doctor/prescribe", title: "Prescribe", try Self.patientID(context), request, context)
    }

    @Sendable func prescribe(_ request: Request, context: Context) async throws -> Response {
        let id = try Self.patientID(context)
        let form = try await WebForm.read(request, context: context, csrfSecret: context.webFormSecret)
        let template = "doctor/prescribe", title = "Prescribe"
        let reason: String?
        switch Self.breakGlassReason(form) {
        case .success(let given): reason = given
        case .failure(let problem): return writeForm(template, title: title, id, request, context, form: form, problems: [problem.pair])
        }
        if form["show"] == "1" { return writeForm(template, title: title, id, request, context, reason: reason) }
        let caller = try context.webCaller(breakGlassReason: reason)
        var body = JSONObject()
        body["patientId"] = .string(id)
        if let me = caller.principal.practitionerID { body["doctorId"] = .string(me) }
        body["dateIssued"] = .string(String(ISO8601DateFormatter().string(from: Date()).prefix(10)))
        for field in ["medication", "dosage", "instructions"] {
            if let value = form.text(field) { body[field] = .string(value) }
        }
        if let refills = form.text("refills") {
            body["refills"] = refills.allSatisfy(\.isASCIIDigit) && refills.count < 10 ? .number(refills) : .string(refills)
        }
        do {
            let model = try PrescriptionDTO(body: body)
            _ = try await platform.prescriptions.create(model, as: caller)
        } catch {
            guard let problems = Self.fieldProblems(error) else { throw error }
            return writeForm(template, title: title, id, request, context, form: form, reason: reason, problems: problems)
        }
        return try await afterWrite(id, notice: "prescription", reason: reason, request, context)
    }

    // MARK: - Appointments

    @Sendable func newAppointmentPage(_ request: Request, context: Context) async throws -> Response {
        writeForm("doctor/appointment", title: "Schedule an appointment", try Self.patientID(context), request, context)
    }

    @Sendable func createAppointment(_ request: Request, context: Context) async throws -> Response {
        let id = try Self.patientID(context)
        let form = try await WebForm.read(request, context: context, csrfSecret: context.webFormSecret)
        let template = "doctor/appointment", title = "Schedule an appointment"
        let reason: String?
        switch Self.breakGlassReason(form) {
        case .success(let given): reason = given
        case .failure(let problem): return writeForm(template, title: title, id, request, context, form: form, problems: [problem.pair])
        }
        if form["show"] == "1" { return writeForm(template, title: title, id, request, context, reason: reason) }
        let caller = try context.webCaller(breakGlassReason: reason)
        let body = Self.appointmentBody(form, patientID: id, doctorID: caller.principal.practitionerID)
        let created: PlatformRecords<AppointmentDTO>.Item
        do {
            created = try await platform.appointments.create(try AppointmentDTO(body: body), as: caller)
        } catch {
            guard let problems = Self.fieldProblems(error) else { throw error }
            return writeForm(template, title: title, id, request, context, form: form, reason: reason, problems: problems)
        }
        return WebView.redirect(Self.scheduleLink(for: created.model.dateTime, notice: true))
    }

    @Sendable func reschedulePage(_ request: Request, context: Context) async throws -> Response {
        let id = try Self.appointmentID(context)
        let item = try await platform.appointments.read(id: id, as: try context.webCaller())
        return appointmentForm(item.model, id: id, version: item.stored.versionID, request, context)
    }

    @Sendable func reschedule(_ request: Request, context: Context) async throws -> Response {
        let id = try Self.appointmentID(context)
        let form = try await WebForm.read(request, context: context, csrfSecret: context.webFormSecret)
        let caller = try context.webCaller()
        // The patient and doctor are the stored appointment's, never the form's.
        let current = try await platform.appointments.read(id: id, as: caller)
        var body = Self.appointmentBody(form, patientID: current.model.patientID ?? "", doctorID: current.model.doctorID)
        body["status"] = .string((current.model.status ?? .scheduled).rawValue)
        let updated: PlatformRecords<AppointmentDTO>.Item
        do {
            updated = try await platform.appointments.update(
                id: id, try AppointmentDTO(body: body), ifMatch: Int(form["version"] ?? ""), as: caller)
        } catch {
            guard let problems = Self.fieldProblems(error) else { throw error }
            var model = current.model
            model.dateTime = form.text("dateTime")
            model.reasonForVisit = form.text("reasonForVisit")
            model.notes = form.text("notes")
            return appointmentForm(model, id: id, version: current.stored.versionID, request, context, problems: problems)
        }
        return WebView.redirect(Self.scheduleLink(for: updated.model.dateTime, notice: true))
    }

    @Sendable func cancelAppointment(_ request: Request, context: Context) async throws -> Response {
        let id = try Self.appointmentID(context)
        _ = try await WebForm.read(request, context: context, csrfSecret: context.webFormSecret)
        let canceled = try await platform.appointments.cancel(id: id, as: try context.webCaller())
        return WebView.redirect(Self.scheduleLink(for: canceled?.model.dateTime, notice: true))
    }

    private func appointmentForm(
        _ model: AppointmentDTO, id: String, version: Int? = nil, _ request: Request, _ context: Context,
        problems: [(String, String)] = []
    ) -> Response {
        var data = WebFieldErrors(problems.map { (field: $0.0, issue: $0.1) }).data
        data["action"] = "/app/doctor/appointments/\(id)"
        data["appointmentID"] = id
        data["rescheduling"] = true
        if let patient = model.patientID { data["patientID"] = patient }
        if let version { data["version"] = version }
        var values: [String: String] = [:]
        if let dateTime = model.dateTime { values["dateTime"] = Self.localInput(dateTime) }
        if let reason = model.reasonForVisit { values["reasonForVisit"] = reason }
        if let notes = model.notes { values["notes"] = notes }
        data["values"] = values
        if model.status == .canceled { data["canceled"] = true }
        return view.page(
            "doctor/appointment", title: "Reschedule the appointment", request: request, context: context, data: data,
            status: problems.isEmpty ? .ok : .unprocessableContent)
    }

    /// The platform body of an appointment form; `dateTime` from a `datetime-local` field is UTC.
    static func appointmentBody(_ form: WebForm, patientID: String, doctorID: String?) -> JSONObject {
        var body = JSONObject()
        body["patientId"] = .string(patientID)
        if let doctorID { body["doctorId"] = .string(doctorID) }
        body["status"] = .string(AppointmentStatus.scheduled.rawValue)
        if let text = form.text("dateTime") { body["dateTime"] = .string(utcDateTime(text)) }
        for field in ["reasonForVisit", "notes"] {
            if let value = form.text(field) { body[field] = .string(value) }
        }
        return body
    }

    /// "2026-12-07T09:30" (a `datetime-local` value) → "2026-12-07T09:30:00Z"; anything else as typed.
    static func utcDateTime(_ text: String) -> String {
        let pattern = #/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/#
        guard let match = text.wholeMatch(of: pattern) else { return text }
        return text + (match.1 == nil ? ":00Z" : "Z")
    }

    /// A stored dateTime as a `datetime-local` value in UTC.
    static func localInput(_ text: String) -> String {
        guard let instant = PlatformDates.instant(text) else { return text }
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm"
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: instant)
    }

    static func scheduleLink(for dateTime: String?, notice: Bool) -> String {
        var link = "/app/doctor/schedule"
        if let dateTime, dateTime.count >= 10, PlatformFormat.isDate(String(dateTime.prefix(10))) {
            link += "?date=" + dateTime.prefix(10)
            if notice { link += "&saved=1" }
        } else if notice {
            link += "?saved=1"
        }
        return link
    }

    // MARK: - Schedule

    @Sendable func schedule(_ request: Request, context: Context) async throws -> Response {
        let caller = try context.webCaller()
        guard let me = caller.principal.practitionerID else { throw WebError.forbidden }
        let week = Self.query(request, "view") == "week"
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let today = calendar.startOfDay(for: Date())
        var start = today
        if let text = Self.query(request, "date") {
            guard PlatformFormat.isDate(text), let day = PlatformDates.instant(text) else { throw WebError.badRequest("the date is not a date") }
            start = calendar.startOfDay(for: day)
        }
        if week {
            // Weeks start on Monday.
            let weekday = calendar.component(.weekday, from: start)
            start = calendar.date(byAdding: .day, value: -((weekday + 5) % 7), to: start)!
        }
        let days = week ? 7 : 1
        let end = calendar.date(byAdding: .day, value: days, to: start)!
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        var search = PlatformFilters.Search()
        let filters = PlatformFilters.of(collection: "appointments")
        try filters.apply("doctorId", me, to: &search)
        try filters.apply("from", formatter.string(from: start), to: &search)
        try filters.apply("to", formatter.string(from: end), to: &search)
        search.items += [("_sort", "date"), ("_count", "100")]
        let page = try await platform.appointments.list(
            search.items, conditions: search.conditions, queryText: "schedule", maxCount: 100, as: caller)
        // The patients' names, each read once (audited reads, as on the API).
        var names: [String: String] = [:]
        for patient in Set(page.items.compactMap(\.model.patientID)) {
            if let item = try? await platform.patients.read(id: patient, as: caller) {
                names[patient] = WebFormat.name(first: item.model.firstName, last: item.model.lastName)
            }
        }
        let dayFormat = DateFormatter()
        dayFormat.dateFormat = "yyyy-MM-dd"
        dayFormat.timeZone = TimeZone(identifier: "UTC")
        dayFormat.locale = Locale(identifier: "en_US_POSIX")
        var byDay: [(day: String, rows: [[String: Any]])] = (0..<days).map { offset -> (day: String, rows: [[String: Any]]) in
            (dayFormat.string(from: calendar.date(byAdding: .day, value: offset, to: start)!), [])
        }
        for item in page.items {
            let model = item.model
            let day = String((model.dateTime.flatMap(PlatformDates.instant).map(dayFormat.string(from:)) ?? "").prefix(10))
            var row: [String: Any] = ["id": item.stored.id, "time": WebFormat.dateTime(model.dateTime) ?? "—"]
            if let patient = model.patientID {
                row["patientID"] = patient
                row["patientName"] = names[patient] ?? "Patient \(patient)"
            }
            if let reason = model.reasonForVisit { row["reason"] = reason }
            let status = model.status ?? .scheduled
            row["status"] = status.rawValue
            if status == .scheduled { row["open"] = true }
            if let index = byDay.firstIndex(where: { $0.day == day }) { byDay[index].rows.append(row) }
        }
        let step = week ? 7 : 1
        let viewName = week ? "week" : "day"
        func link(_ offset: Int, view: String) -> String {
            "/app/doctor/schedule?view=\(view)&date=" + dayFormat.string(from: calendar.date(byAdding: .day, value: offset, to: start)!)
        }
        var data: [String: Any] = [
            "days": byDay.map { day -> [String: Any] in
                ["label": WebFormat.date(day.day) ?? day.day, "date": day.day, "appointments": day.rows, "empty": day.rows.isEmpty]
            },
            "week": week, "previous": link(-step, view: viewName), "next": link(step, view: viewName),
            "dayView": link(0, view: "day"), "weekView": link(0, view: "week"),
            "range": week
                ? "\(WebFormat.date(dayFormat.string(from: start)) ?? "") to \(WebFormat.date(dayFormat.string(from: end.addingTimeInterval(-1))) ?? "")"
                : WebFormat.date(dayFormat.string(from: start)) ?? "",
        ]
        if Self.query(request, "saved") != nil { data["notice"] = "The appointment was saved." }
        return view.page("doctor/schedule", title: "My schedule", request: request, context: context, data: data)
    }

    // MARK: - Parts

    /// A write form: empty, or again with what was typed and the problems next to the fields.
    private func writeForm(
        _ template: String, title: String, _ id: String, _ request: Request, _ context: Context, form: WebForm? = nil,
        reason: String? = nil, problems: [(String, String)] = []
    ) -> Response {
        var data = WebFieldErrors(problems.map { (field: $0.0, issue: $0.1) }).data
        data["patientID"] = id
        data["action"] = request.uri.path
        data["chartBase"] = "/app/doctor/patients/\(id)"
        if let reason { data["breakGlass"] = ["reason": reason] }
        if let form {
            var values: [String: String] = [:]
            for field in ["diagnosis", "treatment", "notes", "medication", "dosage", "instructions", "refills", "dateTime", "reasonForVisit"] {
                if let value = form[field] { values[field] = value }
            }
            data["values"] = values
        }
        return view.page(template, title: title, request: request, context: context, data: data, status: problems.isEmpty ? .ok : .unprocessableContent)
    }

    /// After a write: back to the chart (a GET), or, under break-glass, the chart again in this
    /// response (break-glass does not outlive the request, so a redirect would lose it).
    private func afterWrite(_ id: String, notice: String, reason: String?, _ request: Request, _ context: Context) async throws -> Response {
        guard let reason else { return WebView.redirect("/app/doctor/patients/\(id)?done=\(notice)") }
        return try await chartView(.chart, id, cursor: nil, reason: reason, notice: notice, request, context)
    }

    /// The form's break-glass reason: nil when none was given, a field problem when too long.
    static func breakGlassReason(_ form: WebForm) -> Result<String?, FieldProblem> {
        guard let reason = form.text("breakGlassReason") else { return .success(nil) }
        guard reason.count <= maxReason else {
            return .failure(FieldProblem(field: "breakGlassReason", issue: "must be at most \(maxReason) characters"))
        }
        return .success(reason)
    }

    struct FieldProblem: Error {
        let field: String
        let issue: String
    }

    /// Field problems of a platform error (validation, unknown references), nil for others.
    static func fieldProblems(_ error: any Error) -> [(String, String)]? {
        switch error {
        case let invalid as PlatformValidationError: invalid.issues.map { ($0.field, $0.issue) }
        case let unknown as any PlatformRecordsUnknownReferences: unknown.referenceIssues.map { ($0.field, $0.issue) }
        default: nil
        }
    }

    static func query(_ request: Request, _ name: String) -> String? {
        // As a form encodes it (`+` for a space), the way `WebForm` reads a posted one.
        let fields = WebForm.parse(request.uri.query ?? "")
        guard let value = fields.first(where: { $0.name == name })?.value.trimmingCharacters(in: .whitespacesAndNewlines),
              !value.isEmpty else { return nil }
        return value
    }

    static func patientID(_ context: Context) throws -> String {
        guard let id = context.parameters.get("id"), FHIRRequest.isValidID(id) else { throw WebError.notFound }
        return id
    }

    static func appointmentID(_ context: Context) throws -> String {
        try patientID(context)
    }

    static func encoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
    }
}

extension WebDoctorPages.FieldProblem {
    var pair: (String, String) { (field, issue) }
}

private extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

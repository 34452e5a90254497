import FHIRModels
import Foundation
import Hummingbird
import Mapping

/// The administrators' pages (`/app/admin/…`): pending doctors to approve, users (disable,
/// role change), the doctor directory, system clients (the secret shown once), the audit log
/// with filters, and the server's status. A thin face over `AdminService`,
/// `PlatformRecords<DoctorDTO>`, `AuditTrailService` and `StatusService`, which confirm the
/// caller is an administrator, decide and audit; `RequireWebRole` is navigation only.
struct WebAdminPages: Sendable {
    typealias Context = MedrecRequestContext
    let face: WebFace

    init(face: WebFace) {
        self.face = face
    }

    var view: WebView { face.view }
    var admin: AdminService { AdminService(security: face.security) }
    var trail: AuditTrailService { AuditTrailService(security: face.security) }
    var status: StatusService { StatusService(security: face.security) }
    var doctors: PlatformRecords<DoctorDTO> { face.platform.doctors }

    static let pageSize = 25

    func addRoutes(to pages: RouterGroup<Context>) {
        let admin = pages.group("admin").add(middleware: RequireWebRole(roles: [.admin]))
        admin.get("", use: pending)
        admin.get("users", use: users)
        admin.get("users/{id}", use: user)
        admin.post("users/{id}/approve", use: approve)
        admin.post("users/{id}/disable", use: disable)
        admin.post("users/{id}/role", use: changeRole)
        admin.get("doctors", use: doctorList)
        admin.get("doctors/new", use: newDoctor)
        admin.post("doctors/new", use: createDoctor)
        admin.get("doctors/{id}", use: editDoctor)
        admin.post("doctors/{id}", use: updateDoctor)
        admin.get("clients", use: clients)
        admin.post("clients", use: createClient)
        admin.post("clients/{id}/revoke", use: revokeClient)
        admin.get("audit", use: auditLog)
        admin.get("status", use: statusPage)
    }

    // MARK: - Notices

    /// What a redirect after a change says; only these fixed texts, never input.
    static let notices = [
        "approved": "The doctor's account is approved; they can sign in now.",
        "disabled": "The account is disabled and its sessions have ended.",
        "role": "The role is changed; the account's sessions have ended.",
        "doctor-added": "The doctor is in the directory.",
        "doctor-saved": "The doctor's entry is saved.",
        "revoked": "The client is revoked; its tokens no longer work.",
    ]

    static func notice(_ request: Request) -> [String: Any] {
        guard let key = request.uri.queryParameters["done"].map(String.init), let text = notices[key] else { return [:] }
        return ["notice": text]
    }

    /// A refusal as a page; field problems are rendered by each form.
    private func refusal(_ refused: AdminService.Refused, _ request: Request, _ context: Context) throws -> Response {
        let message: String
        switch refused {
        case .unknownUser, .unknownClient: throw WebError.notFound
        case .ownAccount: message = "Administrators cannot approve, disable or change the role of their own account."
        case .notPending: message = "This account is not waiting for approval."
        case .invalid: message = "The request is not valid. Go back and check the form."
        }
        return view.page("error", title: "Not possible", request: request, context: context, data: ["message": message], status: .conflict)
    }

    // MARK: - Users

    static func userRow(_ account: UserAccount, me: String) -> [String: Any] {
        var row: [String: Any] = [
            "id": account.id, "email": account.email ?? "(address unreadable)", "role": WebView.roleLabel(account.role),
            "roleCode": account.role.rawValue, "status": account.status.rawValue,
            "created": WebFormat.dateTime(account.createdAt), "isSelf": account.id == me,
            "pending": account.status == .pending, "disabled": account.status == .disabled,
        ]
        if let link = account.fhirUser { row["fhirUser"] = link }
        return row
    }

    /// `/app/admin`: doctors who registered and wait for approval.
    @Sendable func pending(_ request: Request, context: Context) async throws -> Response {
        let caller = try context.webCaller()
        let cursor = request.uri.queryParameters["cursor"].map(String.init)
        let page = try await listing { try await admin.users(after: cursor, limit: Self.pageSize, status: .pending, role: .doctor, as: caller) }
        var data = Self.notice(request)
        data["users"] = page.users.map { Self.userRow($0, me: caller.principal.subject) }
        data["hasUsers"] = !page.users.isEmpty
        if let next = page.next { data["next"] = "/app/admin?cursor=" + Self.encode(next) }
        return view.page("admin/pending", title: "Pending doctors", request: request, context: context, data: data)
    }

    /// `/app/admin/users`: every account, paged by id.
    @Sendable func users(_ request: Request, context: Context) async throws -> Response {
        let caller = try context.webCaller()
        let cursor = request.uri.queryParameters["cursor"].map(String.init)
        let page = try await listing { try await admin.users(after: cursor, limit: Self.pageSize, as: caller) }
        var data = Self.notice(request)
        data["users"] = page.users.map { Self.userRow($0, me: caller.principal.subject) }
        data["hasUsers"] = !page.users.isEmpty
        if let next = page.next { data["next"] = "/app/admin/users?cursor=" + Self.encode(next) }
        if cursor != nil { data["first"] = "/app/admin/users" }
        return view.page("admin/users", title: "Users", request: request, context: context, data: data)
    }

    @Sendable func user(_ request: Request, context: Context) async throws -> Response {
        try await userPage(request, context, problems: [], role: nil, fhirUser: nil, status: .ok)
    }

    private func userPage(
        _ request: Request, _ context: Context, problems: [(field: String, issue: String)], role: String?, fhirUser: String?,
        status: HTTPResponse.Status
    ) async throws -> Response {
        let caller = try context.webCaller()
        let id = try context.parameters.require("id")
        let account: UserAccount
        do {
            account = try await admin.user(id: id, as: caller)
        } catch let refused as AdminService.Refused {
            return try refusal(refused, request, context)
        }
        var data = Self.notice(request).merging(WebFieldErrors(problems).data) { $1 }
        let row = Self.userRow(account, me: caller.principal.subject)
        data["user"] = row
        let chosen = role ?? account.role.rawValue
        data["roles"] = [Principal.Role.patient, .doctor, .billing, .admin].map { (item) -> [String: Any] in
            ["code": item.rawValue, "label": WebView.roleLabel(item), "selected": item.rawValue == chosen]
        }
        data["fhirUserValue"] = fhirUser ?? account.fhirUser ?? ""
        return view.page("admin/user", title: "User", request: request, context: context, data: data, status: status)
    }

    @Sendable func approve(_ request: Request, context: Context) async throws -> Response {
        _ = try await WebForm.read(request, context: context, csrfSecret: context.webFormSecret)
        let id = try context.parameters.require("id")
        do {
            _ = try await admin.approve(userID: id, as: try context.webCaller())
        } catch let refused as AdminService.Refused {
            return try refusal(refused, request, context)
        }
        return WebView.redirect("/app/admin?done=approved")
    }

    @Sendable func disable(_ request: Request, context: Context) async throws -> Response {
        _ = try await WebForm.read(request, context: context, csrfSecret: context.webFormSecret)
        let id = try context.parameters.require("id")
        do {
            _ = try await admin.disable(userID: id, as: try context.webCaller())
        } catch let refused as AdminService.Refused {
            return try refusal(refused, request, context)
        }
        return WebView.redirect("/app/admin/users/\(Self.encode(id))?done=disabled")
    }

    @Sendable func changeRole(_ request: Request, context: Context) async throws -> Response {
        let form = try await WebForm.read(request, context: context, csrfSecret: context.webFormSecret)
        let id = try context.parameters.require("id")
        let roleText = form.text("role")
        let fhirUser = form.text("fhirUser")
        var problems: [(field: String, issue: String)] = []
        let role = roleText.flatMap(Principal.Role.init(rawValue:))
        if role == nil || role == .system { problems.append(("role", "must be patient, doctor, billing or administrator")) }
        if let fhirUser, fhirUser.count > 128 || PatientCompartment.referenceTarget(fhirUser) == nil {
            problems.append(("fhirUser", "must be a reference such as Patient/123 or Practitioner/456"))
        }
        if let role, problems.isEmpty {
            do {
                _ = try await admin.changeRole(userID: id, to: role, fhirUser: fhirUser, as: try context.webCaller())
                return WebView.redirect("/app/admin/users/\(Self.encode(id))?done=role")
            } catch let refused as AdminService.Refused {
                guard case .invalid(let issues) = refused else { return try refusal(refused, request, context) }
                problems = issues.map { ($0.field, $0.issue) }
            }
        }
        return try await userPage(request, context, problems: problems, role: roleText, fhirUser: fhirUser, status: .unprocessableContent)
    }

    // MARK: - Doctor directory

    @Sendable func doctorList(_ request: Request, context: Context) async throws -> Response {
        let caller = try context.webCaller()
        var items: [(key: String, value: String)] = [("_count", String(Self.pageSize))]
        let cursor = request.uri.queryParameters["cursor"].map(String.init)
        if let cursor { items.append(("_cursor", cursor)) }
        let page = try await doctors.list(items, queryText: "", maxCount: 100, as: caller)
        var data = Self.notice(request)
        data["doctors"] = page.items.map { item -> [String: Any] in
            let doctor = item.model
            return [
                "id": item.stored.id, "name": WebFormat.name(first: doctor.firstName, last: doctor.lastName),
                "specialization": doctor.specialization ?? "", "schedule": Self.scheduleText(doctor.workSchedule),
            ]
        }
        data["hasDoctors"] = !page.items.isEmpty
        if let next = page.next { data["next"] = "/app/admin/doctors?cursor=" + Self.encode(next) }
        return view.page("admin/doctors", title: "Doctor directory", request: request, context: context, data: data)
    }

    /// "Mon, Tue, Wed 09:00–17:00; Sat 10:00–12:00".
    static func scheduleText(_ schedule: [WorkSchedule]) -> String {
        schedule.map { slot in
            let days = slot.daysOfWeek.map { $0.rawValue.prefix(1).uppercased() + $0.rawValue.dropFirst() }.joined(separator: ", ")
            let hours = [slot.startTime, slot.endTime].compactMap { $0.map { String($0.prefix(5)) } }.joined(separator: "–")
            return [days, hours].filter { !$0.isEmpty }.joined(separator: " ")
        }.joined(separator: "; ")
    }

    @Sendable func newDoctor(_ request: Request, context: Context) async throws -> Response {
        view.page("admin/doctor", title: "Add a doctor", request: request, context: context,
                  data: DoctorForm(doctor: DoctorDTO()).data(action: "/app/admin/doctors/new", version: nil, problems: []))
    }

    @Sendable func createDoctor(_ request: Request, context: Context) async throws -> Response {
        let form = try await WebForm.read(request, context: context, csrfSecret: context.webFormSecret)
        let parsed = DoctorForm(form: form)
        do {
            let doctor = try parsed.validated()
            let created = try await doctors.create(doctor, as: try context.webCaller())
            return WebView.redirect("/app/admin/doctors/\(Self.encode(created.stored.id))?done=doctor-added")
        } catch let invalid as PlatformValidationError {
            return view.page(
                "admin/doctor", title: "Add a doctor", request: request, context: context,
                data: parsed.data(action: "/app/admin/doctors/new", version: nil, problems: invalid.issues), status: .unprocessableContent)
        }
    }

    @Sendable func editDoctor(_ request: Request, context: Context) async throws -> Response {
        let id = try context.parameters.require("id")
        guard FHIRRequest.isValidID(id) else { throw WebError.notFound }
        let item = try await doctors.read(id: id, as: try context.webCaller())
        var data = Self.notice(request)
        data.merge(DoctorForm(doctor: item.model).data(
            action: "/app/admin/doctors/\(Self.encode(id))", version: item.stored.versionID, problems: [])) { $1 }
        return view.page("admin/doctor", title: "Edit a doctor", request: request, context: context, data: data)
    }

    @Sendable func updateDoctor(_ request: Request, context: Context) async throws -> Response {
        let form = try await WebForm.read(request, context: context, csrfSecret: context.webFormSecret)
        let id = try context.parameters.require("id")
        guard FHIRRequest.isValidID(id) else { throw WebError.notFound }
        let version = form.text("version").flatMap(Int.init)
        let parsed = DoctorForm(form: form)
        do {
            let doctor = try parsed.validated()
            _ = try await doctors.update(id: id, doctor, ifMatch: version, as: try context.webCaller())
            return WebView.redirect("/app/admin/doctors/\(Self.encode(id))?done=doctor-saved")
        } catch let invalid as PlatformValidationError {
            return view.page(
                "admin/doctor", title: "Edit a doctor", request: request, context: context,
                data: parsed.data(action: "/app/admin/doctors/\(Self.encode(id))", version: version, problems: invalid.issues),
                status: .unprocessableContent)
        }
    }

    // MARK: - System clients

    @Sendable func clients(_ request: Request, context: Context) async throws -> Response {
        try await clientsPage(request, context, problems: [], name: nil, scopes: nil, status: .ok)
    }

    private func clientsPage(
        _ request: Request, _ context: Context, problems: [(field: String, issue: String)], name: String?, scopes: String?,
        created: AdminService.CreatedClient? = nil, status: HTTPResponse.Status
    ) async throws -> Response {
        let list = try await admin.clients(as: try context.webCaller())
        var data = Self.notice(request).merging(WebFieldErrors(problems).data) { $1 }
        data["clients"] = list.reversed().map { client -> [String: Any] in
            [
                "id": client.id, "name": client.name, "scopes": client.scopes, "created": WebFormat.dateTime(client.createdAt),
                "revoked": client.revoked, "methods": client.authMethods.joined(separator: ", "),
            ]
        }
        data["hasClients"] = !list.isEmpty
        data["nameValue"] = name ?? ""
        data["scopesValue"] = scopes ?? "system/*.rs"
        if let created {
            // The one time the secret is shown: this response (not stored, not cached, not logged).
            data["created"] = ["id": created.id, "secret": created.secret, "scopes": created.scopes]
        }
        return view.page("admin/clients", title: "System clients", request: request, context: context, data: data, status: status)
    }

    /// Creates a client and answers with its secret on this response only; a reload of the
    /// list (or any later page) never shows it again.
    @Sendable func createClient(_ request: Request, context: Context) async throws -> Response {
        let form = try await WebForm.read(request, context: context, csrfSecret: context.webFormSecret)
        let name = form["name"] ?? ""
        let scopes = form["scopes"] ?? ""
        do {
            let created = try await admin.createClient(name: name, scopes: scopes, as: try context.webCaller())
            return try await clientsPage(request, context, problems: [], name: nil, scopes: nil, created: created, status: .ok)
        } catch let refused as AdminService.Refused {
            guard case .invalid(let issues) = refused else { return try refusal(refused, request, context) }
            return try await clientsPage(
                request, context, problems: issues.map { ($0.field, $0.issue) }, name: name, scopes: scopes, status: .unprocessableContent)
        }
    }

    @Sendable func revokeClient(_ request: Request, context: Context) async throws -> Response {
        _ = try await WebForm.read(request, context: context, csrfSecret: context.webFormSecret)
        let id = try context.parameters.require("id")
        do {
            try await admin.revokeClient(id: id, as: try context.webCaller())
        } catch let refused as AdminService.Refused {
            return try refusal(refused, request, context)
        }
        return WebView.redirect("/app/admin/clients?done=revoked")
    }

    // MARK: - Audit log

    /// The event kinds the filter offers (the stored subtypes).
    static let subtypes: [(code: String, label: String)] = [
        ("read", "Read"), ("search-type", "Search"), ("create", "Create"), ("update", "Update"), ("delete", "Delete"),
        ("login", "Sign-in"), ("logout", "Sign-out"), ("password-change", "Password change"), ("history-instance", "History"),
        ("everything", "Everything"), ("export", "Bulk export"), ("import", "Bulk import"),
    ]

    @Sendable func auditLog(_ request: Request, context: Context) async throws -> Response {
        let caller = try context.webCaller()
        let query = request.uri.queryParameters
        func value(_ name: String) -> String? {
            query[Substring(name)].map { String($0).trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : String($0.prefix(200)) }
        }
        var problems: [(field: String, issue: String)] = []
        var filter = AuditTrailService.Filter(count: Self.pageSize)
        let user = value("user")
        if let user {
            if user.contains("@") {
                do {
                    filter.agent = try await admin.user(email: user, as: caller).id
                } catch AdminService.Refused.unknownUser {
                    problems.append(("user", "no account has this email"))
                }
            } else {
                filter.agent = user
            }
        }
        let patient = value("patient")
        if let patient {
            let id = patient.hasPrefix("Patient/") ? String(patient.dropFirst(8)) : patient
            if FHIRRequest.isValidID(id) { filter.patient = id } else { problems.append(("patient", "must be a patient id")) }
        }
        let action = value("action")
        if let action {
            if Self.subtypes.contains(where: { $0.code == action }) { filter.subtype = action } else { problems.append(("action", "is not a kind of event")) }
        }
        let outcome = value("outcome")
        if let outcome {
            if let parsed = AuditTrailService.OutcomeFilter(rawValue: outcome) { filter.outcome = parsed } else { problems.append(("outcome", "must be success or failure")) }
        }
        let from = value("from")
        if let from {
            if let day = Self.day(from) { filter.since = day } else { problems.append(("from", "must be a date YYYY-MM-DD")) }
        }
        let to = value("to")
        if let to {
            if let day = Self.day(to) { filter.until = day.addingTimeInterval(86_400) } else { problems.append(("to", "must be a date YYYY-MM-DD")) }
        }
        if let before = value("before") {
            guard let key = Int64(before) else { throw WebError.badRequest("the page link is not valid") }
            filter.before = key
        }
        var parts: [(String, String)] = []
        for (name, text) in [("user", user), ("patient", patient), ("action", action), ("outcome", outcome), ("from", from), ("to", to)] {
            if let text { parts.append((name, text)) }
        }
        filter.queryText = parts.filter { $0.0 != "user" || !($0.1.contains("@")) }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        var data = WebFieldErrors(problems).data
        data["userValue"] = user ?? ""
        data["patientValue"] = patient ?? ""
        data["fromValue"] = from ?? ""
        data["toValue"] = to ?? ""
        data["actions"] = Self.subtypes.map { item -> [String: Any] in ["code": item.code, "label": item.label, "selected": item.code == action] }
        data["outcomes"] = AuditTrailService.OutcomeFilter.allCases.map { (item) -> [String: Any] in
            ["code": item.rawValue, "label": item == .success ? "Success" : "Failure", "selected": item.rawValue == outcome]
        }
        guard problems.isEmpty else {
            data["events"] = [[String: Any]]()
            return view.page("admin/audit", title: "Audit log", request: request, context: context, data: data, status: .unprocessableContent)
        }
        let page = try await trail.searchRecords(filter, as: caller)
        data["events"] = page.records.map(Self.eventRow)
        data["hasEvents"] = !page.records.isEmpty
        data["filtered"] = !parts.isEmpty
        if let next = page.next {
            data["next"] = "/app/admin/audit?" + (parts + [("before", String(next))]).map { "\($0.0)=\(Self.encode($0.1))" }.joined(separator: "&")
        }
        return view.page("admin/audit", title: "Audit log", request: request, context: context, data: data)
    }

    static func eventRow(_ record: AuditRecord) -> [String: Any] {
        let label = subtypes.first { $0.code == record.subtype }?.label ?? record.subtype
        var row: [String: Any] = [
            "recorded": WebFormat.dateTime(record.recorded), "action": label,
            "success": record.outcome == .success,
            "outcome": record.outcome == .success ? "Success" : "Failure" + (record.outcomeDescription.map { ": \($0)" } ?? ""),
            "who": record.agentUserID ?? "(unknown)", "role": record.agentRole ?? "",
            "patients": record.patientIDs.joined(separator: ", "),
        ]
        if record.outcome == .success, let description = record.outcomeDescription { row["detail"] = description }
        if let type = record.entityType, let id = record.entityID { row["what"] = "\(type)/\(id)" } else if let type = record.entityType { row["what"] = type }
        if let query = record.query, row["what"] == nil { row["what"] = query }
        if record.purposeOfUse == "BTG" {
            row["breakGlass"] = true
            if let reason = record.breakGlassReason { row["reason"] = reason }
        }
        return row
    }

    /// The start of a day, UTC, from `YYYY-MM-DD`.
    static func day(_ text: String) -> Date? {
        guard text.count == 10, PlatformFormat.isDate(text) else { return nil }
        return PlatformDates.instant(text + "T00:00:00Z")
    }

    // MARK: - Status

    @Sendable func statusPage(_ request: Request, context: Context) async throws -> Response {
        let report = try await status.report(as: try context.webCaller())
        var data: [String: Any] = [
            "version": report.version, "databaseReachable": report.databaseReachable,
            "keys": report.keyIDs.map { id -> [String: Any] in ["id": id, "active": id == report.activeKeyID] },
            "serverErrors": report.serverErrors, "serverErrorsSince": WebFormat.dateTime(report.serverErrorsSince),
        ]
        if let version = report.databaseVersion { data["databaseVersion"] = version }
        if let jobs = report.jobs {
            data["jobs"] = jobs.map { job -> [String: Any] in ["status": job.status, "count": job.count] }
            data["hasJobs"] = true
        }
        if let audit = report.auditLastHour {
            data["audit"] = ["failed": audit.failed, "total": audit.total]
        }
        return view.page("admin/status", title: "Status", request: request, context: context, data: data)
    }

    // MARK: - Parts

    /// The service's paging refusal (a hand-edited cursor cannot make one: the limit is ours).
    private func listing<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let refused as AdminService.Refused {
            if case .unknownUser = refused { throw WebError.notFound }
            throw WebError.badRequest("the list cannot be shown")
        }
    }

    static func encode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }
}

/// The doctor form's fields ⇄ `DoctorDTO`: the form is read into the platform body and
/// validated by `DoctorDTO(body:)`, the same checks as `POST /doctors`; the problems are put
/// next to the form's own fields.
struct DoctorForm {
    static let slots = 3
    static let dayLabels: [(DayOfWeek, String)] = [
        (.mon, "Monday"), (.tue, "Tuesday"), (.wed, "Wednesday"), (.thu, "Thursday"), (.fri, "Friday"), (.sat, "Saturday"),
        (.sun, "Sunday"),
    ]

    var firstName = ""
    var lastName = ""
    var specialization = ""
    var qualifications = ""
    var phone = ""
    var email = ""
    /// Days, start and end of each schedule row (`HH:MM`).
    var schedule: [(days: [String], start: String, end: String)] = []

    init(doctor: DoctorDTO) {
        firstName = doctor.firstName ?? ""
        lastName = doctor.lastName ?? ""
        specialization = doctor.specialization ?? ""
        qualifications = doctor.qualifications.joined(separator: "\n")
        phone = doctor.contact?.phone ?? ""
        email = doctor.contact?.email ?? ""
        schedule = doctor.workSchedule.map {
            (days: $0.daysOfWeek.map(\.rawValue), start: String(($0.startTime ?? "").prefix(5)), end: String(($0.endTime ?? "").prefix(5)))
        }
    }

    init(form: WebForm) {
        firstName = form.text("firstName") ?? ""
        lastName = form.text("lastName") ?? ""
        specialization = form.text("specialization") ?? ""
        qualifications = form["qualifications"] ?? ""
        phone = form.text("phone") ?? ""
        email = form.text("email") ?? ""
        for index in 0..<Self.slots {
            let days = form.values("ws\(index)_days")
            let start = form.text("ws\(index)_start") ?? ""
            let end = form.text("ws\(index)_end") ?? ""
            schedule.append((days: days, start: start, end: end))
        }
    }

    /// The platform body, without the rows left blank.
    var body: JSONObject {
        var body: JSONObject = ["firstName": .string(firstName), "lastName": .string(lastName)]
        if !specialization.isEmpty { body["specialization"] = .string(specialization) }
        let lines = qualifications.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if !lines.isEmpty { body["qualifications"] = .array(lines.map(JSONValue.string)) }
        var contact = JSONObject()
        if !phone.isEmpty { contact["phone"] = .string(phone) }
        if !email.isEmpty { contact["email"] = .string(email) }
        if !contact.isEmpty { body["contact"] = .object(contact) }
        let rows = schedule.enumerated().filter { !$0.element.days.isEmpty || !$0.element.start.isEmpty || !$0.element.end.isEmpty }
        if !rows.isEmpty {
            body["workSchedule"] = .array(rows.map { _, row in
                var slot: JSONObject = ["daysOfWeek": .array(row.days.map(JSONValue.string))]
                if !row.start.isEmpty { slot["startTime"] = .string(row.start) }
                if !row.end.isEmpty { slot["endTime"] = .string(row.end) }
                return .object(slot)
            })
        }
        return body
    }

    /// The rows sent, by body position → form row (blank rows are skipped in the body).
    private var rowIndexes: [Int] {
        schedule.enumerated().filter { !$0.element.days.isEmpty || !$0.element.start.isEmpty || !$0.element.end.isEmpty }.map(\.offset)
    }

    func validated() throws(PlatformValidationError) -> DoctorDTO {
        try DoctorDTO(body: body)
    }

    /// A platform field (`contact.phone`, `workSchedule[1].endTime`) as the form's field name.
    func formField(_ field: String) -> String {
        if field.hasPrefix("contact.") { return String(field.dropFirst(8)) }
        if field.hasPrefix("qualifications") { return "qualifications" }
        if field.hasPrefix("workSchedule["), let close = field.firstIndex(of: "]"),
           let position = Int(field[field.index(field.startIndex, offsetBy: 13)..<close]) {
            let row = rowIndexes.indices.contains(position) ? rowIndexes[position] : position
            let rest = field[field.index(after: close)...]
            if rest.hasPrefix(".startTime") { return "ws\(row)_start" }
            if rest.hasPrefix(".endTime") { return "ws\(row)_end" }
            return "ws\(row)_days"
        }
        return field
    }

    func data(action: String, version: Int?, problems: [FieldIssue]) -> [String: Any] {
        let mapped = problems.map { (field: formField($0.field), issue: $0.issue) }
        var data = WebFieldErrors(mapped).data
        let errors = data["errors"] as? [String: String] ?? [:]
        data["action"] = action
        if let version { data["version"] = version }
        data["isNew"] = version == nil
        data["firstName"] = firstName
        data["lastName"] = lastName
        data["specialization"] = specialization
        data["qualifications"] = qualifications
        data["phone"] = phone
        data["email"] = email
        data["schedule"] = (0..<Self.slots).map { index -> [String: Any] in
            let row = schedule.indices.contains(index) ? schedule[index] : (days: [], start: "", end: "")
            var item: [String: Any] = [
                "index": index, "number": index + 1, "start": row.start, "end": row.end,
                "days": Self.dayLabels.map { day, label -> [String: Any] in
                    ["code": day.rawValue, "label": label, "checked": row.days.contains(day.rawValue), "row": index]
                },
            ]
            if let error = errors["ws\(index)_days"] { item["daysError"] = error }
            if let error = errors["ws\(index)_start"] { item["startError"] = error }
            if let error = errors["ws\(index)_end"] { item["endError"] = error }
            return item
        }
        return data
    }
}

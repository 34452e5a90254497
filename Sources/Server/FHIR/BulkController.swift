import FHIRModels
import Foundation
import Hummingbird
import NIOCore

/// The Bulk Data face under `/fhir`: `$export` (system, Patient, Group) and `$import` kick-offs,
/// the status URL (poll, manifest, cancel) and the files. It parses and renders; `BulkService`
/// decides, audits and runs.
struct BulkController: Sendable {
    typealias Context = MedrecRequestContext
    let bulk: BulkService
    let limits: ServerLimits
    let baseURL: String?

    static let statusPath = "$bulk-status"
    static let filePath = "$bulk-file"
    static let outputFormats: Set<String> = ["application/fhir+ndjson", "application/ndjson", "ndjson"]

    func addRoutes(to group: RouterGroup<Context>) {
        for method in [HTTPRequest.Method.get, .post] {
            group.on("$export", method: method) { request, context in try await self.export(request, context, level: .system) }
            // `{type}/…` rather than `Patient/…`: a constant `Patient` segment would shadow the
            // `{type}` routes (`POST /fhir/Patient`) in the router's trie.
            group.on("{type}/$export", method: method) { request, context in
                guard context.parameters.get("type") == "Patient" else { throw FHIRHTTPError.notFound("$export is defined on Patient and Group") }
                return try await self.export(request, context, level: .patient)
            }
            group.on("{type}/{id}/$export", method: method) { request, context in
                guard context.parameters.get("type") == "Group" else { throw FHIRHTTPError.notFound("$export is defined on Patient and Group") }
                let id = context.parameters.get("id") ?? ""
                guard FHIRLexical.isID(id) else { throw FHIRHTTPError.badRequest("the Group id is not a valid FHIR id") }
                return try await self.export(request, context, level: .group(id: id))
            }
        }
        group.post("$import") { request, context in try await self.importKickOff(request, context) }
        group.get("\(Self.statusPath)/{job}") { request, context in try await self.status(request, context) }
        group.delete("\(Self.statusPath)/{job}") { request, context in try await self.cancel(request, context) }
        group.get("\(Self.filePath)/{job}/{file}") { request, context in try await self.file(request, context) }
    }

    func base(_ request: Request) -> String {
        if let baseURL { return baseURL }
        return "http://\(request.head.authority ?? "localhost")/fhir"
    }

    private func handle(_ body: () async throws -> Response) async throws -> Response {
        do {
            return try await body()
        } catch {
            throw FHIRHTTPError.from(error)
        }
    }

    // MARK: - Kick-off

    /// `Prefer: respond-async` is required; `handling=lenient` lets unknown parameters pass.
    private func preferences(_ request: Request) throws -> (lenient: Bool, Void) {
        let prefer = request.headers[values: .prefer].joined(separator: ",").lowercased()
        guard prefer.contains("respond-async") else {
            throw FHIRHTTPError.badRequest("bulk operations need the header Prefer: respond-async", expression: "Prefer")
        }
        if let accept = request.headers[.accept], !accept.contains("fhir+json"), !accept.contains("application/json"), !accept.contains("*/*") {
            throw FHIRHTTPError.badRequest("the kick-off's Accept must be application/fhir+json", expression: "Accept")
        }
        return (prefer.contains("handling=lenient"), ())
    }

    func export(_ request: Request, _ context: Context, level: ExportParameters.Level) async throws -> Response {
        try await handle {
            let lenient = try preferences(request).lenient
            var items = FHIRRequest.queryItems(Substring(request.uri.query ?? ""))
            var patients: [String]? = nil
            if request.method == .post {
                let body = try FHIRRequest.parse(try await FHIRRequest(limits: limits).bodyBytes(request), format: try FHIRFormat.body(of: request))
                try FHIRRequest.requireType(body, "Parameters")
                for parameter in body["parameter"]?.arrayValue ?? [] {
                    guard let name = parameter["name"]?.stringValue else { continue }
                    if name == "patient" {
                        guard let reference = parameter["valueReference"]?["reference"]?.stringValue,
                              let id = ResourceReference(reference).id(ofType: "Patient") else {
                            throw FHIRHTTPError.badRequest("patient must be a Patient reference", expression: "patient")
                        }
                        patients = (patients ?? []) + [id]
                        continue
                    }
                    let value = parameter["valueString"]?.stringValue ?? parameter["valueInstant"]?.stringValue
                        ?? parameter["valueCode"]?.stringValue ?? parameter["valueDateTime"]?.stringValue ?? ""
                    items.append((name, value))
                }
            }
            var parameters = try Self.exportParameters(items, level: level, lenient: lenient)
            if let patients {
                guard level != .system else {
                    throw FHIRHTTPError.badRequest("patient applies to Patient- and Group-level exports", expression: "patient")
                }
                parameters.patients = patients
            }
            let id = try await bulk.kickOffExport(parameters, request: base(request) + Self.requestPath(request), as: try context.caller(request))
            return accepted(request, id)
        }
    }

    static func requestPath(_ request: Request) -> String {
        let path = request.uri.path
        // `fhirPrefix` is the bare segment (`fhir`): the path starts with `/fhir/`.
        let prefix = "/" + APIFace.fhirPrefix
        let suffix = path.hasPrefix(prefix + "/") ? String(path.dropFirst(prefix.count)) : path
        return suffix + (request.uri.query.map { "?" + $0 } ?? "")
    }

    /// The query's (or Parameters') export parameters, checked; unknown ones are refused unless lenient.
    static func exportParameters(_ items: [(key: String, value: String)], level: ExportParameters.Level, lenient: Bool) throws -> ExportParameters {
        var parameters = ExportParameters(level: level)
        for (key, value) in items {
            switch key {
            case "_outputFormat":
                guard outputFormats.contains(value) else {
                    throw FHIRHTTPError.badRequest("_outputFormat must be application/fhir+ndjson", code: .notSupported, expression: "_outputFormat")
                }
            case "_since":
                guard let date = FHIRInstant.parse(value) else {
                    throw FHIRHTTPError.badRequest("_since must be a FHIR instant", expression: "_since")
                }
                parameters.since = date
            case "_type":
                for type in value.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                    if FHIRMetadata.resource(named: type) == nil || type == "AuditEvent" {
                        if lenient { continue }
                        throw FHIRHTTPError.badRequest("_type names a type this server does not export", code: .notSupported, expression: "_type")
                    }
                    if !parameters.types.contains(type) { parameters.types.append(type) }
                }
            case "_typeFilter":
                for filter in value.split(separator: ",", omittingEmptySubsequences: true) {
                    guard let question = filter.firstIndex(of: "?"), FHIRMetadata.resource(named: String(filter[..<question])) != nil else {
                        throw FHIRHTTPError.badRequest("_typeFilter must be Type?search-parameters", expression: "_typeFilter")
                    }
                    parameters.typeFilters[String(filter[..<question]), default: []].append(String(filter[filter.index(after: question)...]))
                }
            case "_elements":
                parameters.elements += value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            default:
                if lenient { continue }
                throw FHIRHTTPError.badRequest("the export parameter \(key) is not supported", code: .notSupported, expression: key)
            }
        }
        for type in parameters.typeFilters.keys where !parameters.types.isEmpty && !parameters.types.contains(type) {
            throw FHIRHTTPError.badRequest("_typeFilter names \(type), which _type leaves out", expression: "_typeFilter")
        }
        return parameters
    }

    func importKickOff(_ request: Request, _ context: Context) async throws -> Response {
        try await handle {
            _ = try preferences(request)
            let contentType = request.headers[.contentType]?.lowercased() ?? ""
            let caller = try context.caller(request)
            let requestURL = base(request) + Self.requestPath(request)
            if contentType.contains("ndjson") {
                let buffer = try await collect(request)
                let firstLine = buffer.readableBytesView.split(separator: 0x0A, maxSplits: 1).first.map { Array($0) } ?? []
                guard let type = (try? FHIRJSON.parse(firstLine))?["resourceType"]?.stringValue else {
                    throw FHIRHTTPError.badRequest("the first NDJSON line must be a resource with a resourceType")
                }
                let id = try await bulk.kickOffImport(
                    ImportParameters(inputs: []), request: requestURL, as: caller, body: (type, buffer))
                return accepted(request, id)
            }
            let body = try FHIRRequest.parse(try await FHIRRequest(limits: limits).bodyBytes(request), format: try FHIRFormat.body(of: request))
            try FHIRRequest.requireType(body, "Parameters")
            var parameters = ImportParameters(inputs: [])
            for parameter in body["parameter"]?.arrayValue ?? [] {
                switch parameter["name"]?.stringValue {
                case "inputFormat":
                    let format = parameter["valueCode"]?.stringValue ?? parameter["valueString"]?.stringValue ?? ""
                    guard Self.outputFormats.contains(format) else {
                        throw FHIRHTTPError.badRequest("inputFormat must be application/fhir+ndjson", code: .notSupported, expression: "inputFormat")
                    }
                case "mode":
                    parameters.mode = parameter["valueCode"]?.stringValue ?? parameter["valueString"]?.stringValue
                case "input":
                    var type: String?
                    var url: String?
                    for part in parameter["part"]?.arrayValue ?? [] {
                        switch part["name"]?.stringValue {
                        case "type": type = part["valueCode"]?.stringValue ?? part["valueString"]?.stringValue
                        case "url": url = part["valueUrl"]?.stringValue ?? part["valueUri"]?.stringValue ?? part["valueString"]?.stringValue
                        default: continue
                        }
                    }
                    guard let type, let url else { throw FHIRHTTPError.badRequest("each input needs a type and a url", expression: "input") }
                    parameters.inputs.append(.init(type: type, url: url))
                case "inputSource", "storageDetail":
                    continue
                default:
                    throw FHIRHTTPError.badRequest("the import parameter is not supported", code: .notSupported, expression: "parameter")
                }
            }
            let id = try await bulk.kickOffImport(parameters, request: requestURL, as: caller)
            return accepted(request, id)
        }
    }

    private func collect(_ request: Request) async throws -> ByteBuffer {
        do {
            return try await request.body.collect(upTo: limits.maxBodyBytes)
        } catch {
            throw FHIRHTTPError.from(error)
        }
    }

    private func accepted(_ request: Request, _ id: UUID) -> Response {
        Response(status: .accepted, headers: [.contentLocation: "\(base(request))/\(Self.statusPath)/\(id.uuidString.lowercased())"])
    }

    // MARK: - Status, cancel, files

    private func jobID(_ context: Context) throws -> UUID {
        guard let id = context.parameters.get("job").flatMap(UUID.init(uuidString:)) else {
            throw FHIRHTTPError.notFound("no such bulk job")
        }
        return id
    }

    func status(_ request: Request, _ context: Context) async throws -> Response {
        try await handle {
            let job = try await bulk.job(try jobID(context), as: try context.caller(request))
            switch job.status {
            case .queued, .running:
                let verb = job.kind == .export ? "exported" : "imported"
                let total = job.totalEstimate.map { " of about \($0)" } ?? ""
                let inputs = job.parameters.import.map { " (input \(min(job.cursor.inputIndex + 1, $0.inputs.count)) of \($0.inputs.count))" } ?? ""
                return Response(status: .accepted, headers: [
                    .init("X-Progress")!: "\(job.status == .queued ? "queued; " : "")\(verb) \(job.doneCount)\(total)\(inputs)",
                    .retryAfter: "2",
                ])
            case .completed:
                let base = base(request)
                let manifest = try await bulk.manifest(job) { fileNo in
                    "\(base)/\(Self.filePath)/\(job.id.uuidString.lowercased())/\(fileNo)"
                }
                return Response(
                    status: .ok, headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(bytes: FHIRJSON.serialize(manifest))))
            case .failed:
                throw FHIRHTTPError(status: .internalServerError, code: .exception, job.error ?? "the bulk job failed")
            case .cancelled:
                throw FHIRHTTPError.notFound("no such bulk job")
            }
        }
    }

    func cancel(_ request: Request, _ context: Context) async throws -> Response {
        try await handle {
            try await bulk.cancel(try jobID(context), as: try context.caller(request))
            return Response(status: .accepted)
        }
    }

    func file(_ request: Request, _ context: Context) async throws -> Response {
        try await handle {
            guard let fileNo = context.parameters.get("file").flatMap(Int.init) else { throw FHIRHTTPError.notFound("no such file") }
            let gzip = (request.headers[.acceptEncoding] ?? "").lowercased().contains("gzip")
            let (_, compressed, chunks) = try await bulk.download(try jobID(context), file: fileNo, as: try context.caller(request), compressed: gzip)
            var headers: HTTPFields = [.contentType: "application/fhir+ndjson"]
            if compressed { headers[.contentEncoding] = "gzip" }
            return Response(status: .ok, headers: headers, body: ResponseBody(asyncSequence: chunks))
        }
    }
}

/// A FHIR `instant` (or a dateTime with a time zone): `_since`.
enum FHIRInstant {
    static func parse(_ text: String) -> Date? {
        let formats = [ISO8601DateFormatter.Options.withInternetDateTime, [.withInternetDateTime, .withFractionalSeconds]]
        for options in formats {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = options
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }
}

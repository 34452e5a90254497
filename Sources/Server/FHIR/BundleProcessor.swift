import FHIRModels
import Foundation
import Hummingbird

/// Batch and transaction Bundles (`POST /fhir`). A transaction runs in one database
/// transaction: ids are assigned first, `urn:uuid:` and conditional references are rewritten,
/// then DELETE, POST, PUT/PATCH and GET run in the order the spec gives. Each entry is an
/// operation of `RecordWriter`/`SearchService` (authorized on its own and audited with the
/// transaction); this type only parses entries, orders them and renders the response Bundle.
struct BundleProcessor: Sendable {
    let records: RecordService
    let searches: SearchService
    let store: any ResourceStore
    let limits: ServerLimits
    let base: String
    /// Whose Bundle this is (token already confirmed); one forbidden entry fails a transaction.
    let caller: Caller
    /// Parses conditional criteria and searches (strictly: nothing is silently ignored).
    let parser: SearchQueryParser

    /// One parsed `Bundle.entry.request`.
    struct Entry: Sendable {
        enum Action: Sendable {
            case create(type: String, ifNoneExist: SearchQuery?)
            case update(type: String, id: String, ifMatch: Int?)
            case conditionalUpdate(type: String, criteria: SearchQuery)
            case delete(type: String, id: String)
            case conditionalDelete(type: String, criteria: SearchQuery)
            case read(type: String, id: String, version: Int?)
            case search(type: String, items: [(key: String, value: String)])
        }

        let index: Int
        let fullURL: String?
        let action: Action
        var resource: JSONValue?

        var order: Int {
            switch action {
            case .delete, .conditionalDelete: 0
            case .create: 1
            case .update, .conditionalUpdate: 2
            case .read, .search: 3
            }
        }
    }

    struct EntryError: Error {
        let index: Int
        let underlying: any Error
    }

    func process(_ bundle: JSONValue) async throws -> JSONValue {
        guard bundle["resourceType"]?.stringValue == "Bundle" else {
            throw FHIRHTTPError.badRequest("POST to the base URL takes a batch or transaction Bundle")
        }
        let kind = bundle["type"]?.stringValue
        guard kind == "transaction" || kind == "batch" else {
            throw FHIRHTTPError.badRequest("Bundle.type must be transaction or batch", expression: "Bundle.type")
        }
        let rawEntries = bundle["entry"]?.arrayValue ?? []
        guard rawEntries.count <= limits.maxBundleEntries else {
            throw FHIRHTTPError(status: .contentTooLarge, code: .tooCostly, "the Bundle has more than \(limits.maxBundleEntries) entries")
        }
        if kind == "transaction" {
            let entries = try rawEntries.enumerated().map { try parseEntry($1, index: $0) }
            return try await transaction(entries)
        }
        return await batch(rawEntries)
    }

    // MARK: - Parsing entries

    func parseEntry(_ entry: JSONValue, index: Int) throws -> Entry {
        let expression = "Bundle.entry[\(index)]"
        do {
            guard let request = entry["request"], let method = request["method"]?.stringValue,
                  let url = request["url"]?.stringValue else {
                throw FHIRHTTPError.badRequest("each entry needs request.method and request.url", code: .required, expression: "\(expression).request")
            }
            var path = Substring(url)
            if path.hasPrefix(base + "/") { path = path.dropFirst(base.count + 1) }
            if path.hasPrefix("/") { path = path.dropFirst() }
            let parts = path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
            let segments = parts[0].split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            let query = parts.count > 1 ? parts[1] : nil
            guard let type = segments.first, FHIRMetadata.resource(named: type) != nil else {
                throw FHIRHTTPError.badRequest("request.url names no supported resource type", expression: "\(expression).request.url")
            }
            if segments.count > 1, !FHIRRequest.isValidID(segments[1]) {
                throw FHIRHTTPError.badRequest("request.url has an invalid id", expression: "\(expression).request.url")
            }
            let items = query.map { FHIRRequest.queryItems($0) }
            let criteria = try items.map { try FHIRController.conditionalQuery(parser: parser, type: type, items: $0) }
            let fullURL = entry["fullUrl"]?.stringValue
            var resource = entry["resource"]
            let action: Entry.Action
            switch (method, segments.count) {
            case ("POST", 1):
                let ifNoneExist = try request["ifNoneExist"]?.stringValue.map {
                    try FHIRController.conditionalQuery(
                        parser: parser, type: type,
                        items: FHIRRequest.queryItems(($0.split(separator: "?", maxSplits: 1).last ?? Substring($0))))
                }
                action = .create(type: type, ifNoneExist: ifNoneExist)
            case ("PUT", 2):
                let ifMatch = request["ifMatch"]?.stringValue.flatMap(FHIRRequest.version(fromETag:))
                action = .update(type: type, id: segments[1], ifMatch: ifMatch)
            case ("PUT", 1) where criteria != nil:
                action = .conditionalUpdate(type: type, criteria: criteria!)
            case ("DELETE", 2):
                action = .delete(type: type, id: segments[1])
            case ("DELETE", 1) where criteria != nil:
                action = .conditionalDelete(type: type, criteria: criteria!)
            case ("GET", 2):
                action = .read(type: type, id: segments[1], version: nil)
            case ("GET", 4) where segments[2] == "_history":
                guard let version = Int(segments[3]) else {
                    throw FHIRHTTPError.badRequest("invalid version in request.url", expression: "\(expression).request.url")
                }
                action = .read(type: type, id: segments[1], version: version)
            case ("GET", 1):
                action = .search(type: type, items: items ?? [])
            default:
                throw FHIRHTTPError.badRequest("this method and URL are not supported in a Bundle entry", code: .notSupported, expression: "\(expression).request")
            }
            switch action {
            case .create(let type, _), .update(let type, _, _), .conditionalUpdate(let type, _):
                guard let body = resource else {
                    throw FHIRHTTPError.badRequest("a \(method) entry needs a resource", code: .required, expression: "\(expression).resource")
                }
                guard body["resourceType"]?.stringValue == type else {
                    throw FHIRHTTPError.badRequest("the entry's resourceType does not match request.url", expression: "\(expression).resource")
                }
            default:
                resource = nil
            }
            return Entry(index: index, fullURL: fullURL, action: action, resource: resource)
        } catch let error as FHIRHTTPError {
            throw error.at(expression)
        } catch let error as SearchQueryError {
            throw (FHIRHTTPError.from(error) as? FHIRHTTPError ?? FHIRHTTPError.badRequest(error.message)).at(expression)
        }
    }

    // MARK: - Transaction

    private func transaction(_ parsed: [Entry]) async throws -> JSONValue {
        do {
            let responses = try await records.inTransaction(caller) { writer in
                try await runTransaction(parsed, with: writer)
            }
            return .object([
                "resourceType": .string("Bundle"), "type": .string("transaction-response"),
                "entry": .array(responses),
            ])
        } catch let error as EntryError {
            var underlying = error.underlying
            if let denied = underlying as? AccessDenied { underlying = try await records.auditDenial(denied) }
            let mapped = FHIRHTTPError.from(underlying)
            if let httpError = mapped as? FHIRHTTPError { throw httpError.at("Bundle.entry[\(error.index)]") }
            throw mapped
        }
    }

    /// The ids a transaction's entries will have: new ones for creates, the match for a
    /// conditional create that found one, by `fullUrl` for rewriting references.
    private struct IDPlan {
        var idMap: [String: String] = [:]  // fullUrl -> Type/id
        var existingCreates: [Int: StoredResource] = [:]
        var newIDs: [Int: String] = [:]
    }

    /// A transaction in the spec's order: ids first, references rewritten, then DELETE, POST
    /// (in one batch), PUT/PATCH, GET.
    private func runTransaction(_ parsed: [Entry], with writer: RecordWriter) async throws -> [JSONValue] {
        let plan = try await assignIDs(parsed, with: writer)
        let entries = try await rewritingReferences(parsed, idMap: plan.idMap, with: writer)
        let ordered = entries.sorted { ($0.order, $0.index) < ($1.order, $1.index) }
        var responses = [JSONValue](repeating: .null, count: entries.count)
        for entry in ordered where entry.order == 0 {
            responses[entry.index] = try await run(entry, with: writer)
        }
        try await runCreates(entries, plan: plan, with: writer, into: &responses)
        for entry in ordered where entry.order >= 2 {
            responses[entry.index] = try await run(entry, with: writer)
        }
        return responses
    }

    private func assignIDs(_ entries: [Entry], with writer: RecordWriter) async throws -> IDPlan {
        var plan = IDPlan()
        for entry in entries {
            do {
                switch entry.action {
                case .create(let type, let ifNoneExist):
                    if let ifNoneExist, let match = try await writer.existingMatch(type: type, ifNoneExist: ifNoneExist) {
                        plan.existingCreates[entry.index] = match.stored
                        if let fullURL = entry.fullURL { plan.idMap[fullURL] = ResourceReference.literal(type: type, id: match.stored.id) }
                        continue
                    }
                    let id = RandomUUID.v4()
                    plan.newIDs[entry.index] = id
                    if let fullURL = entry.fullURL { plan.idMap[fullURL] = ResourceReference.literal(type: type, id: id) }
                case .update(let type, let id, _):
                    if let fullURL = entry.fullURL { plan.idMap[fullURL] = ResourceReference.literal(type: type, id: id) }
                default:
                    break
                }
            } catch {
                throw EntryError(index: entry.index, underlying: error)
            }
        }
        return plan
    }

    /// The entries with `urn:uuid:`/fullUrl references rewritten and conditional references resolved.
    private func rewritingReferences(_ parsed: [Entry], idMap: [String: String], with writer: RecordWriter) async throws -> [Entry] {
        var entries = parsed
        var conditionalCache: [String: String] = [:]
        for position in entries.indices {
            guard let resource = entries[position].resource else { continue }
            do {
                entries[position].resource = try await rewriteReferences(resource, idMap: idMap, cache: &conditionalCache, writer: writer)
            } catch {
                throw EntryError(index: entries[position].index, underlying: error)
            }
        }
        return entries
    }

    /// Every POST entry: matches of conditional creates answer 200, the rest are created in one batch.
    private func runCreates(_ entries: [Entry], plan: IDPlan, with writer: RecordWriter, into responses: inout [JSONValue]) async throws {
        var creates: [NewResource] = []
        var createIndexes: [Int] = []
        for entry in entries where entry.order == 1 {
            if let existing = plan.existingCreates[entry.index] {
                responses[entry.index] = responseEntry(existing, status: "200 OK", resource: nil)
            } else if case .create(let type, _) = entry.action, let id = plan.newIDs[entry.index], let resource = entry.resource {
                creates.append(NewResource(type: type, id: id, resource: resource))
                createIndexes.append(entry.index)
            }
        }
        guard !creates.isEmpty else { return }
        let stored: [StoredResource]
        do {
            stored = try await writer.createAll(creates)
        } catch let error as RecordWriter.BatchItemError {
            throw EntryError(index: createIndexes[error.offset], underlying: error.underlying)
        } catch let error as StoreError where error.code == .invalid {
            // Find which entry failed so the client can fix it.
            throw EntryError(index: failingEntry(creates, createIndexes) ?? createIndexes[0], underlying: error)
        }
        for (offset, index) in createIndexes.enumerated() {
            responses[index] = responseEntry(stored[offset], status: "201 Created", resource: nil)
        }
    }

    private func failingEntry(_ creates: [NewResource], _ indexes: [Int]) -> Int? {
        let validator = FHIRValidator()
        for (offset, item) in creates.enumerated() where validator.validate(item.resource).hasErrors {
            return indexes[offset]
        }
        return nil
    }

    private func run(_ entry: Entry, with writer: RecordWriter) async throws -> JSONValue {
        do {
            switch entry.action {
            case .create(let type, let ifNoneExist):
                let result = try await writer.create(type: type, resource: entry.resource!, ifNoneExist: ifNoneExist)
                return responseEntry(result.stored, status: result.created ? "201 Created" : "200 OK", resource: nil)
            case .update(let type, let id, let ifMatch):
                let result = try await writer.update(type: type, id: id, resource: entry.resource!, ifMatch: ifMatch)
                return responseEntry(result.stored, status: result.created ? "201 Created" : "200 OK", resource: nil)
            case .conditionalUpdate(let type, let criteria):
                let result = try await writer.conditionalUpdate(type: type, resource: entry.resource!, criteria: criteria)
                return responseEntry(result.stored, status: result.created ? "201 Created" : "200 OK", resource: nil)
            case .delete(let type, let id):
                _ = try await writer.delete(type: type, id: id)
                return .object(["response": .object(["status": .string("204 No Content")])])
            case .conditionalDelete(let type, let criteria):
                try await writer.conditionalDelete(type: type, criteria: criteria)
                return .object(["response": .object(["status": .string("204 No Content")])])
            case .read(let type, let id, let version):
                let (stored, resource) = try await writer.read(type: type, id: id, version: version, from: store)
                return responseEntry(stored, status: "200 OK", resource: resource)
            case .search(let type, let items):
                let query = try parser.parse(types: [type], items: items)
                let shown = try await searches.search(SearchService.Request(query: query, items: items, auditType: type), in: writer)
                let searchEntries: [JSONValue] = shown.map { item in
                    .object(["fullUrl": .string("\(base)/\(type)/\(item.stored.id)"), "resource": item.resource])
                }
                var result: JSONObject = ["resourceType": .string("Bundle"), "type": .string("searchset")]
                if !searchEntries.isEmpty { result["entry"] = .array(searchEntries) }
                return .object(["resource": .object(result), "response": .object(["status": .string("200 OK")])])
            }
        } catch let error as EntryError {
            throw error
        } catch {
            throw EntryError(index: entry.index, underlying: error)
        }
    }

    private func responseEntry(_ stored: StoredResource, status: String, resource: JSONValue?) -> JSONValue {
        var entry = JSONObject()
        entry["fullUrl"] = .string("\(base)/\(stored.type)/\(stored.id)")
        if let resource { entry["resource"] = resource }
        entry["response"] = .object([
            "status": .string(status),
            "location": .string("\(stored.type)/\(stored.id)/_history/\(stored.versionID)"),
            "etag": .string("W/\"\(stored.versionID)\""),
            "lastModified": .string(StoreTimestamp.string(stored.lastUpdated)),
        ])
        return .object(entry)
    }

    /// Replaces `reference` values that name a Bundle fullUrl or a conditional search.
    private func rewriteReferences(
        _ value: JSONValue, idMap: [String: String], cache: inout [String: String], writer: RecordWriter
    ) async throws -> JSONValue {
        switch value {
        case .object(var object):
            for index in object.indices {
                let key = object.keys[index]
                let child = object.values[index]
                if key == "reference", let reference = child.stringValue {
                    if let mapped = idMap[reference] {
                        object[key] = .string(mapped)
                    } else if let resolved = try await resolveConditional(reference, cache: &cache, writer: writer) {
                        object[key] = .string(resolved)
                    } else if ResourceReference(reference).isPlaceholder {
                        throw FHIRHTTPError.badRequest("a reference names a urn that no entry in the Bundle has as its fullUrl")
                    }
                } else if case .object = child {
                    object[key] = try await rewriteReferences(child, idMap: idMap, cache: &cache, writer: writer)
                } else if case .array(var array) = child {
                    for position in array.indices {
                        array[position] = try await rewriteReferences(array[position], idMap: idMap, cache: &cache, writer: writer)
                    }
                    object[key] = .array(array)
                }
            }
            return .object(object)
        case .array(var array):
            for position in array.indices {
                array[position] = try await rewriteReferences(array[position], idMap: idMap, cache: &cache, writer: writer)
            }
            return .array(array)
        default:
            return value
        }
    }

    /// `Patient?identifier=system|value` → `Patient/<id>` when exactly one resource matches.
    private func resolveConditional(
        _ reference: String, cache: inout [String: String], writer: RecordWriter
    ) async throws -> String? {
        guard ResourceReference(reference).isConditional, let question = reference.firstIndex(of: "?") else { return nil }
        if let cached = cache[reference] { return cached }
        let type = String(reference[..<question])
        let criteria = try FHIRController.conditionalQuery(
            parser: parser, type: type, items: FHIRRequest.queryItems(reference[reference.index(after: question)...]))
        let matches = try await writer.find(criteria)
        guard matches.count == 1 else {
            throw FHIRHTTPError(
                status: .preconditionFailed, code: matches.isEmpty ? .notFound : .duplicate,
                "a conditional reference matched \(matches.isEmpty ? "no" : "more than one") resource")
        }
        let resolved = ResourceReference.literal(type: type, id: matches[0].id)
        cache[reference] = resolved
        return resolved
    }

    // MARK: - Batch

    private func batch(_ rawEntries: [JSONValue]) async -> JSONValue {
        var responses: [JSONValue] = []
        for (index, raw) in rawEntries.enumerated() {
            do {
                let entry = try parseEntry(raw, index: index)
                let response = try await records.inTransaction(caller) { writer in
                    try await run(entry, with: writer)
                }
                responses.append(response)
            } catch {
                var underlying = (error as? EntryError)?.underlying ?? error
                if let denied = underlying as? AccessDenied {
                    underlying = (try? await records.auditDenial(denied)) ?? denied.audited
                }
                let mapped = FHIRHTTPError.from(underlying)
                let httpError = (mapped as? FHIRHTTPError)
                    ?? FHIRHTTPError(status: .internalServerError, code: .exception, "the entry could not be processed")
                responses.append(.object(["response": .object([
                    "status": .string("\(httpError.status.code) \(httpError.status.reasonPhrase)"),
                    "outcome": httpError.issues.operationOutcome(),
                ])]))
            }
        }
        return .object(["resourceType": .string("Bundle"), "type": .string("batch-response"), "entry": .array(responses)])
    }
}

extension FHIRHTTPError {
    /// Prefixes issue expressions with where in a Bundle the problem is.
    func at(_ prefix: String) -> FHIRHTTPError {
        var copy = self
        copy.issues = issues.map { issue in
            var issue = issue
            if let expression = issue.expression {
                if !expression.hasPrefix("Bundle.") {
                    // "Patient.name[0]" inside entry 3 is "Bundle.entry[3].resource.name[0]".
                    let rest = expression.drop { $0 != "." && $0 != "[" }
                    issue.expression = "\(prefix).resource\(rest)"
                }
            } else {
                issue.expression = prefix
            }
            return issue
        }
        return copy
    }
}

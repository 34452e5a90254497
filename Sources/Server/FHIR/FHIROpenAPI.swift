import FHIRModels
import Foundation
import Synchronization

/// The FHIR face as an OpenAPI 3.1 document (`GET /fhir/openapi.json`), for API tools and for
/// fuzzing with schemathesis (`scripts/fuzz-fhir.sh`).
///
/// Nothing here is written by hand per type: the paths come from the CapabilityStatement the
/// server publishes (its resource entries, interactions, search parameters and operations), and
/// the schemas from the element metadata of the official R4 StructureDefinitions
/// (`FHIRMetadata`), so the document cannot drift from what the server does.
///
/// Schema choices (docs/fhir.md, "OpenAPI"):
/// - every complex, backbone and resource type is an object with `additionalProperties: false`;
///   arrays have `minItems: 1` (FHIR JSON has no empty arrays); primitives carry the spec's
///   `regex` as `pattern`, and their `_name` siblings (id and extensions) are `Element`;
/// - choice elements (`value[x]`) are one property per variant; none of them is `required`
///   (a choice is one of several names), nor is a required primitive (its `_name` form alone is valid);
/// - an element typed `Resource` (`contained`, `Bundle.entry.resource`, `Parameters.parameter.resource`)
///   is `AnyResource`: an object with a `resourceType`, checked in depth by the server, not by the
///   schema (a `oneOf` of 146 types makes generators and validators crawl).
enum FHIROpenAPI {
    static let mediaJSON = "application/fhir+json"
    static let mediaXML = "application/fhir+xml"

    /// The document's bytes for a server whose FHIR base is `base` (absolute or `/fhir`),
    /// built once per base: it is about 4 MB and takes a noticeable fraction of a second.
    static func document(base: String, version: String) -> [UInt8] {
        let key = base + " " + version
        if let cached = cache.withLock({ $0[key] }) { return cached }
        let statement = CapabilityStatementBuilder.build(base: base, software: version)
        let bytes = FHIRJSON.serialize(build(capabilities: statement, base: base, version: version))
        cache.withLock { cache in
            // A server has one base (two with a configured public origin); bound it anyway.
            if cache.count > 8 { cache.removeAll() }
            cache[key] = bytes
        }
        return bytes
    }

    private static let cache = Mutex<[String: [UInt8]]>([:])

    // MARK: - The document

    static func build(capabilities statement: JSONValue, base: String, version: String) -> JSONValue {
        let rest = statement["rest"]?.arrayValue?.first ?? .object([:])
        var paths: [(String, JSONValue)] = []
        var tags: [JSONValue] = [.object(["name": "system", "description": "Whole-server interactions and operations"])]

        paths.append(("/metadata", .object(["get": operation(
            id: "capabilities", tag: "system", summary: "The CapabilityStatement (public)",
            responses: ["200": resourceResponse("CapabilityStatement", "The server's capabilities")],
            isPublic: true)])))
        paths.append(("/openapi.json", .object(["get": operation(
            id: "openapi", tag: "system", summary: "This OpenAPI document (public)",
            responses: ["200": .object(["description": "OpenAPI 3.1",
                                        "content": .object(["application/json": .object(["schema": .object(["type": "object"])])])])],
            errors: false, isPublic: true)])))

        let systemInteractions = Set(codes(rest["interaction"]))
        var system: JSONObject = [:]
        if systemInteractions.contains("search-system") {
            system["get"] = operation(
                id: "search-system", tag: "system", summary: "Search across all types",
                parameters: searchParameters(rest["searchParam"]) + resultParameters,
                responses: ["200": bundleResponse("A searchset Bundle")])
        }
        if systemInteractions.contains("transaction") || systemInteractions.contains("batch") {
            system["post"] = operation(
                id: "transaction", tag: "system", summary: "Process a transaction or batch Bundle",
                body: resourceBody("Bundle"), responses: ["200": bundleResponse("The transaction-response or batch-response Bundle")])
        }
        if !system.isEmpty { paths.append(("/", .object(system))) }
        if systemInteractions.contains("history-system") {
            paths.append(("/_history", .object(["get": operation(
                id: "history-system", tag: "system", summary: "History of every resource",
                parameters: historyParameters, responses: ["200": bundleResponse("A history Bundle")])])))
        }

        let operations = Set((rest["operation"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue })
        paths += bulkPaths(operations)

        for entry in rest["resource"]?.arrayValue ?? [] {
            guard let type = entry["type"]?.stringValue else { continue }
            tags.append(.object(["name": .string(type)]))
            paths += typePaths(type: type, entry: entry)
            if type == "Patient", operations.contains("everything") {
                paths.append(("/Patient/{id}/$everything", .object(["get": operation(
                    id: "everything-Patient", tag: "Patient", summary: "Everything in one patient's compartment",
                    parameters: [ref("parameters", "id"), ref("parameters", "_count"), ref("parameters", "_since"),
                                 ref("parameters", "_type"), ref("parameters", "_format")],
                    responses: ["200": bundleResponse("A searchset Bundle of the compartment")])])))
            }
        }

        return .object([
            "openapi": "3.1.0",
            "info": .object([
                "title": "medical-records FHIR R4 API",
                "version": .string(version),
                "description": .string(
                    "The FHIR face of medical-records, generated from its CapabilityStatement (GET /metadata) and the official R4 StructureDefinitions. Every interaction needs a bearer access token (see /.well-known/smart-configuration) except /metadata and this document. Answers are FHIR JSON by default; XML with Accept: application/fhir+xml or _format=xml. Errors are OperationOutcomes."),
            ]),
            "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
            "servers": .array([.object(["url": .string(base)])]),
            "security": .array([.object(["bearer": .array([])])]),
            "tags": .array(tags),
            "paths": .object(JSONObject(paths)),
            "components": .object([
                "securitySchemes": .object(["bearer": .object(["type": "http", "scheme": "bearer", "bearerFormat": "JWT"])]),
                "parameters": .object(sharedParameters),
                "responses": .object(sharedResponses),
                "headers": .object(sharedHeaders),
                "schemas": .object(FHIRSchemas.all()),
            ]),
        ])
    }

    // MARK: - Per type

    static func typePaths(type: String, entry: JSONValue) -> [(String, JSONValue)] {
        let interactions = Set(codes(entry["interaction"]))
        let search = searchParameters(entry["searchParam"])
        var collection: JSONObject = [:]
        var instance: JSONObject = [:]
        var result: [(String, JSONValue)] = []
        let id = ref("parameters", "id")
        let format = ref("parameters", "_format")

        if interactions.contains("search-type") {
            collection["get"] = operation(
                id: "search-\(type)", tag: type, summary: "Search \(type)",
                parameters: search + resultParameters, responses: ["200": bundleResponse("A searchset Bundle")])
        }
        if interactions.contains("create") {
            var headers: [JSONValue] = [format, ref("parameters", "Prefer")]
            if entry["conditionalCreate"]?.boolValue == true { headers.append(ref("parameters", "If-None-Exist")) }
            collection["post"] = operation(
                id: "create-\(type)", tag: type, summary: "Create a \(type)", parameters: headers, body: resourceBody(type),
                responses: [
                    "201": resourceResponse(type, "Created", headers: ["Location", "ETag", "Last-Modified"], optionalBody: true),
                    "200": resourceResponse(type, "A conditional create that matched an existing resource", headers: ["Location", "ETag"], optionalBody: true),
                ])
        }
        if entry["conditionalUpdate"]?.boolValue == true, interactions.contains("update") {
            collection["put"] = operation(
                id: "conditional-update-\(type)", tag: type, summary: "Update the one \(type) the search matches (or create it)",
                parameters: search + [format, ref("parameters", "Prefer")], body: resourceBody(type),
                responses: [
                    "200": resourceResponse(type, "Updated", headers: ["ETag", "Last-Modified"], optionalBody: true),
                    "201": resourceResponse(type, "Created", headers: ["Location", "ETag", "Last-Modified"], optionalBody: true),
                ])
        }
        if let mode = entry["conditionalDelete"]?.stringValue, mode != "not-supported", interactions.contains("delete") {
            collection["delete"] = operation(
                id: "conditional-delete-\(type)", tag: type, summary: "Delete the \(type) the search matches",
                parameters: search, responses: ["204": .object(["description": "Deleted (or nothing matched)"])])
        }
        if !collection.isEmpty { result.append(("/\(type)", .object(collection))) }

        if interactions.contains("search-type") {
            result.append(("/\(type)/_search", .object(["post": operation(
                id: "search-post-\(type)", tag: type, summary: "Search \(type) with form parameters",
                body: .object(["required": true, "content": .object([
                    "application/x-www-form-urlencoded": .object(["schema": .object(["type": "object", "additionalProperties": .object(["type": "string"])])]),
                ])]),
                responses: ["200": bundleResponse("A searchset Bundle")])])))
        }
        if interactions.contains("history-type") {
            result.append(("/\(type)/_history", .object(["get": operation(
                id: "history-\(type)", tag: type, summary: "History of every \(type)",
                parameters: historyParameters, responses: ["200": bundleResponse("A history Bundle")])])))
        }

        if interactions.contains("read") {
            instance["get"] = operation(
                id: "read-\(type)", tag: type, summary: "Read a \(type)",
                parameters: [id, format, ref("parameters", "_summary"), ref("parameters", "_elements"), ref("parameters", "If-None-Match")],
                responses: [
                    "200": resourceResponse(type, "The current version", headers: ["ETag", "Last-Modified"]),
                    "304": .object(["description": "Not modified (If-None-Match)", "headers": headerRefs(["ETag"])]),
                ])
        }
        if interactions.contains("update") {
            instance["put"] = operation(
                id: "update-\(type)", tag: type, summary: "Update (or create with this id) a \(type)",
                parameters: [id, format, ref("parameters", "If-Match"), ref("parameters", "Prefer")], body: resourceBody(type),
                responses: [
                    "200": resourceResponse(type, "Updated", headers: ["ETag", "Last-Modified"], optionalBody: true),
                    "201": resourceResponse(type, "Created", headers: ["Location", "ETag", "Last-Modified"], optionalBody: true),
                ])
        }
        if interactions.contains("patch") {
            instance["patch"] = operation(
                id: "patch-\(type)", tag: type, summary: "Patch a \(type) (JSON Patch)",
                parameters: [id, format, ref("parameters", "If-Match"), ref("parameters", "Prefer")],
                body: .object(["required": true, "content": .object([
                    "application/json-patch+json": .object(["schema": schemaRef("JSONPatch")]),
                ])]),
                responses: ["200": resourceResponse(type, "Patched", headers: ["ETag", "Last-Modified"], optionalBody: true)])
        }
        if interactions.contains("delete") {
            instance["delete"] = operation(
                id: "delete-\(type)", tag: type, summary: "Delete a \(type)", parameters: [id],
                responses: ["204": .object(["description": "Deleted", "headers": headerRefs(["ETag"])])])
        }
        if !instance.isEmpty { result.append(("/\(type)/{id}", .object(instance))) }
        if interactions.contains("history-instance") {
            result.append(("/\(type)/{id}/_history", .object(["get": operation(
                id: "history-instance-\(type)", tag: type, summary: "History of one \(type)",
                parameters: [id] + historyParameters, responses: ["200": bundleResponse("A history Bundle")])])))
        }
        if interactions.contains("vread") {
            result.append(("/\(type)/{id}/_history/{vid}", .object(["get": operation(
                id: "vread-\(type)", tag: type, summary: "Read one version of a \(type)",
                parameters: [id, ref("parameters", "vid"), format],
                responses: ["200": resourceResponse(type, "That version", headers: ["ETag", "Last-Modified"])])])))
        }
        return result
    }

    // MARK: - Bulk data

    static func bulkPaths(_ operations: Set<String>) -> [(String, JSONValue)] {
        var result: [(String, JSONValue)] = []
        let exportParameters = ["_outputFormat", "_since", "_type"].map { ref("parameters", $0) }
            + [ref("parameters", "Prefer-respond-async")]
        func kickOff(_ id: String, _ summary: String, extra: [JSONValue] = []) -> JSONValue {
            .object(["get": operation(
                id: id, tag: "system", summary: summary, parameters: extra + exportParameters,
                responses: ["202": .object(["description": "Accepted: poll the Content-Location", "headers": headerRefs(["Content-Location"], required: true)])])])
        }
        if operations.contains("export") {
            result.append(("/$export", kickOff("export", "Bulk export of the whole server")))
        }
        if operations.contains("patient-export") {
            result.append(("/Patient/$export", kickOff("export-Patient", "Bulk export of every patient's compartment")))
        }
        if operations.contains("group-export") {
            result.append(("/Group/{id}/$export", kickOff("export-Group", "Bulk export of a Group's members", extra: [ref("parameters", "id")])))
        }
        if operations.contains("import") {
            result.append(("/$import", .object(["post": operation(
                id: "import", tag: "system", summary: "Bulk import (NDJSON inputs by URL in a Parameters resource, or NDJSON posted)",
                parameters: [ref("parameters", "Prefer-respond-async")],
                body: .object(["required": true, "content": .object([
                    mediaJSON: .object(["schema": schemaRef("Parameters")]),
                    "application/fhir+ndjson": .object(["schema": .object(["type": "string"])]),
                ])]),
                responses: ["202": .object(["description": "Accepted: poll the Content-Location", "headers": headerRefs(["Content-Location"], required: true)])])])))
        }
        if !result.isEmpty {
            let job: JSONValue = .object(["name": "job", "in": "path", "required": true,
                                          "schema": .object(["type": "string", "format": "uuid"])])
            result.append(("/\(BulkController.statusPath)/{job}", .object([
                "get": operation(
                    id: "bulk-status", tag: "system", summary: "Poll a bulk job", parameters: [job],
                    responses: [
                        "200": .object(["description": "Complete: the manifest",
                                        "content": .object(["application/json": .object(["schema": schemaRef("BulkManifest")])])]),
                        "202": .object(["description": "In progress", "headers": headerRefs(["X-Progress", "Retry-After"])]),
                        // The Bulk Data specification answers a failed job with a 5xx and an OperationOutcome.
                        "500": ref("responses", "Error"),
                    ]),
                "delete": operation(
                    id: "bulk-cancel", tag: "system", summary: "Cancel a bulk job (or delete its files)", parameters: [job],
                    responses: ["202": .object(["description": "Cancelled"])]),
            ])))
            result.append(("/\(BulkController.filePath)/{job}/{file}", .object(["get": operation(
                id: "bulk-file", tag: "system", summary: "One NDJSON file of a finished export",
                parameters: [job, .object(["name": "file", "in": "path", "required": true,
                                           "schema": .object(["type": "integer", "minimum": 0])])],
                responses: ["200": .object(["description": "NDJSON, one resource a line",
                                            "content": .object(["application/fhir+ndjson": .object(["schema": .object(["type": "string"])])])])])])))
        }
        return result
    }

    // MARK: - Parts

    static func operation(
        id: String, tag: String, summary: String, parameters: [JSONValue] = [], body: JSONValue? = nil,
        responses: JSONObject, errors: Bool = true, isPublic: Bool = false
    ) -> JSONValue {
        var all = responses
        if errors {
            // Every operation can be refused or fail over: 4xx with an OperationOutcome (400, 401,
            // 403, 404, 405, 406, 409, 410, 412, 413, 415, 422, 429) and 503 when the database is away.
            all.append(key: "4XX", value: ref("responses", "Error"))
            all.append(key: "503", value: ref("responses", "Error"))
        }
        var object: JSONObject = ["operationId": .string(id), "tags": .array([.string(tag)]), "summary": .string(summary)]
        if !parameters.isEmpty { object["parameters"] = .array(parameters) }
        if let body { object["requestBody"] = body }
        object["responses"] = .object(all)
        if isPublic { object["security"] = .array([]) }
        return .object(object)
    }

    static func ref(_ section: String, _ name: String) -> JSONValue {
        .object(["$ref": .string("#/components/\(section)/\(name)")])
    }

    static func schemaRef(_ name: String) -> JSONValue { ref("schemas", name) }

    static func codes(_ list: JSONValue?) -> [String] {
        (list?.arrayValue ?? []).compactMap { $0["code"]?.stringValue }
    }

    static func headerRefs(_ names: [String], required: Bool = false) -> JSONValue {
        .object(JSONObject(names.map { name in
            if required, name == "Content-Location" { return (name, ref("headers", "Content-Location-required")) }
            return (name, ref("headers", name))
        }))
    }

    static func resourceBody(_ type: String) -> JSONValue {
        .object(["required": true, "content": .object([
            mediaJSON: .object(["schema": schemaRef(type)]),
            mediaXML: .object(["schema": .object(["type": "string"])]),
        ])])
    }

    /// A resource answer; `optionalBody` for writes, whose body `Prefer: return=minimal` leaves out.
    static func resourceResponse(_ type: String, _ description: String, headers: [String] = [], optionalBody: Bool = false) -> JSONValue {
        var response: JSONObject = ["description": .string(optionalBody ? description + " (no body with Prefer: return=minimal)" : description)]
        if !headers.isEmpty { response["headers"] = headerRefs(headers) }
        response["content"] = .object([
            mediaJSON: .object(["schema": schemaRef(type)]),
            mediaXML: .object(["schema": .object(["type": "string"])]),
        ])
        return .object(response)
    }

    static func bundleResponse(_ description: String) -> JSONValue {
        resourceResponse("Bundle", description)
    }

    /// The search parameters of a CapabilityStatement entry, as optional query parameters. Their
    /// values are strings: prefixes (`ge2020`), modifiers (`name:exact`) and chains are FHIR
    /// syntax the schema cannot express; the server answers 400 to what it cannot parse.
    static func searchParameters(_ list: JSONValue?) -> [JSONValue] {
        (list?.arrayValue ?? []).compactMap { parameter in
            guard let name = parameter["name"]?.stringValue, let kind = parameter["type"]?.stringValue,
                  !resultParameterNames.contains(name) else { return nil }
            var description = "FHIR search parameter of type \(kind)"
            if let documentation = parameter["documentation"]?.stringValue { description += ". " + documentation }
            return .object([
                "name": .string(name), "in": "query", "required": false,
                "description": .string(description), "schema": .object(["type": "string"]),
            ])
        }
    }

    /// Described once in `components/parameters`; a statement's parameter of the same name is left
    /// out so that no operation lists a name twice.
    static let resultParameterNames = ["_count", "_sort", "_include", "_revinclude", "_summary", "_elements", "_total", "_format"]
    static let resultParameters: [JSONValue] = resultParameterNames.map { ref("parameters", $0) }

    static let historyParameters: [JSONValue] = ["_count", "_since", "_at", "_format"].map { ref("parameters", $0) }

    static var sharedParameters: JSONObject {
        func query(_ name: String, _ description: String, _ schema: JSONValue) -> (String, JSONValue) {
            (name, .object(["name": .string(name), "in": "query", "required": false, "description": .string(description), "schema": schema]))
        }
        func header(_ name: String, _ description: String) -> (String, JSONValue) {
            (name, .object(["name": .string(name), "in": "header", "required": false, "description": .string(description),
                            "schema": .object(["type": "string"])]))
        }
        let string: JSONValue = .object(["type": "string"])
        let instant = FHIRSchemas.primitiveSchema("instant") ?? string
        return JSONObject([
            ("id", .object(["name": "id", "in": "path", "required": true, "description": "The logical id",
                            "schema": FHIRSchemas.primitiveSchema("id") ?? string])),
            ("vid", .object(["name": "vid", "in": "path", "required": true, "description": "A version id",
                             "schema": .object(["type": "string", "pattern": "^[1-9][0-9]{0,8}$"])])),
            query("_count", "Page size (the server caps it)", .object(["type": "integer", "minimum": 0])),
            query("_sort", "Comma-separated sort keys, `-` for descending", string),
            query("_include", "Type:parameter[:target] to include", string),
            query("_revinclude", "Type:parameter[:target] to include in reverse", string),
            query("_summary", "Summary form", .object(["type": "string", "enum": ["true", "false", "text", "data", "count"]])),
            query("_elements", "Comma-separated top-level elements to return", string),
            query("_total", "Whether to count the matches", .object(["type": "string", "enum": ["none", "estimate", "accurate"]])),
            query("_format", "json or xml (or their media types); overrides Accept", string),
            query("_since", "Only versions or resources changed after this instant", instant),
            query("_at", "Versions current at this time", string),
            query("_type", "Comma-separated resource types", string),
            query("_outputFormat", "application/fhir+ndjson (the default and only format)", string),
            header("If-None-Exist", "Conditional create: a search query; the create happens only if nothing matches"),
            header("If-Match", "Version-aware update: W/\"<versionId>\""),
            header("If-None-Match", "Conditional read: W/\"<versionId>\""),
            header("Prefer", "return=minimal | return=representation | return=OperationOutcome"),
            ("Prefer-respond-async", .object(["name": "Prefer", "in": "header", "required": true, "description": "Bulk data kick-offs are asynchronous",
                                              "schema": .object(["type": "string", "const": "respond-async"])])),
        ])
    }

    static var sharedResponses: JSONObject {
        ["Error": .object([
            "description": "Refused or failed; an OperationOutcome says why (never quoting the request's data)",
            "content": .object([
                mediaJSON: .object(["schema": schemaRef("OperationOutcome")]),
                mediaXML: .object(["schema": .object(["type": "string"])]),
            ]),
        ])]
    }

    static var sharedHeaders: JSONObject {
        func header(_ description: String, _ required: Bool = false) -> JSONValue {
            .object(["description": .string(description), "required": .bool(required), "schema": .object(["type": "string"])])
        }
        return JSONObject([
            ("ETag", header("W/\"<versionId>\"")),
            ("Last-Modified", header("HTTP date of meta.lastUpdated")),
            ("Location", header("<base>/<type>/<id>/_history/<versionId>")),
            ("Content-Location", header("The status URL of the job")),
            ("Content-Location-required", header("The status URL of the job", true)),
            ("X-Progress", header("How far the job is")),
            ("Retry-After", header("Seconds to wait before polling again")),
        ])
    }
}

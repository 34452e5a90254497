import FixtureSupport
import FHIRModels
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif
import PostgresNIO
import Testing
@testable import Server

/// Bulk `$export`/`$import` with real `medrec serve` processes on one database: a process
/// killed with SIGKILL mid-job leaves its job to another process, which resumes it after the
/// last committed batch (nothing lost, nothing doubled); status, files and cancel work from any
/// process. Serialized: each test keeps the two cores busy on its own.
@Suite("Bulk data across real processes", .serialized)
struct BulkProcessTests {
    /// The types of the kill-during-import test, in the order they are imported.
    static let importTypes = ["Organization", "Location", "Practitioner", "PractitionerRole", "Patient", "Encounter", "Condition"]

    static var ndjsonDirectory: String { Fixtures.url("ndjson").path }

    static func serverEnvironment(_ extra: [String: String] = [:]) -> [String: String] {
        var environment = [
            "MEDREC_BULK_IMPORT_DIRECTORY": ndjsonDirectory,
            "MEDREC_BULK_BATCH_SIZE": "50",
            "MEDREC_BULK_STALE_SECONDS": "2",
            "MEDREC_BULK_POLL_SECONDS": "0.2",
        ]
        for (key, value) in extra { environment[key] = value }
        return environment
    }

    static func lineCount(_ type: String) throws -> Int {
        try String(contentsOf: Fixtures.url("ndjson/\(type).000.ndjson"), encoding: .utf8).split(separator: "\n").count
    }

    // MARK: - Processes

    /// A data directory with a system client, removed (and its cluster stopped) by `close`.
    struct Setup {
        let root: String
        let data: String
        let client: (id: String, secret: String)

        static func make(_ prefix: String) async throws -> Setup {
            let root = try TemporaryDirectory.make(prefix: prefix)
            let data = root + "/data"
            let client = try await ServeCommandTests.addClient(dataDirectory: data)
            return Setup(root: root, data: data, client: client)
        }

        func close() {
            EmbeddedPostgres.stopImmediatelyBlocking(dataDirectory: data)
            try? FileManager.default.removeItem(atPath: root)
        }

        /// `medrec serve` on this data directory: on its embedded cluster, or (`databaseURL`)
        /// on the database another process started, as a second server does.
        func serve(databaseURL: String? = nil, environment: [String: String] = [:]) async throws -> (MedrecProcess.Running, Int) {
            var environment = BulkProcessTests.serverEnvironment(environment)
            if let databaseURL { environment["MEDREC_DATABASE_URL"] = databaseURL }
            let process = try MedrecProcess.start(["serve", "--data-dir", data, "--port", "0"], environment: environment)
            do {
                let output = try await process.waitForOutput(containing: "listening on http://127.0.0.1:", timeout: .seconds(120))
                return (process, try ServeCommandTests.port(from: output))
            } catch {
                _ = await process.terminate()
                throw error
            }
        }

        func databaseURL() async throws -> String {
            let url = try await MedrecProcess.run(["db", "url", "--data-dir", data])
            #expect(url.status == 0, "\(url.stderr)")
            return url.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        func medrecImport(_ paths: [String]) async throws {
            let imported = try await MedrecProcess.run(["import"] + paths + ["--data-dir", data])
            #expect(imported.status == 0, "\(imported.stderr.suffix(500))")
            #expect(imported.stderr.contains("0 errors"), "\(imported.stderr.suffix(500))")
        }
    }

    // MARK: - HTTP

    struct Reply {
        let status: Int
        let headers: [String: String]
        let body: Data

        func header(_ name: String) -> String? {
            headers.first { $0.key.lowercased() == name.lowercased() }?.value
        }

        var json: JSONValue? { body.isEmpty ? nil : try? FHIRJSON.parse(body) }
        var text: String { String(decoding: body.prefix(400), as: UTF8.self) }

        /// The count in `X-Progress` (`imported 350 (input 4 of 7)`, `exported 1200 of about 5945`).
        var progress: Int64? {
            guard let text = header("X-Progress") else { return nil }
            let words = text.split(whereSeparator: { $0 == " " || $0 == ";" })
            guard let verb = words.firstIndex(where: { $0 == "imported" || $0 == "exported" }), verb + 1 < words.count else { return nil }
            return Int64(words[verb + 1])
        }
    }

    static func http(
        _ method: String, _ url: String, token: String, body: Data? = nil, contentType: String = "application/fhir+json",
        headers: [String: String] = [:]
    ) async throws -> Reply {
        var request = URLRequest(url: try #require(URL(string: url)))
        request.httpMethod = method
        request.timeoutInterval = 60
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        if let body {
            request.httpBody = body
            request.setValue(contentType, forHTTPHeaderField: "Content-Type")
        }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = try #require(response as? HTTPURLResponse)
        var fields: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            if let name = name as? String, let value = value as? String { fields[name] = value }
        }
        return Reply(status: http.statusCode, headers: fields, body: data)
    }

    static let asyncHeaders = ["Prefer": "respond-async", "Accept": "application/fhir+json"]

    /// A kick-off; returns the status URL (`Content-Location`).
    static func kickOff(_ method: String, _ url: String, token: String, body: JSONValue? = nil) async throws -> String {
        let reply = try await http(method, url, token: token, body: body.map { Data(FHIRJSON.serialize($0)) }, headers: asyncHeaders)
        #expect(reply.status == 202, "\(url): \(reply.status) \(reply.text)")
        return try #require(reply.header("Content-Location"))
    }

    /// The same URL on another server's port.
    static func on(_ port: Int, _ url: String) throws -> String {
        var components = try #require(URLComponents(string: url))
        components.port = port
        return try #require(components.string)
    }

    /// Polls a status URL until the job has done at least `atLeast` (and is still running);
    /// returns the progress then. Fails if the job finishes first or the wait is too long.
    static func waitForPartialProgress(_ status: String, token: String, atLeast: Int64, timeout: Duration = .seconds(120)) async throws -> Int64 {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let reply = try await http("GET", status, token: token)
            guard reply.status == 202 else {
                Issue.record("the job ended (\(reply.status)) before it could be interrupted: make the batches smaller or the data larger")
                throw CancellationError()
            }
            if let done = reply.progress, done >= atLeast { return done }
            try await Task.sleep(for: .milliseconds(25))
        }
        Issue.record("the job made no progress in time")
        throw CancellationError()
    }

    /// Polls a status URL until 200; returns the manifest. Every answer before is 202 with progress.
    static func waitForManifest(_ status: String, token: String, timeout: Duration = .seconds(150)) async throws -> JSONValue {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let reply = try await http("GET", status, token: token)
            if reply.status == 200 { return try #require(reply.json) }
            guard reply.status == 202 else {
                Issue.record("status \(reply.status): \(reply.text)")
                throw CancellationError()
            }
            #expect(reply.progress != nil, "\(reply.headers)")
            try await Task.sleep(for: .milliseconds(200))
        }
        Issue.record("the bulk job did not finish in time")
        throw CancellationError()
    }

    /// Every line of every file of a manifest section, downloaded from `port`, parsed; each
    /// file's line count is checked against its entry's count.
    static func download(_ manifest: JSONValue, _ section: String = "output", port: Int, token: String) async throws -> [(file: String, resource: JSONValue)] {
        var resources: [(String, JSONValue)] = []
        for entry in manifest[section]?.arrayValue ?? [] {
            let url = try on(port, try #require(entry["url"]?.stringValue))
            let reply = try await http("GET", url, token: token)
            #expect(reply.status == 200, "\(url): \(reply.text)")
            #expect(reply.header("Content-Type") == "application/fhir+ndjson")
            let lines = reply.body.split(separator: 0x0A)
            #expect(lines.count == Int(entry["count"]?.numberLexical ?? "-1"), "\(entry)")
            for line in lines { resources.append((url, try FHIRJSON.parse(Array(line)))) }
        }
        return resources
    }

    // MARK: - Database

    static func withDatabase<T: Sendable>(_ url: String, _ body: (PostgresClient) async throws -> T) async throws -> T {
        let client = PostgresClient(configuration: try DatabaseEndpoint(url: url).clientConfiguration(), backgroundLogger: TestApp.logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    /// `count(*)` of `resource` and of `resource_history` per type.
    static func storedCounts(_ client: PostgresClient, types: [String]) async throws -> (resources: [String: Int], history: [String: Int]) {
        var resources: [String: Int] = [:]
        var history: [String: Int] = [:]
        let current = try await client.query(
            "SELECT type, count(*) FROM resource WHERE type = ANY(\(types)) GROUP BY type", logger: TestApp.logger)
        for try await (type, count) in current.decode((String, Int64).self) { resources[type] = Int(count) }
        let versions = try await client.query(
            "SELECT type, count(*) FROM resource_history WHERE type = ANY(\(types)) GROUP BY type", logger: TestApp.logger)
        for try await (type, count) in versions.decode((String, Int64).self) { history[type] = Int(count) }
        return (resources, history)
    }

    static func jobID(_ statusURL: String) throws -> UUID {
        let last = statusURL.split(separator: "/").last.map(String.init) ?? ""
        return try #require(UUID(uuidString: last), "\(statusURL)")
    }

    /// A job's row: status, done count, claim attempts and the worker holding it.
    static func jobRow(_ client: PostgresClient, _ statusURL: String) async throws -> (status: String, done: Int64, attempts: Int, worker: String?) {
        let id = try jobID(statusURL)
        let rows = try await client.query(
            "SELECT status, done_count, attempts, worker FROM bulk_job WHERE id = \(id)", logger: TestApp.logger)
        for try await (status, done, attempts, worker) in rows.decode((String, Int64, Int32, String?).self) {
            return (status, done, Int(attempts), worker)
        }
        Issue.record("no bulk_job row for \(id)")
        throw CancellationError()
    }

    /// The `resumedAt` of the server's "bulk job started" log line, for a job resumed there: in
    /// the text format (`resumedAt=500`) or the JSON one (`"resumedAt":"500"`), which the server
    /// writes when its standard error is not a terminal, as here.
    static func resumedAt(_ output: String) -> [Int64] {
        output.split(separator: "\n").filter { $0.contains("bulk job started") }.compactMap { line in
            guard let range = line.range(of: "resumedAt=") ?? line.range(of: #""resumedAt":"#) else { return nil }
            return Int64(line[range.upperBound...].drop { $0 == "\"" }.prefix { $0.isNumber })
        }
    }

    // MARK: - Tests

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason), .timeLimit(.minutes(4)))
    func anImportWhoseServerIsKilledIsFinishedByAnotherServerWithoutLosingOrDoublingAResource() async throws {
        let setup = try await Setup.make("medrec-bulk-kill-import")
        defer { setup.close() }
        var expected: [String: Int] = [:]
        for type in Self.importTypes { expected[type] = try Self.lineCount(type) }
        let total = expected.values.reduce(0, +)
        #expect(total > 1_500, "enough batches of 50 to interrupt")

        let (first, firstPort) = try await setup.serve()
        defer { first.stop() }
        let databaseURL = try await setup.databaseURL()
        let firstToken = try await ServeCommandTests.token(port: firstPort, client: setup.client)
        let parameters = BulkDataTests.importParameters(Self.importTypes.map { Fixtures.url("ndjson/\($0).000.ndjson") })
        let status = try await Self.kickOff("POST", "http://127.0.0.1:\(firstPort)/fhir/$import", token: firstToken, body: parameters)

        // Four batches committed, most of the work still to do: kill -9.
        let seen = try await Self.waitForPartialProgress(status, token: firstToken, atLeast: 200)
        #expect(await first.killHard() == 128 + SIGKILL)
        let interrupted = try await Self.withDatabase(databaseURL) { try await Self.jobRow($0, status) }
        #expect(interrupted.status == "running", "the killed process left its job running")
        #expect(interrupted.worker?.hasPrefix("medrec-\(first.pid)-") == true, "\(interrupted.worker ?? "nil")")
        #expect(interrupted.done >= seen && interrupted.done < Int64(total), "\(interrupted.done) of \(total)")

        // A second process on the same database and keys takes the stale job over.
        let (second, secondPort) = try await setup.serve(databaseURL: databaseURL)
        defer { second.stop() }
        let secondToken = try await ServeCommandTests.token(port: secondPort, client: setup.client)
        let manifest = try await Self.waitForManifest(try Self.on(secondPort, status), token: secondToken)

        #expect(manifest["error"]?.arrayValue?.count == 0, "\(manifest["error"] ?? .null)")
        var created: [String: Int] = [:]
        for entry in manifest["output"]?.arrayValue ?? [] {
            let type = entry["type"]?.stringValue ?? "?"
            created[type] = Int(entry["created"]?.numberLexical ?? "-1")
            #expect(entry["updated"]?.numberLexical == "0", "\(type): nothing written twice")
            #expect(entry["count"]?.numberLexical == entry["created"]?.numberLexical, "\(type)")
        }
        #expect(created == expected)
        let resumed = Self.resumedAt(second.output)
        #expect(resumed.count == 1 && resumed[0] >= interrupted.done, "the second process resumed after the last batch: \(resumed)")

        let (finished, counts) = try await Self.withDatabase(databaseURL) { client in
            (try await Self.jobRow(client, status), try await Self.storedCounts(client, types: Self.importTypes))
        }
        #expect(finished.status == "completed")
        #expect(finished.attempts == 2, "claimed by the first process, then by the second")
        #expect(finished.worker?.hasPrefix("medrec-\(second.pid)-") == true, "\(finished.worker ?? "nil")")
        #expect(counts.resources == expected, "nothing lost")
        #expect(counts.history == expected, "nothing written twice")
        #expect(await second.terminate() == 0)
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason), .timeLimit(.minutes(4)))
    func anExportWhoseServerIsKilledIsFinishedByAnotherServerWithEveryResourceOnce() async throws {
        let setup = try await Setup.make("medrec-bulk-kill-export")
        defer { setup.close() }
        try await setup.medrecImport([Self.ndjsonDirectory])
        let perFile = 100
        let environment = ["MEDREC_BULK_RESOURCES_PER_FILE": String(perFile)]

        let (first, firstPort) = try await setup.serve(environment: environment)
        defer { first.stop() }
        let databaseURL = try await setup.databaseURL()
        let firstToken = try await ServeCommandTests.token(port: firstPort, client: setup.client)
        let status = try await Self.kickOff("GET", "http://127.0.0.1:\(firstPort)/fhir/$export", token: firstToken)
        // Killed early (2 batches of 50 in, about 5,900 to go): in a fresh-clone CI run the whole
        // export once finished between a poll that saw 500 and the kill, the test process being
        // starved by the rest of the suite.
        let seen = try await Self.waitForPartialProgress(status, token: firstToken, atLeast: 100)
        #expect(await first.killHard() == 128 + SIGKILL)
        let interrupted = try await Self.withDatabase(databaseURL) { try await Self.jobRow($0, status) }
        #expect(interrupted.status == "running")
        #expect(interrupted.done >= seen, "\(interrupted.done)")

        let (second, secondPort) = try await setup.serve(databaseURL: databaseURL, environment: environment)
        defer { second.stop() }
        let secondToken = try await ServeCommandTests.token(port: secondPort, client: setup.client)
        let manifest = try await Self.waitForManifest(try Self.on(secondPort, status), token: secondToken)
        let resumed = Self.resumedAt(second.output)
        #expect(resumed.count == 1 && resumed[0] >= interrupted.done, "the second process resumed after the last batch: \(resumed)")

        let downloaded = try await Self.download(manifest, port: secondPort, token: secondToken)
        var exported: [String: Int] = [:]
        var keys: [String: Int] = [:]
        var typesPerFile: [String: Set<String>] = [:]
        for (file, resource) in downloaded {
            let type = resource["resourceType"]?.stringValue ?? "?"
            exported[type, default: 0] += 1
            keys["\(type)/\(resource["id"]?.stringValue ?? "?")", default: 0] += 1
            typesPerFile[file, default: []].insert(type)
        }
        let doubled = keys.filter { $0.value > 1 }
        #expect(doubled.isEmpty, "\(doubled.count) resources exported twice, e.g. \(doubled.keys.sorted().prefix(5))")
        #expect(typesPerFile.values.allSatisfy { $0.count == 1 }, "one type per file")
        for entry in manifest["output"]?.arrayValue ?? [] {
            #expect((Int(entry["count"]?.numberLexical ?? "0") ?? 0) <= perFile, "\(entry)")
        }
        // Every type with as many lines as the database holds resources of it.
        let stored = try await Self.withDatabase(databaseURL) { client in
            var stored: [String: Int] = [:]
            let rows = try await client.query(
                "SELECT type, count(*) FROM resource WHERE NOT deleted AND type <> 'AuditEvent' GROUP BY type", logger: TestApp.logger)
            for try await (type, count) in rows.decode((String, Int64).self) { stored[type] = Int(count) }
            return stored
        }
        #expect(exported == stored)
        #expect(exported.values.reduce(0, +) >= Fixtures.expected(full: 5_900, vendored: 2_100), "the Synthea NDJSON: \(exported)")
        #expect(await second.terminate() == 0)
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason), .timeLimit(.minutes(4)))
    func twoServersServeOneExportAndACancelOnOneIsSeenByBoth() async throws {
        let setup = try await Setup.make("medrec-bulk-share")
        defer { setup.close() }
        try await setup.medrecImport(["Patient", "Condition"].map { Fixtures.url("ndjson/\($0).000.ndjson").path })

        let (first, firstPort) = try await setup.serve()
        defer { first.stop() }
        let databaseURL = try await setup.databaseURL()
        let (second, secondPort) = try await setup.serve(databaseURL: databaseURL)
        defer { second.stop() }
        let token = try await ServeCommandTests.token(port: firstPort, client: setup.client)

        let status = try await Self.kickOff("GET", "http://127.0.0.1:\(firstPort)/fhir/$export?_type=Patient,Condition", token: token)
        #expect(status.hasPrefix("http://127.0.0.1:\(firstPort)/fhir/$bulk-status/"), "\(status)")
        let statusOnSecond = try Self.on(secondPort, status)
        let manifest = try await Self.waitForManifest(statusOnSecond, token: token)
        #expect(manifest["request"]?.stringValue == "http://127.0.0.1:\(firstPort)/fhir/$export?_type=Patient,Condition")
        // Both processes answer the same manifest (but for the host in the URLs).
        let again = try await Self.http("GET", status, token: token)
        #expect(again.status == 200)
        func files(_ manifest: JSONValue?) -> [String] {
            (manifest?["output"]?.arrayValue ?? []).map {
                let url = $0["url"]?.stringValue ?? ""
                return "\($0["type"]?.stringValue ?? "") \($0["count"]?.numberLexical ?? "") \(url.range(of: "/fhir/").map { url[$0.lowerBound...] } ?? "")"
            }
        }
        #expect(!files(manifest).isEmpty && files(again.json) == files(manifest))
        let outputs = manifest["output"]?.arrayValue ?? []
        #expect(Set(outputs.compactMap { $0["type"]?.stringValue }) == ["Patient", "Condition"])
        let patients = try #require(outputs.first { $0["type"] == "Patient" })
        #expect(patients["count"]?.numberLexical == String(try Self.lineCount("Patient")))
        let fileURL = try #require(patients["url"]?.stringValue)

        // A file downloads from either process, the same lines.
        let fromSecond = try await Self.http("GET", try Self.on(secondPort, fileURL), token: token)
        let fromFirst = try await Self.http("GET", try Self.on(firstPort, fileURL), token: token)
        #expect(fromSecond.status == 200 && fromFirst.status == 200)
        #expect(fromSecond.body.split(separator: 0x0A).count == (try Self.lineCount("Patient")))
        #expect(fromSecond.body == fromFirst.body)

        // Cancelled on the second process: gone on both, the status and the file.
        let deleted = try await Self.http("DELETE", statusOnSecond, token: token)
        #expect(deleted.status == 202, "\(deleted.text)")
        for port in [firstPort, secondPort] {
            let statusReply = try await Self.http("GET", try Self.on(port, status), token: token)
            #expect(statusReply.status == 404, "status on \(port): \(statusReply.status)")
            #expect(statusReply.json?["resourceType"] == "OperationOutcome")
            let fileReply = try await Self.http("GET", try Self.on(port, fileURL), token: token)
            #expect(fileReply.status == 404, "file on \(port): \(fileReply.status)")
        }
        #expect(try await Self.http("DELETE", try Self.on(firstPort, status), token: token).status == 404)
        let chunks = try await Self.withDatabase(databaseURL) { client in
            let id = try Self.jobID(status)
            let rows = try await client.query("SELECT count(*) FROM bulk_chunk WHERE job_id = \(id)", logger: TestApp.logger)
            for try await count in rows.decode(Int64.self) { return count }
            return -1
        }
        #expect(chunks == 0, "the files' chunks are deleted with the job")
        #expect(await second.terminate() == 0)
        #expect(await first.terminate() == 0)
    }
}

import FixtureSupport
import FHIRModels
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PostgresNIO
import Prometheus
import Synchronization
import Testing
@testable import Server

/// Bulk Data `$export` and `$import` on the real app and database, with the Synthea NDJSON
/// export (`ndjson/`) as the data.
@Suite("Bulk data: $export and $import")
struct BulkDataTests {
    static let asyncHeaders: HTTPFields = [.prefer: "respond-async", .accept: "application/fhir+json"]

    static func settings(importDirectory: String? = nil, batchSize: Int = 500, slots: Int = 1) -> ServerSettings {
        var settings = ServerSettings()
        settings.bulk.importDirectory = importDirectory
        settings.bulk.batchSize = batchSize
        settings.bulk.pollSeconds = 0.05
        settings.bulk.staleSeconds = 1
        settings.bulk.workerSlots = slots
        settings.bulk.kickOffsPerMinute = 100
        settings.bulk.maxActiveJobs = 50
        return settings
    }

    /// The path of a status URL (`Content-Location` is absolute).
    static func path(_ url: String) -> String {
        guard let range = url.range(of: "/fhir/") else { return url }
        return String(url[range.lowerBound...])
    }

    static func kickOff(_ client: any TestClientProtocol, _ uri: String, method: HTTPRequest.Method = .get, body: JSONValue? = nil,
                        headers: HTTPFields = [:]) async throws -> String {
        var fields = asyncHeaders
        for field in headers { fields[field.name] = field.value }
        if body != nil { fields[.contentType] = "application/fhir+json" }
        let response = try await client.send(method, uri, headers: fields, body: body.map { FHIRJSON.serialize($0) })
        #expect(response.status == .accepted, "\(uri): \(response.status) \(response.text.prefix(300))")
        return path(try #require(response.headers[.contentLocation]))
    }

    /// Polls a status URL until the job is done; returns the manifest. The wait is a hang bound,
    /// not a speed goal: the Synthea round trip's jobs share two cores with the whole parallel
    /// suite in CI, where one took over 3 minutes (alone, the five take 100 s in a debug build).
    static func manifest(_ client: any TestClientProtocol, _ status: String, headers: HTTPFields = [:],
                         within seconds: TimeInterval = 180) async throws -> JSONValue {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let response = try await client.send(.get, status, headers: headers)
            if response.status == .ok { return try response.json }
            #expect(response.status == .accepted, "\(response.status) \(response.text.prefix(300))")
            if response.status != .accepted { throw CancellationError() }
            #expect(response.headers[.retryAfter] != nil)
            #expect(response.headers[HTTPField.Name("X-Progress")!] != nil)
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("the bulk job did not finish in time")
        throw CancellationError()
    }

    /// Every line of every file of a manifest section, parsed.
    static func download(_ client: any TestClientProtocol, _ manifest: JSONValue, _ section: String = "output") async throws -> [JSONValue] {
        var resources: [JSONValue] = []
        for entry in manifest[section]?.arrayValue ?? [] {
            let url = try #require(entry["url"]?.stringValue)
            let response = try await client.send(.get, path(url))
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/fhir+ndjson")
            let lines = response.body.split(separator: 0x0A).map(Array.init)
            #expect(lines.count == Int(entry["count"]?.numberLexical ?? "-1"), "\(entry)")
            for line in lines { resources.append(try FHIRJSON.parse(line)) }
        }
        return resources
    }

    static func importParameters(_ files: [URL]) -> JSONValue {
        var parameters: [JSONValue] = [.object(["name": "inputFormat", "valueCode": "application/fhir+ndjson"])]
        for file in files {
            let type = String(file.lastPathComponent.split(separator: ".")[0])
            parameters.append(.object(["name": "input", "part": .array([
                .object(["name": "type", "valueCode": .string(type)]),
                .object(["name": "url", "valueUrl": .string("file://" + file.path)]),
            ])]))
        }
        return .object(["resourceType": "Parameters", "parameter": .array(parameters)])
    }

    /// A resource without the parts that differ between two stores, as text with its object
    /// keys sorted (the store keeps member order as jsonb does, not as the input had it).
    static func comparable(_ resource: JSONValue) -> String {
        guard var object = resource.objectValue else { return canonical(resource) }
        if var meta = object["meta"]?.objectValue {
            meta["versionId"] = nil
            meta["lastUpdated"] = nil
            object["meta"] = meta.isEmpty ? nil : .object(meta)
        }
        return canonical(.object(object))
    }

    static func canonical(_ value: JSONValue) -> String {
        switch value {
        case .object(let object):
            return "{" + object.map { ($0.key, canonical($0.value)) }.sorted { $0.0 < $1.0 }.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
        case .array(let array):
            return "[" + array.map(canonical).joined(separator: ",") + "]"
        default:
            return String(decoding: FHIRJSON.serialize(value), as: UTF8.self)
        }
    }

    static func key(_ resource: JSONValue) -> String {
        "\(resource["resourceType"]?.stringValue ?? "")/\(resource["id"]?.stringValue ?? "")"
    }

    static func ndjsonLineCounts() throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for file in Fixtures.files(in: "ndjson", withExtension: "ndjson") {
            let type = String(file.lastPathComponent.split(separator: ".")[0])
            counts[type] = try String(contentsOf: file, encoding: .utf8).split(separator: "\n").count
        }
        return counts
    }

    // MARK: - Round trip

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason), .timeLimit(.minutes(20)))
    func syntheaNDJSONRoundTripsThroughImportAndExportIntoAFreshDatabase() async throws {
        let files = Fixtures.files(in: "ndjson", withExtension: "ndjson")
        #expect(files.count == Fixtures.expected(full: 12, vendored: 10))
        let expected = try Self.ndjsonLineCounts()
        let exportDirectory = try TemporaryDirectory.make(prefix: "medrec-bulk-export")
        defer { try? FileManager.default.removeItem(atPath: exportDirectory) }
        let ndjsonDirectory = files[0].deletingLastPathComponent().path
        // The jobs' resources for /metrics (process-wide: other bulk tests meanwhile count too,
        // so the figures below are lower bounds).
        let registry = PrometheusCollectorRegistry()
        BulkMetrics.install(factory: PrometheusMetricsFactory(registry: registry))
        defer { BulkMetrics.install(factory: nil) }

        // 1. Import the Synthea export, then export everything.
        let firstBox = Box<[JSONValue]>([])
        try await TestApp.run(settings: Self.settings(importDirectory: ndjsonDirectory)) { client in
                let status = try await Self.kickOff(client, "/fhir/$import", method: .post, body: Self.importParameters(files))
                let manifest = try await Self.manifest(client, status, within: 600)
                let errors = try await Self.download(client, manifest, "error")
                #expect(errors.isEmpty, "\(errors.prefix(3))")
                var imported: [String: Int] = [:]
                for entry in manifest["output"]?.arrayValue ?? [] {
                    imported[entry["type"]?.stringValue ?? ""] = Int(entry["count"]?.numberLexical ?? "0")
                    #expect(entry["created"]?.numberLexical == entry["count"]?.numberLexical, "a fresh database: every resource is new")
                }
                #expect(imported == expected)

                let exportStatus = try await Self.kickOff(client, "/fhir/$export")
                let exported = try await Self.manifest(client, exportStatus, within: 600)
                #expect(exported["requiresAccessToken"] == true)
                #expect(exported["transactionTime"]?.stringValue != nil)
                firstBox.value = try await Self.download(client, exported)
        }
        let first = firstBox.value
        var bytes: [UInt8] = []
        registry.emit(into: &bytes)
        let scraped = String(decoding: bytes, as: UTF8.self)
        for (operation, atLeast) in [("import", expected.values.reduce(0, +)), ("export", first.count)] {
            let line = scraped.split(separator: "\n").first { $0.hasPrefix(#"medrec_bulk_resources_total{operation="\#(operation)"} "#) }
            let value = line.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
            #expect(Int(value) >= atLeast, "\(operation): \(line ?? "absent")")
        }
        var firstCounts: [String: Int] = [:]
        for resource in first { firstCounts[resource["resourceType"]?.stringValue ?? "", default: 0] += 1 }
        #expect(firstCounts == expected)

        // Every reference in the export resolves inside it (conditional ones were resolved on import).
        let keys = Set(first.map(Self.key))
        var checked = 0
        for resource in first {
            for reference in FHIRImportTests.references(in: resource) where !reference.hasPrefix("#") {
                #expect(keys.contains(reference), "\(Self.key(resource)) → \(reference)")
                checked += 1
            }
        }
        #expect(checked > Fixtures.expected(full: 7_000, vendored: 6_000))

        // 2. Write the export as files, import them into a fresh database, export again.
        var byType: [String: [String]] = [:]
        for resource in first { byType[resource["resourceType"]!.stringValue!, default: []].append(String(decoding: FHIRJSON.serialize(resource), as: UTF8.self)) }
        var exportFiles: [URL] = []
        for (type, lines) in byType {
            let url = URL(fileURLWithPath: exportDirectory).appendingPathComponent("\(type).ndjson")
            try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
            exportFiles.append(url)
        }
        let importFiles = exportFiles
        let secondBox = Box<[JSONValue]>([])
        try await TestApp.run(settings: Self.settings(importDirectory: exportDirectory)) { client in
            let status = try await Self.kickOff(client, "/fhir/$import", method: .post, body: Self.importParameters(importFiles))
            let manifest = try await Self.manifest(client, status, within: 600)
            #expect(try await Self.download(client, manifest, "error").isEmpty)
            let exportStatus = try await Self.kickOff(client, "/fhir/$export")
            secondBox.value = try await Self.download(client, try await Self.manifest(client, exportStatus, within: 600))

            // Re-running the same import changes nothing visible but the versions (two of the
            // files, Patient among them: the whole set again would add a third of the test's CPU).
            let rerun = importFiles.filter { ["Patient.ndjson", "Condition.ndjson"].contains($0.lastPathComponent) }
            #expect(rerun.count == 2)
            let again = try await Self.manifest(client, try await Self.kickOff(client, "/fhir/$import", method: .post, body: Self.importParameters(rerun)), within: 600)
            #expect(again["output"]?.arrayValue?.count == 2)
            for entry in again["output"]?.arrayValue ?? [] {
                #expect(entry["created"]?.numberLexical == "0")
                #expect(entry["updated"]?.numberLexical == entry["count"]?.numberLexical)
            }
            let patient = try #require(first.first { $0["resourceType"] == "Patient" })
            let read = try await client.send(.get, "/fhir/Patient/\(patient["id"]!.stringValue!)")
            #expect(read.status == .ok)
            #expect(try read.json["meta"]?["versionId"] == "2")
            #expect(Self.comparable(try read.json) == Self.comparable(patient))
        }
        let second = secondBox.value
        let firstByKey = Dictionary(first.map { (Self.key($0), Self.comparable($0)) }, uniquingKeysWith: { a, _ in a })
        let secondByKey = Dictionary(second.map { (Self.key($0), Self.comparable($0)) }, uniquingKeysWith: { a, _ in a })
        #expect(firstByKey.count == first.count)
        #expect(secondByKey.count == firstByKey.count)
        var differing = 0
        var example = ""
        for (key, resource) in firstByKey where secondByKey[key] != resource {
            differing += 1
            example = "\(key):\n\(resource.prefix(600))\n\(secondByKey[key]?.prefix(600) ?? "absent")"
        }
        #expect(differing == 0, "\(differing) resources differ between the two exports, e.g. \(example)")
    }

    // MARK: - Snapshot, _since, _type, _elements, gzip

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason), .timeLimit(.minutes(5)))
    func anExportReadsOneSnapshotAndListsDeletionsSinceItsSince() async throws {
        let patients = try String(contentsOf: Fixtures.url("ndjson/Patient.000.ndjson"), encoding: .utf8)
        // Batches of 5: each file holds several chunks, so the gzip download below must be one
        // stream (a client that inflates only the first gzip member would lose lines).
        try await TestApp.runBulk(settings: Self.settings(batchSize: 5, slots: 0)) { client, _, _, bulk in
            let posted = try await client.send(
                .post, "/fhir/$import", headers: [.prefer: "respond-async", .contentType: "application/fhir+ndjson"], body: Array(patients.utf8))
            #expect(posted.status == .accepted, "\(posted.text)")
            let worker = bulk.worker(id: "test-worker")
            let importJob = try #require(try await bulk.jobs.claim(worker: worker.id, staleAfter: 1))
            #expect(await worker.runClaimed(importJob).label == "completed")
            let before = Date()
            try await Task.sleep(for: .milliseconds(20))
            let ids = patients.split(separator: "\n").compactMap { try? FHIRJSON.parse(Array($0.utf8))["id"]?.stringValue }
            #expect(ids.count == 13)
            #expect(try await client.send(.delete, "/fhir/Patient/\(ids[0])").status == .noContent)

            // Kick-off takes the snapshot; what is written afterwards is not in the export.
            let status = try await Self.kickOff(client, "/fhir/$export?_type=Patient&_since=\(StoreTimestamp.string(before))")
            let all = try await Self.kickOff(client, "/fhir/$export?_type=Patient&_elements=gender")
            #expect(try await client.send(.delete, "/fhir/Patient/\(ids[1])").status == .noContent)
            let late = try await client.sendJSON(.post, "/fhir/Patient", ["resourceType": "Patient", "gender": "other"])
            #expect(late.status == .created)
            for _ in 0..<2 {
                let job = try #require(try await bulk.jobs.claim(worker: worker.id, staleAfter: 1))
                #expect(await worker.runClaimed(job).label == "completed")
            }
            let sinceManifest = try await Self.manifest(client, status)
            // Only the deletion happened after `_since`: no output, one deleted Bundle.
            let sinceOutput = try await Self.download(client, sinceManifest)
            #expect(sinceOutput.count == 0, "\(sinceOutput.map { Self.key($0) })")
            let deleted = try await Self.download(client, sinceManifest, "deleted")
            #expect(deleted.count == 1)
            #expect(deleted.first?["entry"]?[0]?["request"]?["url"]?.stringValue == "Patient/\(ids[0])")
            #expect(deleted.first?["entry"]?[0]?["request"]?["method"] == "DELETE")

            let allManifest = try await Self.manifest(client, all)
            let exported = try await Self.download(client, allManifest)
            // 13 imported, one deleted before the kick-off; the later delete and create are not seen.
            #expect(exported.count == 12)
            #expect(exported.contains { $0["id"]?.stringValue == ids[1] })
            #expect(!exported.contains { $0["gender"] == "other" })
            for resource in exported {
                #expect(resource["name"] == nil && resource["gender"] != nil, "_elements keeps gender only")
                #expect(resource["meta"]?["tag"]?.arrayValue?.contains { $0["code"] == "SUBSETTED" } == true)
            }

            // A client that accepts gzip gets the file compressed, as one gzip member that inflates
            // to every line; `gzip;q=0` means "not gzip".
            let url = try #require(allManifest["output"]?[0]?["url"]?.stringValue)
            let gzipped = try await client.send(.get, Self.path(url), headers: [.acceptEncoding: "gzip"])
            #expect(gzipped.headers[.contentEncoding] == "gzip")
            var buffer = ByteBuffer(bytes: gzipped.body)
            let inflated = try buffer.decompress(with: .gzip(), maxSize: 1 << 24)
            #expect(String(buffer: inflated).split(separator: "\n").count == 12)
            let refused = try await client.send(.get, Self.path(url), headers: [.acceptEncoding: "gzip;q=0, identity"])
            #expect(refused.headers[.contentEncoding] == nil)
            #expect(refused.text.split(separator: "\n").count == 12)
        }
    }

    // MARK: - Resume after a worker dies

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason), .timeLimit(.minutes(5)))
    func aJobWhoseWorkerDiedIsResumedFromItsLastBatchWithoutLosingOrDoublingAResource() async throws {
        let file = Fixtures.url("ndjson/Encounter.000.ndjson")
        let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n").count
        // What the Encounters reference conditionally comes first, in the same job.
        let inputs = ["Organization", "Location", "Practitioner", "Encounter"].map { Fixtures.url("ndjson/\($0).000.ndjson") }
        var settings = Self.settings(importDirectory: file.deletingLastPathComponent().path, batchSize: 100, slots: 0)
        settings.bulk.staleSeconds = 2
        try await TestApp.runBulk(settings: settings) { client, database, _, bulk in
            let status = try await Self.kickOff(client, "/fhir/$import", method: .post, body: Self.importParameters(inputs))
            // The first worker dies (its task is cancelled) after its third committed batch.
            let dying = bulk.worker(id: "dying")
            let job = try #require(try await bulk.jobs.claim(worker: dying.id, staleAfter: 2))
            let task = Task { await dying.runClaimed(job) { done in if done >= 300 { withUnsafeCurrentTask { $0?.cancel() } } } }
            _ = await task.value
            let partial = try #require(try await bulk.jobs.job(job.id))
            #expect(partial.status == .running)
            #expect(partial.doneCount >= 300 && partial.doneCount < Int64(lines + 130), "\(partial.doneCount)")
            // Another worker sees the stale heartbeat, claims the job and resumes after the cursor.
            #expect(try await bulk.jobs.claim(worker: "other", staleAfter: 2) == nil, "the heartbeat is still fresh")
            try await Task.sleep(for: .milliseconds(2500))
            let survivor = bulk.worker(id: "survivor")
            let resumed = try #require(try await bulk.jobs.claim(worker: survivor.id, staleAfter: 2))
            #expect(resumed.cursor.lineOffset == partial.cursor.lineOffset)
            #expect(await survivor.runClaimed(resumed).label == "completed")
            let manifest = try await Self.manifest(client, status)
            #expect(try await Self.download(client, manifest, "error").isEmpty)
            let encounters = manifest["output"]?.arrayValue?.first { $0["type"] == "Encounter" }
            #expect(encounters?["created"]?.numberLexical == String(lines))
            let counts = try await database.withConnection(logger: TestApp.logger) { connection in
                let rows = try await connection.query(
                    "SELECT (SELECT count(*) FROM resource WHERE type = 'Encounter'), (SELECT count(*) FROM resource_history WHERE type = 'Encounter')",
                    logger: TestApp.logger)
                for try await (resources, history) in rows.decode((Int64, Int64).self) { return (resources, history) }
                return (Int64(-1), Int64(-1))
            }
            #expect(counts.0 == Int64(lines), "nothing lost")
            #expect(counts.1 == Int64(lines), "nothing written twice")
        }
    }

    // MARK: - Access

    @Test(.timeLimit(.minutes(5)))
    func onlyTheOwnerSeesAJobAndPatientsDoctorsAndUnscopedClientsAreRefused() async throws {
        try await TestApp.runSecured(settings: Self.settings()) { client, _, security in
            #expect(try await client.sendJSON(.post, "/fhir/Patient", ["resourceType": "Patient", "gender": "female"]).status == .created)
            let status = try await Self.kickOff(client, "/fhir/$export?_type=Patient")
            _ = try await Self.manifest(client, status)
            let files = try await client.send(.get, status)
            #expect(files.status == .ok)

            let accounts = Accounts(client: client, security: security)
            let admin = try await accounts.admin("bulk-admin@example.org")
            let patient = try await accounts.patient("bulk-patient@example.org")
            let doctor = try await accounts.doctor("bulk-doctor@example.org", approvedBy: admin)
            let other = try await security.identities.addClient(name: "other", scopes: "system/*.rs")
            let otherToken = try await security.tokens.issue(
                subject: other.id, role: "system", scope: "system/*.rs", fhirUser: nil, sessionID: nil, clientID: other.id).token
            let narrow = try await security.identities.addClient(name: "narrow", scopes: "system/Observation.rs")
            let narrowToken = try await security.tokens.issue(
                subject: narrow.id, role: "system", scope: "system/Observation.rs", fhirUser: nil, sessionID: nil, clientID: narrow.id).token
            // A second system client: the first one's job, files and cancel do not exist for it.
            let bearer: HTTPFields = [.authorization: "Bearer \(otherToken)"]
            #expect(try await client.send(.get, status, headers: bearer).status == .notFound)
            #expect(try await client.send(.delete, status, headers: bearer).status == .notFound)
            let manifest = try await client.send(.get, status).json
            let url = try #require(manifest["output"]?[0]?["url"]?.stringValue)
            #expect(try await client.send(.get, Self.path(url), headers: bearer).status == .notFound)
            #expect(try await client.send(.get, Self.path(url)).status == .ok)
            // A client without read scope on the type is refused at kick-off.
            let refused = try await client.send(
                .get, "/fhir/$export?_type=Patient", headers: Self.asyncHeaders.merging([.authorization: "Bearer \(narrowToken)"]))
            #expect(refused.status == .forbidden)
            // Patients and doctors may not export or import in bulk, nor see others' jobs.
            for session in [patient, doctor] {
                let user = session.headers
                #expect(try await client.send(.get, "/fhir/$export", headers: Self.asyncHeaders.merging(user)).status == .forbidden)
                #expect(try await client.send(.post, "/fhir/$import", headers: Self.asyncHeaders.merging(user)
                    .merging([.contentType: "application/fhir+ndjson"]), body: Array(#"{"resourceType":"Patient"}"#.utf8)).status == .forbidden)
                #expect(try await client.send(.get, status, headers: user).status == .notFound)
                #expect(try await client.send(.get, Self.path(url), headers: user).status == .notFound)
                #expect(try await client.send(.delete, status, headers: user).status == .notFound)
            }
            // An admin's clinical reads are refused like any other.
            #expect(try await client.send(.get, "/fhir/$export", headers: Self.asyncHeaders.merging(admin.headers)).status == .forbidden)
            // The owner cancels: 202, then the job and its files are gone.
            #expect(try await client.send(.delete, status).status == .accepted)
            #expect(try await client.send(.get, status).status == .notFound)
            #expect(try await client.send(.get, Self.path(url)).status == .notFound)
            // Kick-off, completion, download and cancel are each in the audit log.
            let audit = try await client.send(.get, "/fhir/AuditEvent?_count=200").json
            let subtypes = Set((audit["entry"]?.arrayValue ?? []).compactMap { $0["resource"]?["subtype"]?[0]?["code"]?.stringValue })
            for expected in ["export", "export-complete", "export-download", "bulk-cancel"] {
                #expect(subtypes.contains(expected), "\(expected) in \(subtypes.sorted())")
            }
        }
    }

    @Test(.timeLimit(.minutes(5)))
    func aJobOfAClientRevokedAfterItsKickOffDoesNotRun() async throws {
        try await TestApp.runBulk(settings: Self.settings(slots: 0)) { client, _, security, bulk in
            let partner = try await security.identities.addClient(name: "partner", scopes: "system/*.rs")
            let token = try await security.tokens.issue(
                subject: partner.id, role: "system", scope: "system/*.rs", fhirUser: nil, sessionID: nil, clientID: partner.id).token
            let bearer: HTTPFields = [.authorization: "Bearer \(token)"]
            let status = try await Self.kickOff(client, "/fhir/$export?_type=Patient", headers: bearer)
            #expect(try await security.identities.revokeClient(id: partner.id))
            let worker = bulk.worker(id: "after-revoke")
            let job = try #require(try await bulk.jobs.claim(worker: worker.id, staleAfter: 60))
            #expect(await worker.runClaimed(job).label == "failed")
            let stored = try #require(try await bulk.jobs.job(job.id))
            #expect(stored.status == .failed)
            #expect(stored.error?.contains("revoked") == true)
            #expect(try await bulk.files(of: stored).isEmpty, "nothing was exported")
            // The revoked client's token no longer works at all.
            #expect(try await client.send(.get, status, headers: bearer).status == .unauthorized)
        }
    }

    @Test(.timeLimit(.minutes(5)))
    func kickOffsBeyondTheLimitsGet429WithRetryAfterAndTheOperationsAreDeclared() async throws {
        var settings = Self.settings(slots: 0)
        settings.bulk.maxActiveJobs = 2
        settings.bulk.kickOffsPerMinute = 3
        try await TestApp.run(settings: settings) { client in
            let first = try await Self.kickOff(client, "/fhir/$export?_type=Patient")
            _ = try await Self.kickOff(client, "/fhir/$export?_type=Condition")
            // No worker runs here: both jobs stay queued, so a third is over the server's limit.
            let busy = try await client.send(.get, "/fhir/$export?_type=Encounter", headers: Self.asyncHeaders)
            #expect(busy.status == .tooManyRequests)
            #expect(busy.headers[.retryAfter] == "30")
            #expect(try busy.json["issue"]?[0]?["code"] == "throttled")
            // Cancelling frees a place; the per-client rate (3 a minute, refusals not counted) is next.
            #expect(try await client.send(.delete, first).status == .accepted)
            _ = try await Self.kickOff(client, "/fhir/$export?_type=Observation")
            let rated = try await client.send(.get, "/fhir/$export?_type=Procedure", headers: Self.asyncHeaders)
            #expect(rated.status == .tooManyRequests)
            #expect(rated.headers[.retryAfter] == "60")

            let metadata = try await client.send(.get, "/fhir/metadata").json
            let operations = (metadata["rest"]?[0]?["operation"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
            for name in ["export", "patient-export", "group-export", "import"] { #expect(operations.contains(name), "\(name)") }
        }
    }

    // MARK: - Bad input

    @Test(.timeLimit(.minutes(5)))
    func badKickOffsAreRefusedWithAnOperationOutcome() async throws {
        try await TestApp.run(settings: Self.settings()) { client in
            let noPrefer = try await client.send(.get, "/fhir/$export", headers: [.accept: "application/fhir+json"])
            #expect(noPrefer.status == .badRequest)
            #expect(try noPrefer.json["resourceType"] == "OperationOutcome")
            for query in ["_outputFormat=text/csv", "_type=NoSuchType", "_since=yesterday", "_typeFilter=Patient%3Fno-such-param%3Dx",
                          "_unknown=1", "_type=Patient&_typeFilter=Observation%3Fcode%3Dx"] {
                let response = try await client.send(.get, "/fhir/$export?\(query)", headers: Self.asyncHeaders)
                #expect(response.status == .badRequest, "\(query): \(response.status)")
                #expect(try response.json["resourceType"] == "OperationOutcome", "\(query)")
            }
            let lenient = try await client.send(
                .get, "/fhir/$export?_type=Patient&_unknown=1", headers: Self.asyncHeaders.merging([.prefer: "respond-async, handling=lenient"]))
            #expect(lenient.status == .accepted)
            #expect(try await client.send(.get, "/fhir/Group/no-such-group/$export", headers: Self.asyncHeaders).status == .notFound)
            // Inputs the server may not fetch: no file directory configured, a URL off the allowlist, another scheme.
            for url in ["file:///etc/passwd", "http://169.254.169.254/latest", "ftp://example.org/x.ndjson"] {
                let body: JSONValue = .object(["resourceType": "Parameters", "parameter": .array([.object(["name": "input", "part": .array([
                    .object(["name": "type", "valueCode": "Patient"]), .object(["name": "url", "valueUrl": .string(url)]),
                ])])])])
                let response = try await client.sendJSON(.post, "/fhir/$import", body, headers: Self.asyncHeaders)
                #expect(response.status == .forbidden, "\(url): \(response.status)")
            }
            let audit = try await client.send(.get, "/fhir/$bulk-status/not-a-uuid")
            #expect(audit.status == .notFound)
        }
    }

    /// Security gap 17: `file://` inputs cannot leave the import directory by `../`, by a symlink
    /// to a file or a directory outside it, or by a sibling directory whose name starts with the
    /// directory's; a symlink that stays inside is fine. Over HTTP the kick-off answers 403 with
    /// an OperationOutcome and queues nothing.
    @Test(.timeLimit(.minutes(3)))
    func fileInputsCannotEscapeTheImportDirectory() async throws {
        let root = try TemporaryDirectory.make(prefix: "medrec-bulk-escape")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let manager = FileManager.default
        let imports = root + "/imports"
        try manager.createDirectory(atPath: imports, withIntermediateDirectories: true)
        try manager.createDirectory(atPath: root + "/importsx", withIntermediateDirectories: true)
        let line = #"{"resourceType":"Patient","id":"p1"}"# + "\n"
        for path in [imports + "/ok.ndjson", root + "/secret.ndjson", root + "/importsx/near.ndjson"] {
            try line.write(toFile: path, atomically: true, encoding: .utf8)
        }
        try manager.createSymbolicLink(atPath: imports + "/link.ndjson", withDestinationPath: "../secret.ndjson")
        try manager.createSymbolicLink(atPath: imports + "/outside", withDestinationPath: root)
        try manager.createSymbolicLink(atPath: imports + "/alias.ndjson", withDestinationPath: "ok.ndjson")
        var settings = BulkSettings()
        settings.importDirectory = imports
        let escapes = [
            "file://\(imports)/../secret.ndjson", "file://\(imports)/link.ndjson", "file://\(imports)/outside/secret.ndjson",
            "file://\(root)/importsx/near.ndjson", "file://\(imports)x/near.ndjson", "file://\(imports)", "file:///etc/passwd",
        ]
        for url in escapes {
            await #expect(throws: BulkError.self, "\(url)") { try await BulkInputLocation.check(url, settings: settings) }
            await #expect(throws: BulkError.self, "\(url)") { _ = try await BulkInputLocation.localPath(for: url, settings: settings) }
        }
        #expect(try await BulkInputLocation.localPath(for: "file://\(imports)/ok.ndjson", settings: settings).hasSuffix("/imports/ok.ndjson"))
        #expect(try await BulkInputLocation.localPath(for: "file://\(imports)/alias.ndjson", settings: settings).hasSuffix("/imports/ok.ndjson"))

        try await TestApp.run(settings: Self.settings(importDirectory: imports)) { client in
            for url in escapes.prefix(3) {
                let body: JSONValue = .object(["resourceType": "Parameters", "parameter": .array([.object(["name": "input", "part": .array([
                    .object(["name": "type", "valueCode": "Patient"]), .object(["name": "url", "valueUrl": .string(url)]),
                ])])])])
                let response = try await client.sendJSON(.post, "/fhir/$import", body, headers: Self.asyncHeaders)
                #expect(response.status == .forbidden, "\(url): \(response.status) \(response.text.prefix(200))")
                #expect(try response.json["resourceType"] == "OperationOutcome")
                #expect(!response.text.contains("p1"))
            }
            #expect(try await client.send(.get, "/fhir/Patient/p1").status == .notFound)
        }
    }

    /// The `$import` allowlist matches at a boundary and refuses user info (the JWKS allowlist's
    /// rules: one `URLAllowlist`), the fetch follows no redirect (an allowlisted host that answers
    /// 302 to an internal address gets nothing fetched), and an allowlisted name that resolves to
    /// a non-public address is refused unless the operator named that network
    /// (`medrec.outbound.privateNetworks`). Proved against a real HTTP server on loopback that
    /// serves NDJSON on one path and redirects on another, reached by address and by the name
    /// `localhost`, at kick-off over HTTP (403, nothing stored) and in the job's own fetch.
    @Test(.timeLimit(.minutes(3)))
    func importURLsMatchTheAllowlistAtABoundaryAndRedirectsAreNotFollowed() async throws {
        var settings = BulkSettings()
        settings.importURLAllowlist = ["https://data.example.org"]
        for refused in [
            "https://data.example.org.evil.net/p.ndjson", "https://data.example.org@evil.net/p.ndjson",
            "https://data.example.orgx/p.ndjson", "http://169.254.169.254/latest",
        ] {
            await #expect(throws: BulkError.self, "\(refused)") { try await BulkInputLocation.check(refused, settings: settings) }
        }
        #expect(settings.importURLAllowlist.permits("https://data.example.org/exports/p.ndjson"))

        let line = #"{"resourceType":"Patient","id":"fetched"}"#
        let router = Router()
        router.get("data.ndjson") { _, _ in line }
        router.get("moved") { _, _ in Response(status: .found, headers: [.location: "/data.ndjson"]) }
        try await LoopbackServer.run(router) { base in
            let byName = base.replacingOccurrences(of: "127.0.0.1", with: "localhost")
            // Allowlisted, but loopback is not a public address: refused by address and by name.
            settings.importURLAllowlist = URLAllowlist(prefixes: [base, byName])
            for url in [base + "/data.ndjson", byName + "/data.ndjson"] {
                do {
                    _ = try await BulkInputLocation.localPath(for: url, settings: settings)
                    Issue.record("\(url) was fetched")
                } catch let error as BulkError {
                    #expect(error.message.contains("not public"), "\(url): \(error.message)")
                }
            }
            var kickOff = Self.settings(importDirectory: nil)
            kickOff.bulk.importURLAllowlist = settings.importURLAllowlist
            try await TestApp.run(settings: kickOff) { client in
                let body: JSONValue = .object(["resourceType": "Parameters", "parameter": .array([.object(["name": "input", "part": .array([
                    .object(["name": "type", "valueCode": "Patient"]), .object(["name": "url", "valueUrl": .string(byName + "/data.ndjson")]),
                ])])])])
                let response = try await client.sendJSON(.post, "/fhir/$import", body, headers: Self.asyncHeaders)
                #expect(response.status == .forbidden, "\(response.status) \(response.text.prefix(300))")
                #expect(response.text.contains("not public"))
                #expect(try await client.send(.get, "/fhir/Patient/fetched").status == .notFound)
            }

            // The operator names the network: now the fetch goes through, by address and by name.
            settings.importURLAllowlist.privateNetworks = [try #require(IPNetwork("127.0.0.0/8"))]
            for url in [base + "/data.ndjson", byName + "/data.ndjson"] {
                let fetched = try await BulkInputLocation.localPath(for: url, settings: settings)
                #expect(try String(contentsOfFile: fetched, encoding: .utf8) == line, "the direct fetch works: \(url)")
            }
            await #expect(throws: (any Error).self, "a redirect is an answer, not followed") {
                _ = try await BulkInputLocation.localPath(for: base + "/moved", settings: settings)
            }
            // Another private network does not cover loopback.
            settings.importURLAllowlist.privateNetworks = [try #require(IPNetwork("10.0.0.0/8"))]
            await #expect(throws: BulkError.self) { _ = try await BulkInputLocation.localPath(for: base + "/data.ndjson", settings: settings) }
        }
    }

    @Test(.timeLimit(.minutes(5)))
    func badLinesAreReportedByLineAndTheGoodOnesStored() async throws {
        let directory = try TemporaryDirectory.make(prefix: "medrec-bulk-bad")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var settings = Self.settings(importDirectory: directory)
        settings.bulk.maxLineBytes = 4096
        let good1 = #"{"resourceType":"Patient","id":"good-1","gender":"female"}"#
        let good2 = #"{"resourceType":"Patient","id":"good-2","birthDate":"1970-01-01"}"#
        let lines = [
            good1,
            #"{"resourceType":"Patient","id":"broken""#,                                   // 2: not JSON
            #"{"resourceType":"Observation","id":"wrong-type","status":"final"}"#,         // 3: wrong type
            #"{"resourceType":"Patient","id":"big","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">"#
                + String(repeating: "x", count: 5000) + #"</div>"}}"#,                    // 4: too long
            #"{"resourceType":"Patient","id":"bad-date","birthDate":"1970-13-45"}"#,       // 5: invalid FHIR
            #"{"resourceType":"Patient","id":"dup","gender":"male","gender":"female"}"#,   // 6: duplicate key
            good2,
        ]
        let file = URL(fileURLWithPath: directory).appendingPathComponent("Patient.ndjson")
        try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        // A gzip bomb: 64 MiB of zeros in a few KiB.
        var zeros = ByteBuffer(repeating: 0x30, count: 64 << 20)
        let bomb = try zeros.compress(with: .gzip())
        let bombFile = URL(fileURLWithPath: directory).appendingPathComponent("Patient.bomb.ndjson.gz")
        try Data(bomb.readableBytesView).write(to: bombFile)
        try await TestApp.run(settings: settings) { client in
            let manifest = try await Self.manifest(client, try await Self.kickOff(client, "/fhir/$import", method: .post, body: Self.importParameters([file])))
            #expect(manifest["output"]?[0]?["count"]?.numberLexical == "2")
            let errors = try await Self.download(client, manifest, "error")
            let lineNumbers = errors.compactMap { $0["issue"]?[0]?["diagnostics"]?.stringValue }.compactMap { text in
                text.range(of: " line ").flatMap { Int(text[$0.upperBound...].prefix { $0.isNumber }) }
            }
            #expect(lineNumbers == [2, 3, 4, 5, 6])
            for error in errors {
                let text = error["issue"]?[0]?["diagnostics"]?.stringValue ?? ""
                #expect(text.contains(file.path))
                #expect(!text.contains("1970"), "error lines name no content")
            }
            #expect(try await client.send(.get, "/fhir/Patient/good-1").status == .ok)
            #expect(try await client.send(.get, "/fhir/Patient/good-2").status == .ok)
            for id in ["wrong-type", "big", "bad-date", "dup"] {
                #expect(try await client.send(.get, "/fhir/Patient/\(id)").status == .notFound)
            }

            let bombStatus = try await Self.kickOff(client, "/fhir/$import", method: .post, body: Self.importParameters([bombFile]))
            let deadline = Date().addingTimeInterval(60)
            var final = try await client.send(.get, bombStatus)
            while final.status == .accepted, Date() < deadline {
                try await Task.sleep(for: .milliseconds(50))
                final = try await client.send(.get, bombStatus)
            }
            #expect(final.status == .internalServerError)
            #expect(try final.json["issue"]?[0]?["diagnostics"]?.stringValue?.contains("decompression bomb") == true)
        }
    }
}

/// A value a `@Sendable` test body fills in for the code after it.
final class Box<Value>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
}

extension HTTPFields {
    func merging(_ other: HTTPFields) -> HTTPFields {
        var result = self
        for field in other { result[field.name] = field.value }
        return result
    }
}

/// `medrec import` and `medrec export`: the same jobs run by the command line on the embedded database.
@Suite struct BulkCommandLineTests {
    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason), .timeLimit(.minutes(5)))
    func importThenExportOnTheCommandLineKeepsEveryResourceAndFailsOnBadLines() async throws {
        let root = try TemporaryDirectory.make(prefix: "medrec-bulk-cli")
        let data = root + "/data"
        defer {
            EmbeddedPostgres.stopImmediatelyBlocking(dataDirectory: data)
            try? FileManager.default.removeItem(atPath: root)
        }
        let ndjson = Fixtures.url("ndjson").path
        let imported = try await MedrecProcess.run(["import", ndjson, "--data-dir", data])
        #expect(imported.status == 0, "\(imported.stderr.suffix(500))")
        #expect(imported.stderr.contains("Encounter 1215 created, 0 updated"))
        #expect(imported.stderr.contains("0 errors"))
        let exported = try await MedrecProcess.run(["export", "--out", root + "/out", "--data-dir", data])
        #expect(exported.status == 0, "\(exported.stderr.suffix(500))")
        let expected = try BulkDataTests.ndjsonLineCounts()
        for (type, count) in expected {
            let text = try String(contentsOfFile: root + "/out/\(type).000.ndjson", encoding: .utf8)
            #expect(text.split(separator: "\n").count == count, "\(type)")
        }
        // A file with a bad line: the good lines go in, the bad one is named, the exit status says so.
        let bad = root + "/Patient.bad.ndjson"
        try "{\"resourceType\":\"Patient\",\"id\":\"cli-good\"}\n{\"resourceType\":\"Patient\",\"id\":\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let failed = try await MedrecProcess.run(["import", bad, "--data-dir", data])
        #expect(failed.status != 0)
        #expect(failed.stderr.contains("Patient.bad.ndjson line 2: the line is not valid JSON"), "\(failed.stderr.suffix(500))")
        #expect(failed.stderr.contains("Patient 1 created"))
    }
}

import FHIRModels
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// Brings rows indexed by an older extraction (`resource.index_version` below
/// `SearchIndexRows.version`) up to date in small batches, each its own short transaction with
/// its rows locked `SKIP LOCKED`, so the server stays online: writes to other rows go on, and a
/// write to a row being reindexed waits only for that batch. Run by `medrec reindex`, and by the
/// server in the background after start-up.
struct Reindexer: Sendable {
    let store: PostgresResourceStore
    var batchSize = 500

    /// Reindexes one batch; returns how many rows it did (0 when none is left).
    func reindexBatch() async throws -> Int {
        try await store.run {
            try await store.client.inTransaction(logger: store.logger) { connection in
                let rows = try await connection.rows(ReindexStatements.lockStaleBatch(limit: batchSize), logger: store.logger)
                var keys: [Int64] = []
                var index = SearchIndexRows()
                var patientKeys: [Int64] = [], patientIDs: [String] = []
                var careKeys: [Int64] = [], carePractitioners: [String] = [], carePatients: [String] = [], careKinds: [String] = []
                for try await (key, type, id, deleted, content) in rows.decode((Int64, String, String, Bool, String?).self) {
                    keys.append(key)
                    // A deletion has no index rows; the clear content is what the index holds.
                    guard !deleted, let content, let resource = try? FHIRJSON.parse(content) else { continue }
                    index.append(type: type, resource: resource, ordinal: keys.count)
                    let access = AccessIndex(type: type, id: id, resource: resource, author: nil)
                    for patient in access.patientIDs {
                        patientKeys.append(key)
                        patientIDs.append(patient)
                    }
                    for relationship in access.careRelationships {
                        careKeys.append(key)
                        carePractitioners.append(relationship.practitionerID)
                        carePatients.append(relationship.patientID)
                        careKinds.append(relationship.kind.rawValue)
                    }
                }
                guard !keys.isEmpty else { return 0 }
                try await index.replace(keys: keys, on: connection, logger: store.logger)
                // Compartment rows and stated relationships too (rows from before index version 2
                // have none); 'author' relationships are history and stay.
                try await connection.rows(
                    ReindexStatements.replaceAccessRows(
                        keys: keys, patientKeys: patientKeys, patientIDs: patientIDs, careKeys: careKeys,
                        carePractitioners: carePractitioners, carePatients: carePatients, careKinds: careKinds),
                    logger: store.logger)
                return keys.count
            }
        }
    }

    /// Reindexes until nothing is left; returns the number of rows done.
    func reindexAll(progress: (Int) -> Void = { _ in }) async throws -> Int {
        var total = 0
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            let done = try await reindexBatch()
            if done == 0 { return total }
            total += done
            progress(total)
        }
        return total
    }

    /// Marks every row's search index as stale, so `reindexAll` redoes all of it.
    func markAllStale() async throws {
        try await store.client.rows(ReindexStatements.markAllStale, logger: store.logger)
    }

    /// Rows still waiting for the current extraction.
    func pending() async throws -> Int {
        let rows = try await store.client.rows(ReindexStatements.pending, logger: store.logger)
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }
}

/// The server's background reindex: after start-up, brings older rows up to date, then waits
/// for shutdown (a service that returns early would stop the server).
struct ReindexService: Service, CustomStringConvertible {
    let reindexer: Reindexer
    let logger: Logger

    var description: String { "ReindexService" }

    func run() async throws {
        await reindex()
        try? await gracefulShutdown()
    }

    private func reindex() async {
        do {
            let pending = try await reindexer.pending()
            guard pending > 0 else { return }
            logger.info("reindexing rows indexed by an older extraction", metadata: ["rows": "\(pending)"])
            let started = ContinuousClock.now
            let done = try await reindexer.reindexAll()
            logger.info("reindex finished", metadata: ["rows": "\(done)", "seconds": "\(started.duration(to: .now))"])
        } catch is CancellationError {
        } catch {
            // Searches miss unindexed rows until the next start or `medrec reindex`.
            logger.error("background reindex stopped", metadata: ["error": "\(type(of: error))"])
        }
    }
}

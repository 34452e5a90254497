import Foundation
import Logging
import ServiceLifecycle

/// Runs bulk jobs: in every `medrec serve` process (a `Service`, `workerSlots` jobs at once) and
/// inline in `medrec export|import`. Claims are rows in PostgreSQL, so any process may run,
/// resume or serve any job.
struct BulkWorker: Service {
    let service: BulkService
    let id: String

    var settings: BulkSettings { service.settings }
    var logger: Logger { service.store.logger }

    func run() async throws {
        guard settings.workerSlots > 0 else {
            // This process serves the bulk API but runs no jobs (other processes do): stay up
            // until shutdown, as a service that returned would stop the whole group.
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                for slot in 0..<settings.workerSlots {
                    group.addTask { await loop(slot: slot) }
                }
            }
        }
    }

    private func loop(slot: Int) async {
        var lastSweep = Date.distantPast
        while !Task.isCancelled {
            do {
                if slot == 0, Date().timeIntervalSince(lastSweep) > 60 {
                    lastSweep = Date()
                    let swept = try await service.jobs.sweepExpired()
                    if swept > 0 { logger.info("bulk jobs expired", metadata: ["count": "\(swept)"]) }
                }
                if let job = try await service.jobs.claim(worker: id, staleAfter: settings.staleSeconds) {
                    _ = await runClaimed(job)
                    continue
                }
            } catch is CancellationError {
                return
            } catch {
                logger.warning("bulk worker could not claim a job", metadata: ["error": "\(type(of: error))"])
            }
            try? await Task.sleep(for: .seconds(settings.pollSeconds))
        }
    }

    /// Runs a job this worker has claimed to its end (or until it is cancelled, taken over or
    /// the process stops), keeping the claim's heartbeat alive, and records how it ended.
    @discardableResult
    func runClaimed(_ job: BulkJob, progress: (@Sendable (Int64) -> Void)? = nil) async -> BulkExporter.Outcome {
        let started = Date()
        logger.info("bulk job started", metadata: ["job": "\(job.id)", "kind": "\(job.kind.rawValue)", "resumedAt": "\(job.doneCount)"])
        let heartbeat = Task { [service, id, settings] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(max(0.2, settings.staleSeconds / 4)))
                try? await service.jobs.heartbeat(job: job.id, worker: id)
            }
        }
        defer { heartbeat.cancel() }
        let outcome: BulkExporter.Outcome
        do {
            // The job acts with its owner's rights: a system client revoked since the kick-off
            // loses them here too (checked at each claim, so a resumed job is checked again).
            if job.owner.role == .system, !job.owner.subject.hasPrefix(BulkCLI.operatorPrefix),
               try await !service.security.identities.activeClient(id: job.owner.subject, tokenID: "bulk-job") {
                throw BulkError(.invalid, "the client that started this job has been revoked")
            }
            switch job.kind {
            case .export: outcome = try await service.exporter.run(job, worker: id, progress: progress)
            case .import: outcome = try await service.importer.run(job, worker: id, progress: progress)
            }
        } catch where Task.isCancelled || error is CancellationError {
            // The process is stopping: the claim goes stale and another process resumes it
            // from the last committed batch. A stopping worker never marks a job failed.
            return .lostClaim
        } catch let error as AccessDenied {
            outcome = .failed(error.message)
        } catch let error as BulkInputError {
            outcome = .failed(error.message)
        } catch let error as BulkError {
            outcome = .failed(error.message)
        } catch let error as StoreError where error.code == .unavailable {
            // Leave the claim to go stale: the job resumes once the database is back.
            logger.warning("bulk job paused: database unavailable", metadata: ["job": "\(job.id)"])
            return .lostClaim
        } catch {
            logger.error("bulk job failed", metadata: ["job": "\(job.id)", "error": "\(type(of: error))"])
            outcome = .failed("the job failed on the server")
        }
        let expires = Date().addingTimeInterval(settings.retentionHours * 3600)
        do {
            switch outcome {
            case .completed:
                if try await service.jobs.finish(job: job.id, worker: id, status: .completed, error: nil, expiresAt: expires) {
                    // An import's writes were audited with each batch; an export's completion is its own event.
                    if job.kind == .export {
                        let access = AuditedAccess(try job.owner.caller(), security: service.security)
                        try await service.security.audit.record(access.record(.exportComplete, entityID: job.id, query: job.request))
                    }
                }
            case .failed(let message):
                _ = try await service.jobs.finish(job: job.id, worker: id, status: .failed, error: message, expiresAt: expires)
            case .lostClaim:
                break
            }
        } catch {
            logger.error("bulk job could not be closed", metadata: ["job": "\(job.id)", "error": "\(type(of: error))"])
        }
        logger.info("bulk job ended", metadata: [
            "job": "\(job.id)", "outcome": "\(outcome.label)", "seconds": "\(Int(Date().timeIntervalSince(started)))",
        ])
        return outcome
    }
}

extension BulkExporter.Outcome {
    var label: String {
        switch self {
        case .completed: "completed"
        case .lostClaim: "lost-claim"
        case .failed: "failed"
        }
    }
}

import Configuration
import Foundation

/// Limits and places of bulk `$export`/`$import` (`medrec.bulk.*`).
public struct BulkSettings: Sendable {
    /// Jobs queued or running at once, server-wide; more kick-offs get 429.
    public var maxActiveJobs = 4
    /// Kick-offs per owner per minute; more get 429.
    public var kickOffsPerMinute = 10
    /// Jobs one `medrec serve` process runs at the same time.
    public var workerSlots = 1
    /// A running job whose heartbeat is older than this is taken over by another process.
    public var staleSeconds = 60.0
    /// How often an idle worker looks for a job.
    public var pollSeconds = 1.0
    /// Completed jobs and their files are deleted after this many hours.
    public var retentionHours = 24.0
    /// Resources per export file before the next file starts.
    public var resourcesPerFile = 100_000
    /// Resources per committed batch (export and import).
    public var batchSize = 1000
    /// An export whose files would exceed this many (uncompressed) bytes fails.
    public var maxOutputBytes: Int64 = 64 << 30
    /// One NDJSON line may be at most this long; longer lines are reported and skipped.
    public var maxLineBytes = 8 << 20
    /// `file://` import inputs must lie under this directory; nil: no file inputs.
    public var importDirectory: String?
    /// `http(s)` import inputs must start with one of these prefixes; empty: no URL inputs. Its
    /// `privateNetworks` are set by `ServerSettings` (`medrec.outbound.privateNetworks`).
    public var importURLAllowlist: URLAllowlist = []

    public init() {}

    init(config: ConfigReader) {
        let defaults = BulkSettings()
        maxActiveJobs = config.int(forKey: "medrec.bulk.maxActiveJobs", default: defaults.maxActiveJobs)
        kickOffsPerMinute = config.int(forKey: "medrec.bulk.kickOffsPerMinute", default: defaults.kickOffsPerMinute)
        workerSlots = config.int(forKey: "medrec.bulk.workerSlots", default: defaults.workerSlots)
        staleSeconds = config.double(forKey: "medrec.bulk.staleSeconds", default: defaults.staleSeconds)
        pollSeconds = config.double(forKey: "medrec.bulk.pollSeconds", default: defaults.pollSeconds)
        retentionHours = config.double(forKey: "medrec.bulk.retentionHours", default: defaults.retentionHours)
        resourcesPerFile = config.int(forKey: "medrec.bulk.resourcesPerFile", default: defaults.resourcesPerFile)
        batchSize = config.int(forKey: "medrec.bulk.batchSize", default: defaults.batchSize)
        maxOutputBytes = Int64(config.int(forKey: "medrec.bulk.maxOutputBytes", default: Int(defaults.maxOutputBytes)))
        maxLineBytes = config.int(forKey: "medrec.bulk.maxLineBytes", default: defaults.maxLineBytes)
        importDirectory = config.string(forKey: "medrec.bulk.importDirectory").flatMap { $0.isEmpty ? nil : $0 }
        importURLAllowlist = URLAllowlist(setting: config.string(forKey: "medrec.bulk.importUrlAllowlist"))
    }
}

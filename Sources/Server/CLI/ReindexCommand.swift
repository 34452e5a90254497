import ArgumentParser
import Foundation

/// `medrec reindex`: re-extracts the search index of rows written by an older extraction (after
/// an upgrade that changes the search parameter definitions), in batches, while servers run.
struct ReindexCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reindex",
        abstract: "Bring the search index of older rows up to date, in batches, online."
    )

    @OptionGroup var options: GlobalOptions

    @Option(help: "Rows per batch (one short transaction each).")
    var batchSize = 500

    @Flag(help: "Mark every row as stale first, so everything is reindexed.")
    var all = false

    func run() async throws {
        let batchSize = batchSize, all = all
        try await CLIDatabase.run(options) { database in
            let reindexer = Reindexer(store: database.store, batchSize: max(1, min(batchSize, 10_000)))
            if all {
                try await reindexer.markAllStale()
            }
            let pending = try await reindexer.pending()
            print("rows to reindex: \(pending)")
            let done = try await reindexer.reindexAll { total in
                if total % 10_000 < batchSize { print("reindexed \(total)") }
            }
            print("reindexed \(done) rows; index version \(SearchIndexRows.version)")
        }
    }
}

import ArgumentParser
import Foundation
import Logging

/// `medrec db`: the database medrec uses, for operators with `psql` and friends.
struct DbCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Inspect or stop the database medrec uses.",
        subcommands: [URLCommand.self, StopCommand.self]
    )

    /// `medrec db url`: prints the connection URL, password included, e.g. for `psql "$(medrec db url)"`.
    struct URLCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "url",
            abstract: "Print the connection URL of the database in use (the configured database URL, else the embedded one).",
            discussion: """
                For the embedded database the URL holds the generated password (also in \
                <data-dir>/postgres.password). The cluster is not started: if it is not running, a note \
                goes to stderr. A data directory without a cluster gets one initialised (started and \
                stopped) so the URL is stable.
                """
        )

        @OptionGroup var options: GlobalOptions

        @Flag(help: "Leave the password out of the URL.")
        var withoutPassword = false

        func run() async throws {
            let settings = try await options.settings()
            if let url = settings.databaseURL {
                let endpoint = try DatabaseEndpoint(url: url)
                print(withoutPassword ? endpoint.url : url)
                return
            }
            let logger = GlobalOptions.toolLogger(label: "medrec.db", settings: settings)
            let dataDirectory = settings.dataDirectory
            var recorded = EmbeddedPostgres.recordedEndpoint(dataDirectory: dataDirectory)
            if recorded == nil {
                var clusterOptions = EmbeddedPostgres.Options()
                clusterOptions.binariesDirectory = settings.postgresBinDirectory
                let cluster = EmbeddedPostgres(dataDirectory: dataDirectory, options: clusterOptions, logger: logger)
                _ = try await cluster.start()
                try await cluster.stop()
                recorded = EmbeddedPostgres.recordedEndpoint(dataDirectory: dataDirectory)
            }
            guard let recorded else {
                throw DatabaseError(.clusterStartFailed, "no embedded database in \(dataDirectory)")
            }
            print(withoutPassword ? recorded.endpoint.url : recorded.endpoint.urlIncludingPassword)
            if !recorded.isRunning {
                FileHandle.standardError.write(
                    Data("note: the embedded database is not running; `medrec serve` starts it\n".utf8))
            }
        }
    }

    /// `medrec db stop`: stops an embedded cluster left running (e.g. after medrec was killed).
    struct StopCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "stop",
            abstract: "Stop the embedded database server of a data directory, if it is running."
        )

        @OptionGroup var options: GlobalOptions

        func run() async throws {
            let settings = try await options.settings()
            let stopped = try await EmbeddedPostgres.stopRecordedCluster(
                dataDirectory: settings.dataDirectory, binariesDirectory: settings.postgresBinDirectory,
                logger: GlobalOptions.toolLogger(label: "medrec.db", settings: settings))
            print(stopped ? "stopped" : "not running")
        }
    }
}

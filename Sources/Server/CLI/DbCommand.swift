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
            abstract: "Print the connection URL of the database in use (MEDREC_DATABASE_URL, else the embedded one).",
            discussion: """
                For the embedded database the URL holds the generated password (also in \
                <data-dir>/postgres.password). The cluster is not started: if it is not running, a note \
                goes to stderr. A data directory without a cluster gets one initialised (started and \
                stopped) so the URL is stable.
                """
        )

        @Option(name: .customLong("data-dir"), help: "Data directory holding the embedded database.")
        var dataDirectory = "./.medrec"

        @Flag(help: "Leave the password out of the URL.")
        var withoutPassword = false

        func run() async throws {
            if let url = ProcessInfo.processInfo.environment[DatabaseService.urlEnvironmentKey], !url.isEmpty {
                let endpoint = try DatabaseEndpoint(url: url)
                print(withoutPassword ? endpoint.url : url)
                return
            }
            let logger = DbCommand.logger
            var recorded = EmbeddedPostgres.recordedEndpoint(dataDirectory: dataDirectory)
            if recorded == nil {
                let cluster = EmbeddedPostgres(dataDirectory: dataDirectory, logger: logger)
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

        @Option(name: .customLong("data-dir"), help: "Data directory holding the embedded database.")
        var dataDirectory = "./.medrec"

        func run() async throws {
            let stopped = try await EmbeddedPostgres.stopRecordedCluster(
                dataDirectory: dataDirectory, logger: DbCommand.logger)
            print(stopped ? "stopped" : "not running")
        }
    }

    /// Warnings and errors to stderr: stdout carries the command's answer.
    static var logger: Logger {
        var logger = Logger(label: "medrec.db") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .warning
        return logger
    }
}

import ArgumentParser
import Foundation
import Logging

/// The options every command that uses the database shares, declared once: each command reads
/// the same `ServerSettings` as `serve` (flag, then environment, then the config file, then the
/// default), so `medrec user add` beside a running server finds that server's database.
struct GlobalOptions: ParsableArguments {
    @Option(name: .customLong("config-file"), help: "JSON config file (default: MEDREC_CONFIG_FILE).")
    var configFile: String?

    @Option(name: .customLong("data-dir"), help: "Data directory of the embedded database and development keys (default ./.medrec, or MEDREC_DATA_DIR).")
    var dataDirectory: String?

    @Option(
        name: .customLong("database-url"),
        help: "postgres://user:pass@host:port/db instead of the embedded database (default: MEDREC_DATABASE_URL). Arguments show in process lists: prefer the environment or the config file for a password.")
    var databaseURL: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (default: MEDREC_LOG_LEVEL, else info for serve and warning for the tools).")
    var logLevel: String?

    /// The settings these flags, `environment` and the config file give, flags first.
    func settings(environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> ServerSettings {
        var settings = try await ServerSettings.load(environment: environment, configFile: configFile)
        if let dataDirectory { settings.dataDirectory = dataDirectory }
        if let databaseURL { settings.databaseURL = databaseURL.isEmpty ? nil : databaseURL }
        if let logLevel { settings.logLevel = logLevel }
        return settings
    }

    func validate() throws {
        if let logLevel, Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    /// A logger to standard error (standard output carries a tool's answer) at the configured
    /// level, `warning` when none is configured.
    static func toolLogger(label: String, settings: ServerSettings) -> Logger {
        var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = settings.logLevel.flatMap(Logger.Level.init(rawValue:)) ?? .warning
        return logger
    }
}

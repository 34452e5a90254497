import ArgumentParser
import Foundation
import Testing
@testable import Server

/// Every command reads the settings `serve` reads, through the same names: a flag, then the
/// environment, then the config file, then the default.
@Suite struct GlobalOptionsTests {
    static let fileURL = "postgres://file:secret@127.0.0.1:6001/fromfile"
    static let environmentURL = "postgres://env:secret@127.0.0.1:6002/fromenv"
    static let flagURL = "postgres://flag:secret@127.0.0.1:6003/fromflag"

    /// A config file setting the data dir, database URL, binaries and encryption.
    static func configFile() throws -> String {
        let directory = try TemporaryDirectory.make(prefix: "medrec-config")
        let path = directory + "/medrec.json"
        let key = Data(repeating: 1, count: 32).base64EncodedString()
        let blind = Data(repeating: 9, count: 32).base64EncodedString()
        let json = """
            {"medrec": {"dataDir": "/from-file", "databaseUrl": "\(fileURL)", "pgBin": "/pg/from-file", "logLevel": "error",
              "blindIndexKey": "\(blind)",
              "encryption": {"keys": "f1:\(key)", "activeKey": "f1", "policy": "/policy-from-file.json"}}}
            """
        try Data(json.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The commands that use the database, each with `--data-dir` from the one option group.
    static let databaseCommands: [[String]] = [
        ["serve"], ["db", "url"], ["db", "stop"], ["migrate"], ["keys", "status"], ["keys", "add"], ["keys", "rotate"],
        ["user", "add", "--email", "a@example.org", "--role", "admin"], ["client", "add", "--name", "n", "--scopes", "system/*.rs"],
        ["client", "list"], ["client", "revoke", "x"], ["reindex"],
    ]

    static func options(of command: ParsableCommand) throws -> GlobalOptions {
        switch command {
        case let command as ServeCommand: command.options
        case let command as DbCommand.URLCommand: command.options
        case let command as DbCommand.StopCommand: command.options
        case let command as MigrateCommand: command.options
        case let command as KeysCommand.Status: command.options
        case let command as KeysCommand.Add: command.options
        case let command as KeysCommand.Rotate: command.options
        case let command as UserCommand.Add: command.options
        case let command as ClientCommand.Add: command.options
        case let command as ClientCommand.List: command.options
        case let command as ClientCommand.Revoke: command.options
        case let command as ReindexCommand: command.options
        default: throw ValidationError("\(type(of: command)) has no GlobalOptions")
        }
    }

    @Test func everyDatabaseCommandResolvesSettingsLikeServe() async throws {
        let file = try Self.configFile()
        for arguments in Self.databaseCommands {
            // From the config file alone.
            let plain = try Self.options(of: MedrecCommand.parseAsRoot(arguments))
            let fromFile = try await plain.settings(environment: ["MEDREC_CONFIG_FILE": file])
            #expect(fromFile.dataDirectory == "/from-file", "\(arguments)")
            #expect(fromFile.databaseURL == Self.fileURL, "\(arguments)")
            // The environment wins over the file.
            let fromEnvironment = try await plain.settings(environment: [
                "MEDREC_CONFIG_FILE": file, "MEDREC_DATA_DIR": "/from-env", "MEDREC_DATABASE_URL": Self.environmentURL,
            ])
            #expect(fromEnvironment.dataDirectory == "/from-env", "\(arguments)")
            #expect(fromEnvironment.databaseURL == Self.environmentURL, "\(arguments)")
            // A flag wins over both.
            let flagged = try Self.options(
                of: MedrecCommand.parseAsRoot(arguments + ["--data-dir", "/from-flag", "--database-url", Self.flagURL]))
            let fromFlags = try await flagged.settings(environment: [
                "MEDREC_CONFIG_FILE": file, "MEDREC_DATA_DIR": "/from-env", "MEDREC_DATABASE_URL": Self.environmentURL,
            ])
            #expect(fromFlags.dataDirectory == "/from-flag", "\(arguments)")
            #expect(fromFlags.databaseURL == Self.flagURL, "\(arguments)")
            // Nothing configured: the defaults.
            let defaults = try await plain.settings(environment: [:])
            #expect(defaults.dataDirectory == "./.medrec" && defaults.databaseURL == nil && defaults.logLevel == nil)
        }
    }

    @Test func theConfigFileFlagWinsOverMEDRECCONFIGFILE() async throws {
        let file = try Self.configFile()
        let other = try TemporaryDirectory.make(prefix: "medrec-config") + "/other.json"
        try Data(#"{"medrec": {"dataDir": "/other"}}"#.utf8).write(to: URL(fileURLWithPath: other))
        let options = try GlobalOptions.parse(["--config-file", other])
        #expect(try await options.settings(environment: ["MEDREC_CONFIG_FILE": file]).dataDirectory == "/other")
    }

    @Test func encryptionAndBinariesComeFromTheSameReader() async throws {
        let file = try Self.configFile()
        let settings = try await GlobalOptions.parse([]).settings(environment: ["MEDREC_CONFIG_FILE": file])
        #expect(settings.postgresBinDirectory == "/pg/from-file")
        #expect(settings.logLevel == "error")
        #expect(settings.encryption.activeKey == "f1")
        #expect(settings.encryption.policyFile == "/policy-from-file.json")
        let (keyring, source) = try Keyring.configured(settings: settings.encryption, dataDirectory: nil)
        #expect(source == .environment)
        #expect(keyring.keyIDs == ["f1"])
        // The environment names are the ones the README lists, and win over the file.
        let overridden = try await GlobalOptions.parse([]).settings(environment: [
            "MEDREC_CONFIG_FILE": file, "MEDREC_PG_BIN": "/pg/from-env", "MEDREC_ENCRYPTION_KEY_FILE": "/keys.json",
            "MEDREC_ENCRYPTION_POLICY": "/policy.json", "MEDREC_ENCRYPTION_ACTIVE_KEY": "e1",
        ])
        #expect(overridden.postgresBinDirectory == "/pg/from-env")
        #expect(overridden.encryption.keyFile == "/keys.json")
        #expect(overridden.encryption.policyFile == "/policy.json")
        #expect(overridden.encryption.activeKey == "e1")
        #expect(EncryptionSettings(environment: ["MEDREC_BLIND_INDEX_KEY": "b"]).blindIndexKey == "b")
    }

    @Test func invalidLogLevelFlagIsRefused() {
        #expect(throws: (any Error).self) { _ = try GlobalOptions.parse(["--log-level", "loud"]) }
    }

    /// The built binary, as an operator runs it: `medrec db url` prints the database the
    /// configuration names, without connecting to it.
    @Test func dbURLCommandReadsTheConfigFileEnvironmentAndFlag() async throws {
        let file = try Self.configFile()
        let fromFile = try await MedrecProcess.run(["db", "url", "--without-password"], environment: ["MEDREC_CONFIG_FILE": file])
        #expect(fromFile.status == 0, "\(fromFile.stderr)")
        #expect(fromFile.stdout == "postgres://file@127.0.0.1:6001/fromfile\n")
        let fromEnvironment = try await MedrecProcess.run(
            ["db", "url"], environment: ["MEDREC_CONFIG_FILE": file, "MEDREC_DATABASE_URL": Self.environmentURL])
        #expect(fromEnvironment.stdout == Self.environmentURL + "\n")
        let fromFlag = try await MedrecProcess.run(
            ["db", "url", "--database-url", Self.flagURL], environment: ["MEDREC_DATABASE_URL": Self.environmentURL])
        #expect(fromFlag.stdout == Self.flagURL + "\n")
    }
}

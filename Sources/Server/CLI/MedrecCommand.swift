import ArgumentParser

/// The `medrec` command line: the server and the tools operators and bulk jobs use.
public struct MedrecCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "medrec",
        abstract: "FHIR R4 medical-records server and tools.",
        subcommands: [
            ServeCommand.self, ValidateCommand.self, ConvertCommand.self, MigrateCommand.self, DbCommand.self, KeysCommand.self,
            UserCommand.self, ClientCommand.self, ReindexCommand.self, ExportCommand.self, ImportCommand.self, DemoCommand.self,
        ]
    )

    public init() {}
}

import ArgumentParser
import Server

/// Runs the async entry point: plain `MedrecCommand.main()` in top-level code resolves to the
/// synchronous one, which refuses async subcommands (`migrate`, `db`, `serve`).
func runAsync<Command: AsyncParsableCommand>(_ command: Command.Type) async {
    await command.main()
}

await runAsync(MedrecCommand.self)

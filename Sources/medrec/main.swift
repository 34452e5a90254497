import Server

await MedrecCommand.main()

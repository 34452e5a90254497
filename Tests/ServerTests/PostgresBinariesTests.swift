import Foundation
import Testing
@testable import Server

@Suite struct PostgresBinariesTests {
    @Test func explainsWhatToInstallWhenMEDRECPGBINIsEmpty() throws {
        let empty = try TemporaryDirectory.make(prefix: "medrec-empty-bin")
        defer { try? FileManager.default.removeItem(atPath: empty) }
        #expect {
            try PostgresBinaries.locate(environment: ["MEDREC_PG_BIN": empty, "PATH": "/usr/bin:/bin"])
        } throws: { error in
            let message = "\(error)"
            return (error as? DatabaseError)?.code == .binariesNotFound
                && message.contains("MEDREC_PG_BIN") && message.contains("initdb") && !message.contains("\n")
        }
    }

    @Test func notFoundMessageSaysWhatToInstallOnOneLine() {
        let message = PostgresBinaries.notFoundMessage
        #expect(message.contains("apt-get install postgresql"))
        #expect(message.contains("MEDREC_PG_BIN"))
        #expect(!message.contains("\n"))
    }

    @Test func prefersMEDRECPGBINAndFindsProgramsOnPATH() throws {
        let directory = try TemporaryDirectory.make(prefix: "medrec-fake-bin")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for program in ["initdb", "pg_ctl"] {
            _ = FileManager.default.createFile(
                atPath: directory + "/" + program, contents: Data("#!/bin/sh\n".utf8),
                attributes: [.posixPermissions: 0o755])
        }
        #expect(try PostgresBinaries.locate(environment: ["MEDREC_PG_BIN": directory]).directory == directory)
        #expect(try PostgresBinaries.locate(environment: ["PATH": "/nonexistent:\(directory)"]).directory == directory)
    }
}

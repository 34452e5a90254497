import Foundation
import Testing
@testable import Server

/// The binary's copy of the migrations must be the files in `Migrations/`, or a fix made in a file
/// would silently not ship.
@Suite struct EmbeddedMigrationsTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func embeddedCopyEqualsTheFilesOnDisk() throws {
        let directory = Self.repositoryRoot.appendingPathComponent("Migrations")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".sql") }.sorted()
        var onDisk: [Migration] = []
        for name in names {
            let match = try #require(
                name.wholeMatch(of: /(\d{4})_([a-z0-9_]+)\.sql/), "\(name) is not named NNNN_lowercase_name.sql")
            let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            onDisk.append(Migration(version: Int(match.1)!, name: String(match.2), sql: text))
        }
        #expect(!onDisk.isEmpty)
        #expect(
            EmbeddedMigrations.all == onDisk,
            "Sources/Server/Database/EmbeddedMigrations.swift is stale: run python3 scripts/embed-migrations.py")
    }

    @Test func versionsAreUniqueAndIncreasing() {
        let versions = EmbeddedMigrations.all.map(\.version)
        #expect(versions == versions.sorted())
        #expect(Set(versions).count == versions.count)
    }
}

import Logging
import PostgresNIO
import Testing
@testable import Server

@Suite struct MigratorTests {
    let logger = TestDatabase.logger

    static let sample = [
        Migration(
            version: 1, name: "patients",
            sql: """
                -- first
                CREATE TABLE patient (id text PRIMARY KEY, note text DEFAULT 'a;b');
                CREATE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN NEW.note := NEW.note || ';'; RETURN NEW; END; $$;
                """),
        Migration(version: 2, name: "more", sql: "ALTER TABLE patient ADD COLUMN born date;\n"),
    ]

    func appliedVersions(_ endpoint: DatabaseEndpoint) async throws -> [Int] {
        try await endpoint.withConnection(logger: logger) { connection in
            var versions: [Int] = []
            let rows = try await connection.query("SELECT version FROM schema_migrations ORDER BY version", logger: logger)
            for try await version in rows.decode(Int.self) { versions.append(version) }
            return versions
        }
    }

    @Test func appliesEachMigrationOnceInOrder() async throws {
        let endpoint = try await TestDatabase.fresh(migrated: false)
        let first = try await Migrator(migrations: Self.sample).migrate(endpoint, logger: logger)
        #expect(first.map(\.identifier) == ["0001_patients", "0002_more"])
        let second = try await Migrator(migrations: Self.sample).migrate(endpoint, logger: logger)
        #expect(second.isEmpty)
        #expect(try await appliedVersions(endpoint) == [1, 2])
    }

    @Test func concurrentMigratorsBothSucceedAndApplyEachMigrationOnce() async throws {
        let endpoint = try await TestDatabase.fresh(migrated: false)
        // A slow first migration widens the window in which the two would race without the lock.
        let migrations = [
            Migration(version: 1, name: "slow", sql: "SELECT pg_sleep(0.5);\nCREATE TABLE once_only (x int);\n"),
            Migration(version: 2, name: "then", sql: "CREATE TABLE then_this (x int);\n"),
        ]
        async let a = Migrator(migrations: migrations).migrate(endpoint, logger: logger)
        async let b = Migrator(migrations: migrations).migrate(endpoint, logger: logger)
        let (appliedByA, appliedByB) = try await (a, b)
        #expect((appliedByA + appliedByB).map(\.version).sorted() == [1, 2])
        #expect(try await appliedVersions(endpoint) == [1, 2])
    }

    @Test func refusesAnAppliedMigrationWhoseTextChanged() async throws {
        let endpoint = try await TestDatabase.fresh(migrated: false)
        try await Migrator(migrations: Self.sample).migrate(endpoint, logger: logger)
        var edited = Self.sample
        edited[1] = Migration(version: 2, name: "more", sql: "ALTER TABLE patient ADD COLUMN born timestamptz;\n")
        await #expect {
            try await Migrator(migrations: edited).migrate(endpoint, logger: logger)
        } throws: { error in
            let error = error as? DatabaseError
            return error?.code == .migrationChanged && error?.message.contains("0002_more") == true
        }
    }

    @Test func aFailingMigrationLeavesNothingBehindAndSaysWhere() async throws {
        let endpoint = try await TestDatabase.fresh(migrated: false)
        let broken = [
            Self.sample[0],
            Migration(version: 2, name: "broken", sql: "CREATE TABLE half (x int);\n\nCREATE TABLE nope (x nosuchtype);\n"),
        ]
        await #expect {
            try await Migrator(migrations: broken).migrate(endpoint, logger: logger)
        } throws: { error in
            let message = "\(error)"
            return (error as? DatabaseError)?.code == .migrationFailed && message.contains("0002_broken")
                && message.contains("line 3") && message.contains("nosuchtype")
        }
        #expect(try await appliedVersions(endpoint) == [1])
        let halfExists = try await endpoint.withConnection(logger: logger) { connection in
            let rows = try await connection.query("SELECT to_regclass('half') IS NOT NULL", logger: logger)
            for try await exists in rows.decode(Bool.self) { return exists }
            return true
        }
        #expect(!halfExists)
    }

    @Test func embeddedMigrationsApplyToAnEmptyDatabase() async throws {
        let endpoint = try await TestDatabase.fresh(migrated: false)
        let applied = try await Migrator().migrate(endpoint, logger: logger)
        #expect(applied.count == EmbeddedMigrations.all.count)
        #expect(try await appliedVersions(endpoint) == EmbeddedMigrations.all.map(\.version))
    }
}

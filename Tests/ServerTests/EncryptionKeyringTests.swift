import Foundation
import Testing
@testable import Server

@Suite struct EncryptionKeyringTests {
    static func base64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }
    static let k1 = [UInt8](repeating: 1, count: 32)
    static let k2 = [UInt8](repeating: 2, count: 32)
    static let blind = [UInt8](repeating: 9, count: 32)

    @Test func environmentListMakesTheLastKeyActive() throws {
        let environment = [
            "MEDREC_ENCRYPTION_KEYS": "k1:\(Self.base64(Self.k1)), k2:\(Self.base64(Self.k2))",
            "MEDREC_BLIND_INDEX_KEY": Self.base64(Self.blind),
        ]
        let (keyring, source) = try Keyring.configured(environment: environment, dataDirectory: nil)
        #expect(source == .environment)
        #expect(keyring.keyIDs == ["k1", "k2"])
        #expect(keyring.activeKeyID == "k2")
        var chosen = environment
        chosen["MEDREC_ENCRYPTION_ACTIVE_KEY"] = "k1"
        #expect(try Keyring.configured(environment: chosen, dataDirectory: nil).keyring.activeKeyID == "k1")
        chosen["MEDREC_ENCRYPTION_ACTIVE_KEY"] = "k3"
        #expect(throws: EncryptionConfigurationError.self) {
            _ = try Keyring.configured(environment: chosen, dataDirectory: nil)
        }
    }

    @Test func keysThatAreNot32BytesAreRefusedWithoutQuotingThem() throws {
        let short = Self.base64([UInt8](repeating: 7, count: 16))
        let error = #expect(throws: EncryptionConfigurationError.self) {
            _ = try Keyring.configured(
                environment: ["MEDREC_ENCRYPTION_KEYS": "k1:\(short)", "MEDREC_BLIND_INDEX_KEY": Self.base64(Self.blind)],
                dataDirectory: nil)
        }
        #expect(error?.message.contains("32 bytes") == true)
        #expect(error?.message.contains(short) == false)
        #expect(throws: EncryptionConfigurationError.self) {
            _ = try Keyring(keys: [("k1", Self.k1)], blindIndexKey: [1, 2, 3])
        }
        #expect(throws: EncryptionConfigurationError.self) {
            _ = try Keyring(keys: [("k1", Self.k1), ("k1", Self.k2)], blindIndexKey: Self.blind)
        }
    }

    @Test func environmentKeysNeedABlindIndexKey() {
        let error = #expect(throws: EncryptionConfigurationError.self) {
            _ = try Keyring.configured(
                environment: ["MEDREC_ENCRYPTION_KEYS": "k1:\(Self.base64(Self.k1))"], dataDirectory: nil)
        }
        #expect(error?.message.contains("MEDREC_BLIND_INDEX_KEY") == true)
    }

    @Test func noConfigurationAndNoDataDirectoryIsAnError() {
        #expect(throws: EncryptionConfigurationError.self) {
            _ = try Keyring.configured(environment: [:], dataDirectory: nil)
        }
    }

    @Test func keyFileReadableByOthersIsRefused() throws {
        let directory = URL(fileURLWithPath: try TemporaryDirectory.make(prefix: "medrec-keys"))
        let file = directory.appendingPathComponent("keys.json")
        try Keyring.writeKeyFile(at: file, activeKeyID: "k2", keys: ["k1": Self.k1, "k2": Self.k2], blindIndexKey: Self.blind)
        let keyring = try Keyring.load(keyFile: file)
        #expect(keyring.keyIDs == ["k1", "k2"])
        #expect(keyring.activeKeyID == "k2")

        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file.path)
        let refusal = #expect(throws: EncryptionConfigurationError.self) { _ = try Keyring.load(keyFile: file) }
        #expect(
            refusal?.message == "encryption key file \(file.path) has permissions 644; it must be 600 (chmod 600 \(file.path))")
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: file.path)
        #expect(throws: EncryptionConfigurationError.self) { _ = try Keyring.load(keyFile: file) }
        let error = #expect(throws: EncryptionConfigurationError.self) {
            _ = try Keyring.configured(
                environment: ["MEDREC_ENCRYPTION_KEY_FILE": file.path], dataDirectory: nil)
        }
        #expect(error?.message.contains("chmod 600") == true)
    }

    @Test func writingAKeyFileNeverReplacesOne() throws {
        let directory = URL(fileURLWithPath: try TemporaryDirectory.make(prefix: "medrec-keys"))
        let file = directory.appendingPathComponent("keys.json")
        try Keyring.writeKeyFile(at: file, activeKeyID: "k1", keys: ["k1": Self.k1], blindIndexKey: Self.blind)
        #expect(throws: EncryptionConfigurationError.self) {
            try Keyring.writeKeyFile(at: file, activeKeyID: "k2", keys: ["k2": Self.k2], blindIndexKey: Self.blind)
        }
        #expect(try Keyring.load(keyFile: file).activeKeyID == "k1")
    }

    @Test func developmentKeyFileIsCreatedOnceWithMode0600() throws {
        let data = URL(fileURLWithPath: try TemporaryDirectory.make(prefix: "medrec-dev")).appendingPathComponent("data")
        let (keyring, source) = try Keyring.configured(environment: [:], dataDirectory: data)
        let file = data.appendingPathComponent("encryption-keys.json")
        #expect(source == .developmentKeyFile(file.path))
        let mode = try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        // Second start: the same key, not a fresh one (which would make every sealed row unreadable).
        let again = try Keyring.configured(environment: [:], dataDirectory: data).keyring
        #expect(again.activeKeyID == keyring.activeKeyID)
        let sealer = FieldSealer(policy: .standard, keyring: keyring)
        let patient = EncryptionTestData.patient
        let sealed = try sealer.seal(resource: patient, type: "Patient", id: "p", versionID: 1)
        let reopened = try FieldSealer(policy: .standard, keyring: again).unseal(
            content: sealed.content, sealed: sealed.sealed, keyID: sealed.keyID, type: "Patient", id: "p", versionID: 1)
        #expect(reopened == patient)
        #expect(sealed.sealed != nil)
    }

    /// A lost development key file is not silently replaced (found by `scripts/fault-test.py
    /// --only keyring`): a new random key would leave every sealed row unreadable and seal new
    /// rows under a key no backup has. Production mode never uses a development key file.
    @Test func aLostDevelopmentKeyFileIsNotReplacedOnceDataIsSealedAndProductionNeverUsesOne() async throws {
        let root = try TemporaryDirectory.make(prefix: "medrec-devkey")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let endpoint = try await TestDatabase.fresh()
        var settings = ServerSettings()
        settings.dataDirectory = root + "/data"
        let file = URL(fileURLWithPath: settings.dataDirectory).appendingPathComponent("encryption-keys.json")

        // Production: refused before any file is made, with the settings to use in the message.
        settings.mode = .production
        let refusedInProduction = await #expect(throws: EncryptionConfigurationError.self) {
            _ = try await ServeCommand.makeSealer(settings: settings, endpoint: endpoint, logger: TestApp.logger)
        }
        #expect(refusedInProduction?.message.contains("MEDREC_ENCRYPTION_KEY_FILE") == true)
        #expect(!FileManager.default.fileExists(atPath: file.path))

        // Development, empty database: the file is made, under a key id of its own.
        settings.mode = .development
        let sealer = try await ServeCommand.makeSealer(settings: settings, endpoint: endpoint, logger: TestApp.logger)
        #expect(sealer.keyring.activeKeyID.hasPrefix("dev-") && sealer.keyring.activeKeyID.count == 12)
        let created = CreatedID()
        try await TestApp.run(sealer: sealer, database: endpoint) { client, _ in
            var patient = try #require(FHIRRestTests.patient.objectValue)
            patient["telecom"] = [["system": "phone", "value": "555-0100"]]
            await created.set(try #require(try await client.sendJSON(.post, "/fhir/Patient", .object(patient)).json["id"]?.stringValue))
        }
        let id = await created.value

        // The file lost once the database holds sealed data: refused, and no new file appears.
        let away = file.path + ".away"
        try FileManager.default.moveItem(atPath: file.path, toPath: away)
        let refused = await #expect(throws: EncryptionConfigurationError.self) {
            _ = try await ServeCommand.makeSealer(settings: settings, endpoint: endpoint, logger: TestApp.logger)
        }
        #expect(refused?.message.contains("is missing, but the database holds data sealed under it") == true)
        #expect(!FileManager.default.fileExists(atPath: file.path))

        // Restored from its backup: the row opens again.
        try FileManager.default.moveItem(atPath: away, toPath: file.path)
        let restored = try await ServeCommand.makeSealer(settings: settings, endpoint: endpoint, logger: TestApp.logger)
        #expect(restored.keyring.activeKeyID == sealer.keyring.activeKeyID)
        try await TestApp.run(sealer: restored, database: endpoint) { client, _ in
            let read = try await client.send(.get, "/fhir/Patient/\(id)")
            #expect(read.status == .ok)
            #expect(try read.json["telecom"]?.arrayValue?.first?["value"]?.stringValue == "555-0100")
        }
    }

    @Test func printingAKeyringShowsIdsNotKeys() throws {
        let keyring = try Keyring(keys: [("k1", Self.k1), ("k2", Self.k2)], blindIndexKey: Self.blind)
        let printed = ["\(keyring)", String(reflecting: keyring), "\(BlindIndex(keyring: keyring))"]
        var dumped = ""
        dump(keyring, to: &dumped)
        for text in printed + [dumped] {
            for key in [Self.k1, Self.k2, Self.blind] {
                #expect(!text.contains(Self.base64(key)))
                #expect(!text.contains(key.map { String($0) }.joined(separator: ", ")))
            }
            #expect(!text.contains("SymmetricKey"))
        }
        #expect("\(keyring)" == "Keyring(active: k2, keys: k1, k2)")
    }
}

/// The id a test's app run created, for the next run.
private actor CreatedID {
    var value = ""
    func set(_ id: String) { value = id }
}

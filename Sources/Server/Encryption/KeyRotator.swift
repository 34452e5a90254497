import FHIRModels
import Foundation
import Logging
import PostgresNIO

/// Re-seals stored rows under the keyring's active key, in small transactions that skip rows a
/// writer holds (`FOR UPDATE SKIP LOCKED`), so reads and writes go on meanwhile. Progress is
/// the rows themselves (their `key_id`), so an interrupted rotation resumes where it stopped.
struct KeyRotator {
    let sealer: FieldSealer
    let logger: Logger
    var batchSize = 200

    /// Whether anything in the database is sealed under a keyring (`Keyring.forServer` refuses to
    /// make up a development key then).
    static func databaseHoldsSealedData(_ endpoint: DatabaseEndpoint, logger: Logger) async throws -> Bool {
        try await endpoint.withConnection(logger: logger) { connection in
            let rows = try await connection.rows(KeyRotationStatements.anySealedData, logger: logger)
            for try await held in rows.decode(Bool.self) { return held }
            return false
        }
    }

    /// Rows per key id, for the current and history tables.
    func status(on connection: PostgresConnection) async throws -> [(table: String, keyID: String, rows: Int)] {
        var result: [(String, String, Int)] = []
        for table in KeyRotationStatements.Table.allCases {
            let rows = try await connection.rows(KeyRotationStatements.countsByKey(in: table), logger: logger)
            for try await (keyID, count) in rows.decode((String?, Int64).self) {
                result.append((table.rawValue, keyID ?? "(none)", Int(count)))
            }
        }
        return result
    }

    /// Re-seals until no row is left under another key. Returns how many rows were re-sealed.
    func reseal(on connection: PostgresConnection, progress: (Int) throws -> Void = { _ in }) async throws -> Int {
        var total = 0
        var idleRounds = 0
        while true {
            let current = try await resealBatch(table: .current, on: connection)
            let history = try await resealBatch(table: .history, on: connection)
            total += current + history
            if current + history > 0 {
                try progress(total)
                idleRounds = 0
                continue
            }
            // Nothing free to re-seal: done, or the remaining rows are locked by writers right now.
            if try await remaining(on: connection) == 0 { return total }
            idleRounds += 1
            if idleRounds > 600 { throw StoreError(.timeout, "rows stayed locked for a minute; run the rotation again to resume") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    func remaining(on connection: PostgresConnection) async throws -> Int {
        let rows = try await connection.rows(
            KeyRotationStatements.remaining(activeKeyID: sealer.keyring.activeKeyID), logger: logger)
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }

    /// One transaction: lock up to `batchSize` free rows under an old key, re-seal, update.
    private func resealBatch(table: KeyRotationStatements.Table, on connection: PostgresConnection) async throws -> Int {
        let active = sealer.keyring.activeKeyID
        return try await connection.inTransaction(logger: logger) { connection in
            let rows = try await connection.rows(
                KeyRotationStatements.lockBatch(in: table, notUnder: active, limit: batchSize), logger: logger)
            var pending: [(Int64, String, String, Int, String, String, String?)] = []
            for try await (key, type, id, version, content, sealed, keyID)
                in rows.decode((Int64, String, String, Int, String, String, String?).self) {
                pending.append((key, type, id, version, content, sealed, keyID))
            }
            for (key, type, id, version, content, sealed, keyID) in pending {
                guard let payload = Data(base64Encoded: sealed, options: .ignoreUnknownCharacters) else {
                    throw SealingError.malformedPayload
                }
                let resealed = try sealer.reseal(
                    content: FHIRJSON.parse(content), sealed: Array(payload), keyID: keyID, type: type, id: id, versionID: version)
                let newContent = String(decoding: FHIRJSON.serialize(resealed.content), as: UTF8.self)
                let newSealed = resealed.sealed.map { Data($0).base64EncodedString() } ?? ""
                try await connection.rows(
                    KeyRotationStatements.update(
                        in: table, key: key, content: newContent, sealed: newSealed, keyID: resealed.keyID ?? ""),
                    logger: logger)
            }
            return pending.count
        }
    }
}

import CompressNIO
import Crypto
import Foundation
import NIOCore

/// A bulk file's chunk at rest: whole NDJSON lines compressed as one gzip member, then sealed
/// with the keyring's active key (AES-256-GCM). The associated data names the job, file and
/// chunk, so a chunk copied into another job or position does not open. A client that accepts
/// gzip is sent the opened member of a one-chunk file as it is; concatenated members are valid
/// gzip but most HTTP clients decode only the first, so larger files are sent inflated.
struct BulkChunkCodec: Sendable {
    let keyring: Keyring
    /// A chunk inflates to at most this many bytes (a chunk is written by this server, but a
    /// bound keeps a corrupted or forged one from costing memory).
    static let maxChunkBytes = 64 << 20

    static let formatVersion: UInt8 = 1

    struct Sealed: Sendable {
        let keyID: String
        let data: [UInt8]
    }

    func seal(lines: ByteBuffer, job: UUID, file: Int, chunk: Int) throws -> Sealed {
        var input = lines
        let compressed = try input.compress(with: .gzip())
        let box = try AES.GCM.seal(
            Data(compressed.readableBytesView), using: keyring.activeKey,
            authenticating: Self.associatedData(job: job, file: file, chunk: chunk))
        var data: [UInt8] = [Self.formatVersion]
        data.append(contentsOf: box.nonce)
        data.append(contentsOf: box.ciphertext)
        data.append(contentsOf: box.tag)
        return Sealed(keyID: keyring.activeKeyID, data: data)
    }

    /// The gzip member a chunk holds.
    func openCompressed(_ sealed: [UInt8], keyID: String, job: UUID, file: Int, chunk: Int) throws -> ByteBuffer {
        guard let key = keyring.key(id: keyID) else { throw SealingError.unknownKey }
        guard sealed.count > 1 + 12 + 16, sealed[0] == Self.formatVersion else { throw SealingError.unsupportedFormat }
        do {
            let box = try AES.GCM.SealedBox(
                nonce: AES.GCM.Nonce(data: sealed[1..<13]), ciphertext: sealed[13..<(sealed.count - 16)],
                tag: sealed[(sealed.count - 16)...])
            let plain = try AES.GCM.open(box, using: key, authenticating: Self.associatedData(job: job, file: file, chunk: chunk))
            return ByteBuffer(bytes: plain)
        } catch {
            throw SealingError.authenticationFailed
        }
    }

    /// The NDJSON lines a chunk holds.
    func open(_ sealed: [UInt8], keyID: String, job: UUID, file: Int, chunk: Int) throws -> ByteBuffer {
        var compressed = try openCompressed(sealed, keyID: keyID, job: job, file: file, chunk: chunk)
        return try compressed.decompress(with: .gzip(), maxSize: Self.maxChunkBytes)
    }

    static func associatedData(job: UUID, file: Int, chunk: Int) -> Data {
        Data("medrec-bulk-v1|\(job.uuidString.lowercased())|\(file)|\(chunk)".utf8)
    }
}

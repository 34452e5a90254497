import CompressNIO
import Foundation
import NIOCore

/// Where an import's bytes come from, a block at a time (bounded memory whatever the size).
protocol ByteBlockSource {
    /// The next block, or nil at the end.
    mutating func next() async throws -> [UInt8]?
}

/// Why an input could not be read to the end. The message names no content.
struct BulkInputError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// A file read in 1 MiB blocks.
struct FileBlockSource: ByteBlockSource {
    let handle: FileHandle

    init(path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw BulkInputError(message: "the input file cannot be opened")
        }
        self.handle = handle
    }

    mutating func next() async throws -> [UInt8]? {
        let data = try handle.read(upToCount: 1 << 20) ?? Data()
        if data.isEmpty {
            try? handle.close()
            return nil
        }
        return Array(data)
    }
}

/// Blocks already in memory (a test, or a stored chunk that has been opened).
struct MemoryBlockSource: ByteBlockSource {
    var blocks: [[UInt8]]

    mutating func next() async throws -> [UInt8]? {
        blocks.isEmpty ? nil : blocks.removeFirst()
    }
}

/// Inflates a gzip stream (one or more members) as it is read. A stream that inflates to more
/// than `maxRatio` times its compressed size (plus 1 MiB), or past `maxBytes`, is refused as a
/// decompression bomb before it costs memory or time.
struct GunzipBlockSource<Base: ByteBlockSource>: ByteBlockSource {
    var base: Base
    let maxRatio: Int
    let maxBytes: Int
    private var decompressor: NIODecompressor
    private var pending: ByteBuffer?
    private var compressedIn = 0
    private var inflatedOut = 0
    private var started = false

    init(_ base: Base, maxRatio: Int = 200, maxBytes: Int = 64 << 30) {
        self.base = base
        self.maxRatio = maxRatio
        self.maxBytes = maxBytes
        self.decompressor = CompressionAlgorithm.gzip().decompressor
    }

    mutating func next() async throws -> [UInt8]? {
        if !started {
            try decompressor.startStream()
            started = true
        }
        while true {
            if pending == nil || pending!.readableBytes == 0 {
                guard let block = try await base.next() else { return nil }
                compressedIn += block.count
                pending = ByteBuffer(bytes: block)
            }
            var output = ByteBufferAllocator().buffer(capacity: 1 << 20)
            do {
                try pending!.decompressStream(to: &output, with: decompressor)
            } catch let error as CompressNIOError where error == .bufferOverflow || error == .inputBufferOverflow {
                // The output block is full (or the input is used up): hand out what there is.
            } catch let error as CompressNIOError where error == .corruptData {
                throw BulkInputError(message: "the gzip input is corrupt")
            }
            if pending!.readableBytes > 0 && output.readableBytes == 0 {
                // A member ended inside this block: start the next one.
                try decompressor.resetStream()
                continue
            }
            inflatedOut += output.readableBytes
            if inflatedOut > maxBytes || inflatedOut > compressedIn * maxRatio + (1 << 20) {
                throw BulkInputError(message: "the gzip input inflates beyond the allowed ratio (\(maxRatio)×): refused as a decompression bomb")
            }
            if output.readableBytes > 0 { return Array(output.readableBytesView) }
            if pending!.readableBytes == 0 { continue }
            try decompressor.resetStream()
        }
    }
}

/// Splits blocks into lines (`\n`, with an optional `\r`). A line longer than `maxLineBytes` is
/// reported as `.tooLong` and skipped to its end without being kept in memory.
struct LineSplitter<Source: ByteBlockSource> {
    enum Line: Sendable {
        case line([UInt8])
        case tooLong(bytes: Int)
    }

    var source: Source
    let maxLineBytes: Int
    private var buffer: [UInt8] = []
    private var start = 0
    private var ended = false
    private var skipping = false
    private var skipped = 0

    init(_ source: Source, maxLineBytes: Int) {
        self.source = source
        self.maxLineBytes = maxLineBytes
    }

    mutating func next() async throws -> Line? {
        while true {
            if let newline = buffer[start...].firstIndex(of: 0x0A) {
                if skipping {
                    let total = skipped + (newline - start)
                    start = newline + 1
                    skipping = false
                    skipped = 0
                    return .tooLong(bytes: total)
                }
                var end = newline
                if end > start, buffer[end - 1] == 0x0D { end -= 1 }
                defer { start = newline + 1 }
                if end - start > maxLineBytes { return .tooLong(bytes: end - start) }
                return .line(Array(buffer[start..<end]))
            }
            if buffer.count - start > maxLineBytes {
                // No end in sight within the limit: drop what is buffered and skip to the newline.
                skipping = true
                skipped += buffer.count - start
                buffer.removeAll(keepingCapacity: true)
                start = 0
            }
            if ended {
                guard start < buffer.count || skipping else { return nil }
                if skipping {
                    skipping = false
                    let total = skipped + buffer.count - start
                    start = buffer.count
                    return .tooLong(bytes: total)
                }
                let line = Array(buffer[start...])
                start = buffer.count
                return .line(line)
            }
            if start > 0 {
                buffer.removeFirst(start)
                start = 0
            }
            if let block = try await source.next() { buffer.append(contentsOf: block) } else { ended = true }
        }
    }
}

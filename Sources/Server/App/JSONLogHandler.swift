import Foundation
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One JSON object per log line, for the journal and log shippers: `time` (UTC, milliseconds),
/// `level`, `label`, `message`, then the metadata as top-level members (`request_id`, `method`,
/// `path`, `route`, `status`, `duration_us`, `user_id`, …), sorted by name. Nested metadata
/// becomes dotted names. What is logged is what the code logs: ids, codes, routes and timings,
/// never bodies, names, emails or tokens (the request log writes no query string either).
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let sink: @Sendable (String) -> Void

    /// `sink` gets each line with its newline; the server's writes to standard error.
    public init(label: String, metadataProvider: Logger.MetadataProvider? = nil, sink: @escaping @Sendable (String) -> Void) {
        self.label = label
        self.metadataProvider = metadataProvider
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Members the handler writes itself; metadata of the same name is written with a `meta.`
    /// prefix rather than dropped or doubled.
    private static let reserved: Set<String> = ["time", "level", "label", "message"]
    /// Hummingbird's request id, which `RequestIDMiddleware` sets equal to `request_id`.
    private static let duplicates: Set<String> = ["hb.request.id"]

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get(), !provided.isEmpty {
            merged.merge(provided) { _, new in new }
        }
        if let explicit = event.metadata, !explicit.isEmpty {
            merged.merge(explicit) { _, new in new }
        }
        var fields: [(String, String)] = []
        for (key, value) in merged where !Self.duplicates.contains(key) {
            Self.flatten(Self.reserved.contains(key) ? "meta.\(key)" : key, value, into: &fields)
        }
        fields.sort { $0.0 < $1.0 }

        var line = "{\"time\":"
        line += Self.quoted(Self.timestamp())
        line += ",\"level\":" + Self.quoted(event.level.rawValue)
        line += ",\"label\":" + Self.quoted(label)
        line += ",\"message\":" + Self.quoted(event.message.description)
        for (key, json) in fields {
            line += "," + Self.quoted(key) + ":" + json
        }
        line += "}\n"
        sink(line)
    }

    /// Top-level members for one metadata entry: nested dictionaries become dotted names, other
    /// values JSON (see `json(_:)`).
    private static func flatten(_ key: String, _ value: Logger.Metadata.Value, into fields: inout [(String, String)]) {
        if case .dictionary(let nested) = value {
            for (inner, innerValue) in nested {
                flatten("\(key).\(inner)", innerValue, into: &fields)
            }
        } else {
            fields.append((key, json(value)))
        }
    }

    /// Strings as strings; integers, floating-point numbers and booleans logged as values
    /// (`.stringConvertible(200)`) as JSON numbers and booleans, so that `"status":503` can be
    /// matched and compared; arrays as arrays.
    static func json(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text):
            return quoted(text)
        case .stringConvertible(let convertible):
            switch convertible {
            case let number as any BinaryInteger: return "\(number)"
            case let number as Double where number.isFinite: return "\(number)"
            case let flag as Bool: return flag ? "true" : "false"
            default: return quoted(convertible.description)
            }
        case .array(let values):
            return "[" + values.map { json($0) }.joined(separator: ",") + "]"
        case .dictionary(let nested):
            let members = nested.sorted { $0.key < $1.key }.map { quoted($0.key) + ":" + json($0.value) }
            return "{" + members.joined(separator: ",") + "}"
        }
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped, so no value
    /// (an error message, a header someone logged) can end the line or forge another member.
    static func quoted(_ text: String) -> String {
        var result = "\""
        result.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case "\u{2028}": result += "\\u2028"  // line separators: some readers split lines on them
            case "\u{2029}": result += "\\u2029"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        result += "\""
        return result
    }

    /// Now as `2024-05-01T10:20:30.123Z`. Formatted by hand: a formatter per line would cost
    /// more than the rest of the line.
    static func timestamp(now: Date = Date()) -> String {
        let milliseconds = Int64((now.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(milliseconds.floorDivided(by: 1000))
        let millisecond = Int(milliseconds - Int64(seconds) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
        }
        return pad(Int(parts.tm_year) + 1900, 4) + "-" + pad(Int(parts.tm_mon) + 1, 2) + "-" + pad(Int(parts.tm_mday), 2)
            + "T" + pad(Int(parts.tm_hour), 2) + ":" + pad(Int(parts.tm_min), 2) + ":" + pad(Int(parts.tm_sec), 2)
            + "." + pad(millisecond, 3) + "Z"
    }
}

extension Int64 {
    /// Division rounding towards negative infinity (instants before 1970 stay in their second).
    fileprivate func floorDivided(by divisor: Int64) -> Int64 {
        let (quotient, remainder) = quotientAndRemainder(dividingBy: divisor)
        return remainder < 0 ? quotient - 1 : quotient
    }
}

/// Where and how `serve` logs. Both formats go to standard error; standard output carries only
/// the "listening on" line that scripts and supervisors wait for.
public enum LogOutput {
    /// The format in force: the configured one, else text on a terminal (a person reading) and
    /// JSON elsewhere (a journal, a container runtime, a file: something parsing).
    public static func format(configured: ServerSettings.LogFormat?, standardErrorIsTerminal: Bool = isatty(STDERR_FILENO) == 1)
        -> ServerSettings.LogFormat
    {
        configured ?? (standardErrorIsTerminal ? .text : .json)
    }

    private static let bootstrapped = Atomic<Bool>(false)

    /// Points swift-log at the chosen handler for the whole process (libraries' loggers too), with
    /// the request id of the current task added to every line. Once per process: swift-log
    /// stops the process on a second bootstrap, and tests create many servers in one process.
    public static func bootstrap(format: ServerSettings.LogFormat) {
        guard bootstrapped.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        LoggingSystem.bootstrap(
            { label, provider in LogOutput.handler(format: format, label: label, metadataProvider: provider) },
            metadataProvider: MedrecRequestID.metadataProvider)
    }

    static func handler(format: ServerSettings.LogFormat, label: String, metadataProvider: Logger.MetadataProvider?) -> any LogHandler {
        switch format {
        case .json:
            return JSONLogHandler(label: label, metadataProvider: metadataProvider, sink: { StandardError.writeLine($0) })
        case .text:
            return StreamLogHandler.standardError(label: label, metadataProvider: metadataProvider)
        }
    }
}

/// Whole lines to standard error, one writer at a time, so that lines from concurrent requests
/// never interleave.
enum StandardError {
    private static let lock = Mutex(())

    static func writeLine(_ line: String) {
        lock.withLock { _ in
            let bytes = Array(line.utf8)
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeBytes { buffer in
                    write(STDERR_FILENO, buffer.baseAddress! + offset, buffer.count - offset)
                }
                if written > 0 {
                    offset += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    return  // standard error is gone: nowhere left to say so
                }
            }
        }
    }
}

import Foundation

/// Lowercase UUID strings for new ids, from the system's random generator (`getrandom`).
/// Foundation's `UUID()` on Linux opens and reads `/dev/urandom` for every id, which a profile
/// of the audited read showed as one of its costs (every request makes an AuditEvent id).
public enum RandomUUID {
    /// A random (version 4) UUID: resource, session and token ids, which must reveal nothing.
    public static func v4() -> String {
        var generator = SystemRandomNumberGenerator()
        var high = generator.next() as UInt64
        var low = generator.next() as UInt64
        high = (high & ~0xF000) | 0x4000  // version 4
        low = (low & ~(0xC000_0000_0000_0000 as UInt64)) | 0x8000_0000_0000_0000  // RFC 4122 variant
        return format(high, low)
    }

    /// A time-ordered (version 7, RFC 9562) UUID: AuditEvent ids, whose unique index then
    /// grows at its right edge instead of at random pages. The time is already in the event.
    public static func v7(now: Date = Date()) -> String {
        var generator = SystemRandomNumberGenerator()
        let milliseconds = UInt64(max(0, now.timeIntervalSince1970 * 1000)) & 0xFFFF_FFFF_FFFF
        let randomA = (generator.next() as UInt64) & 0xFFF
        var low = generator.next() as UInt64
        low = (low & ~(0xC000_0000_0000_0000 as UInt64)) | 0x8000_0000_0000_0000
        return format((milliseconds << 16) | 0x7000 | randomA, low)
    }

    private static let digits = Array("0123456789abcdef".utf8)

    private static func format(_ high: UInt64, _ low: UInt64) -> String {
        String(unsafeUninitializedCapacity: 36) { buffer in
            var position = 0
            func put(_ value: UInt64, nibbles: Int) {
                for shift in stride(from: (nibbles - 1) * 4, through: 0, by: -4) {
                    buffer[position] = digits[Int((value >> UInt64(shift)) & 0xF)]
                    position += 1
                }
            }
            func dash() {
                buffer[position] = UInt8(ascii: "-")
                position += 1
            }
            put(high >> 32, nibbles: 8)
            dash()
            put((high >> 16) & 0xFFFF, nibbles: 4)
            dash()
            put(high & 0xFFFF, nibbles: 4)
            dash()
            put(low >> 48, nibbles: 4)
            dash()
            put(low & 0xFFFF_FFFF_FFFF, nibbles: 12)
            return 36
        }
    }
}

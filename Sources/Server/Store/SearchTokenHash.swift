/// Stable 64-bit FNV-1a hashes for token index rows. Swift's `Hasher` is seeded per
/// process, so it cannot be stored; FNV-1a is stable, fast, and good enough for an index
/// whose matches are rechecked against the resource type.
enum SearchTokenHash {
    static func hash(_ parts: String...) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for (index, part) in parts.enumerated() {
            if index > 0 {
                hash ^= 0x1F  // unit separator between parts, so ("ab","c") != ("a","bc")
                hash &*= 0x0000_0100_0000_01B3
            }
            for byte in part.utf8 {
                hash ^= UInt64(byte)
                hash &*= 0x0000_0100_0000_01B3
            }
        }
        return Int64(bitPattern: hash)
    }

    /// Hash of (type, param, system, code) for `system|code` searches.
    static func systemCode(type: String, param: String, system: String, code: String) -> Int64 {
        hash(type, param, system, code)
    }

    /// Hash of (type, param, code) for code-only searches.
    static func code(type: String, param: String, code: String) -> Int64 {
        hash(type, param, code)
    }
}

extension SearchTokenHash {
    /// Hash of (type, param, system) for `system|` searches (any code in a system).
    static func system(type: String, param: String, system: String) -> Int64 {
        hash(type, param, system, "")  // the empty code keeps it apart from code-only hashes
    }
}

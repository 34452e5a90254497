/// A keyring printed, logged or dumped shows key ids only, never key material.
extension Keyring: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String {
        "Keyring(active: \(activeKeyID), keys: \(keyIDs.joined(separator: ", ")))"
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror {
        Mirror(self, children: ["activeKeyID": activeKeyID, "keyIDs": keyIDs], displayStyle: .struct)
    }
}

extension BlindIndex: CustomStringConvertible, CustomReflectable {
    public var description: String { "BlindIndex(HMAC-SHA256)" }

    public var customMirror: Mirror {
        Mirror(self, children: [], displayStyle: .struct)
    }
}

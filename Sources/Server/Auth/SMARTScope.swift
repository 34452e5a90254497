import FHIRModels

/// A SMART App Launch resource scope such as `patient/*.rs` or `user/Observation.cruds`.
///
/// Parses v2 letters and the v1 forms (`read` = `rs`, `write` = `cud`, `*` = `cruds`) into one set of permissions,
/// so the rest of the server only ever reasons about v2 and writes the canonical v2 text back.
/// v2 scopes with a query suffix (`patient/Observation.rs?category=laboratory`) are not supported and parse as `nil`:
/// granting them as if unrestricted would widen access, and ignoring the restriction silently would be worse.
public struct SMARTScope: Sendable, Hashable {
    /// Whose data the scope reaches: the launch patient's, whatever the user may see, or a backend system's.
    public enum Context: String, Sendable, CaseIterable {
        case patient, user, system
    }

    public let context: Context
    /// The resource type, or `nil` for `*` (every type).
    public let resourceType: String?
    public let permissions: Set<SMARTPermission>

    /// A scope from its parts; `resourceType` is not checked here, as the parts already came from somewhere trusted.
    public init(context: Context, resourceType: String?, permissions: Set<SMARTPermission>) {
        self.context = context
        self.resourceType = resourceType
        self.permissions = permissions
    }

    /// Parses `context/Type.permissions`; `nil` when the text is not a well-formed resource scope.
    public init?(parsing text: String) {
        guard let slash = text.firstIndex(of: "/"),
            let context = Context(rawValue: String(text[..<slash]))
        else { return nil }
        let rest = text[text.index(after: slash)...]
        guard let dot = rest.firstIndex(of: ".") else { return nil }
        let type = rest[..<dot]
        let permissionText = rest[rest.index(after: dot)...]

        let resourceType: String?
        if type == "*" {
            resourceType = nil
        } else if Self.knownResourceTypes.contains(String(type)) {
            resourceType = String(type)
        } else {
            return nil
        }
        guard let permissions = Self.permissions(parsing: permissionText) else { return nil }
        self.init(context: context, resourceType: resourceType, permissions: permissions)
    }

    /// The canonical v2 text, letters in `cruds` order.
    public var text: String {
        let letters = SMARTPermission.allCases.filter(permissions.contains).map(\.rawValue)
        return "\(context.rawValue)/\(resourceType ?? "*").\(String(letters))"
    }

    /// Whether this scope applies to `type` (a wildcard scope applies to every type).
    public func covers(_ type: String) -> Bool {
        resourceType == nil || resourceType == type
    }

    private static let knownResourceTypes = Set(FHIRMetadata.resourceTypeNames)

    /// v1 words, or v2 letters in `cruds` order without repeats; the empty string is not a permission.
    private static func permissions(parsing text: Substring) -> Set<SMARTPermission>? {
        switch text {
        case "read": return [.read, .search]
        case "write": return [.create, .update, .delete]
        case "*": return Set(SMARTPermission.allCases)
        default: break
        }
        guard !text.isEmpty else { return nil }
        var result: Set<SMARTPermission> = []
        var next = SMARTPermission.allCases.startIndex
        for letter in text {
            guard let position = SMARTPermission.allCases[next...].firstIndex(where: { $0.rawValue == letter })
            else { return nil }
            result.insert(SMARTPermission.allCases[position])
            next = SMARTPermission.allCases.index(after: position)
        }
        return result
    }
}

import Synchronization

/// The scopes of a token request or of a token: SMART resource scopes plus everything else (`openid`, `fhirUser`,
/// `offline_access`, `launch/patient`, ...), which is kept verbatim for the token endpoint to interpret.
public struct ScopeSet: Sendable, Hashable {
    public let scopes: [SMARTScope]
    public let otherScopes: [String]

    /// Parses a space-separated scope string (RFC 6749 §3.3). A word that starts like a resource scope
    /// (`patient/`, `user/`, `system/`) must parse as one, so a typo is an error rather than a silently dropped grant;
    /// any other word goes to `otherScopes`. Duplicates are dropped.
    public init(parsing text: String) throws(ScopeError) {
        var scopes: [SMARTScope] = []
        var others: [String] = []
        for (index, word) in text.split(separator: " ", omittingEmptySubsequences: true).enumerated() {
            let word = String(word)
            if SMARTScope.Context.allCases.contains(where: { word.hasPrefix($0.rawValue + "/") }) {
                guard let scope = SMARTScope(parsing: word) else {
                    throw ScopeError("scope \(index + 1) is not a valid SMART resource scope")
                }
                if !scopes.contains(scope) { scopes.append(scope) }
            } else if !others.contains(word) {
                others.append(word)
            }
        }
        self.init(scopes, otherScopes: others)
    }

    /// A token's scopes, parsed once per distinct scope string: every authenticated request
    /// needs them and a server sees few distinct strings (the cache is bounded all the same).
    /// Unparseable text is an empty set, as for a token.
    static func ofToken(_ text: String) -> ScopeSet {
        if let known = tokenScopes.withLock({ $0[text] }) { return known }
        let parsed = (try? ScopeSet(parsing: text)) ?? ScopeSet([])
        tokenScopes.withLock { table in
            if table.count >= 1_000 { table.removeAll() }
            table[text] = parsed
        }
        return parsed
    }

    private static let tokenScopes = Mutex<[String: ScopeSet]>([:])

    public init(_ scopes: [SMARTScope], otherScopes: [String] = []) {
        self.scopes = scopes
        self.otherScopes = otherScopes
    }

    /// The space-joined scope string: resource scopes in canonical v2 form, then the other scopes.
    public var text: String {
        (scopes.map(\.text) + otherScopes).joined(separator: " ")
    }

    /// Does some scope in one of `contexts` grant `permission` on `type`? `r` never implies `s` and vice versa.
    public func grants(_ permission: SMARTPermission, on type: String, in contexts: Set<SMARTScope.Context>) -> Bool {
        scopes.contains { scope in
            contexts.contains(scope.context) && scope.covers(type) && scope.permissions.contains(permission)
        }
    }

    /// The part of self that `ceiling` also grants, per context, type and permission: for every context, type and
    /// permission, `narrowed(to:)` grants it exactly when both `self` and `ceiling` do. Other scopes survive only
    /// when the ceiling lists them too.
    public func narrowed(to ceiling: ScopeSet) -> ScopeSet {
        // Pairwise intersections, merged per (context, type) so each appears once, in the order requested.
        var order: [ScopeKey] = []
        var merged: [ScopeKey: Set<SMARTPermission>] = [:]
        for requested in scopes {
            for allowed in ceiling.scopes where allowed.context == requested.context {
                let type: String?
                switch (requested.resourceType, allowed.resourceType) {
                case (nil, let other), (let other, nil): type = other
                case (let left?, let right?) where left == right: type = left
                default: continue
                }
                let permissions = requested.permissions.intersection(allowed.permissions)
                guard !permissions.isEmpty else { continue }
                let key = ScopeKey(context: requested.context, resourceType: type)
                if merged[key] == nil { order.append(key) }
                merged[key, default: []].formUnion(permissions)
            }
        }
        // A typed scope adds nothing when the same context's wildcard already grants all of its permissions.
        let result = order.compactMap { key -> SMARTScope? in
            let permissions = merged[key]!
            if key.resourceType != nil,
                let wildcard = merged[ScopeKey(context: key.context, resourceType: nil)],
                permissions.isSubset(of: wildcard)
            {
                return nil
            }
            return SMARTScope(context: key.context, resourceType: key.resourceType, permissions: permissions)
        }
        return ScopeSet(result, otherScopes: otherScopes.filter(ceiling.otherScopes.contains))
    }

    private struct ScopeKey: Hashable {
        let context: SMARTScope.Context
        let resourceType: String?
    }
}

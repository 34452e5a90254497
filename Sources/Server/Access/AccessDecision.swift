/// The outcome of an access check. Denials carry a short reason for the audit trail (no PHI).
public enum AccessDecision: Sendable, Equatable {
    case allow
    /// Allowed only because a doctor declared an emergency (`X-Break-Glass`): audited as BTG.
    case allowByBreakGlass
    case deny(String)

    public var isAllowed: Bool {
        if case .deny = self { return false }
        return true
    }
}

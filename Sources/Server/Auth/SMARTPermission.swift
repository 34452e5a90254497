/// One SMART App Launch v2 permission letter. The raw value is the letter used in scope text, and the case order
/// is the order v2 requires the letters in (`c`, `r`, `u`, `d`, `s`).
public enum SMARTPermission: Character, Sendable, CaseIterable {
    case create = "c"
    case read = "r"
    case update = "u"
    case delete = "d"
    case search = "s"
}

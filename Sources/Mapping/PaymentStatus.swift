/// Whether a bill is paid ⇄ the Claim extension `claim-payment-status` (valueCode).
public enum PaymentStatus: String, Sendable, Equatable, CaseIterable {
    case paid, pending
}

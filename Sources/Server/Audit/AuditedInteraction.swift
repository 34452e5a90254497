/// What happened, as one typed value: the BALP subtype written to the audit log and the
/// AuditEvent action code both derive from it, so a new call site cannot misspell either or
/// pair a subtype with the wrong action.
public enum AuditedInteraction: String, Sendable, CaseIterable {
    // FHIR restful interactions (http://hl7.org/fhir/restful-interaction).
    case read, vread
    case historyInstance = "history-instance", historyType = "history-type", historySystem = "history-system"
    case searchType = "search-type", searchSystem = "search-system"
    case create, update, patch, delete
    /// `Patient/{id}/$everything`.
    case everything
    // Authentication events (DICOM 110114 User Authentication).
    case login, logout, refresh
    case passwordChange = "password-change"
    // Bulk data (BALP export; the FHIR operation names): kick-off, completion, each file
    // download and cancellation of an `$export`, and an `$import` job's kick-off and its
    // writes (one record per job and type, not per resource).
    case exportKickOff = "export", exportComplete = "export-complete", exportDownload = "export-download"
    case importKickOff = "import", importWrite = "import-write"
    case bulkCancel = "bulk-cancel"

    /// The AuditEvent.action code: C, R, U, D or E.
    public var action: AuditRecord.Action {
        switch self {
        case .read, .vread, .historyInstance, .historyType, .historySystem, .searchType, .searchSystem, .everything,
             .exportComplete, .exportDownload: .read
        case .importWrite: .create
        case .exportKickOff, .importKickOff, .bulkCancel: .execute
        case .create: .create
        case .update, .patch: .update
        case .delete: .delete
        case .login, .logout, .refresh, .passwordChange: .execute
        }
    }

    /// The subtype text stored in `audit_event.subtype`.
    public var subtype: String { rawValue }

    /// The interaction a write permission is audited under when it is denied.
    static func denied(_ permission: SMARTPermission) -> AuditedInteraction {
        switch permission {
        case .create: .create
        case .read: .read
        case .search: .searchType
        case .update: .update
        case .delete: .delete
        }
    }
}

extension AuditRecord {
    /// A record of `interaction`, its subtype and action code derived from it.
    public init(_ interaction: AuditedInteraction, outcome: Outcome = .success, outcomeDescription: String? = nil) {
        self.init(action: interaction.action, subtype: interaction.subtype, outcome: outcome, outcomeDescription: outcomeDescription)
    }

    /// HL7 v3 ActReason purpose of use by role: treatment, payment, operations.
    public static func purpose(of role: Principal.Role) -> String {
        switch role {
        case .doctor, .patient: "TREAT"
        case .billing: "HPAYMT"
        case .admin, .system: "HOPERAT"
        }
    }
}

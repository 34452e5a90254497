/// The version this build reports in the CapabilityStatement and `--version`.
public enum MedrecVersion {
    public static let current = "0.1.0"
}

import Foundation

/// The version this build reports in the CapabilityStatement and `--version`.
public enum MedrecVersion {
    public static let current = "0.1.0"

    /// The source revision, for `medrec_build_info` (checking that a rollout reached every
    /// replica). SwiftPM cannot stamp a value into a build, so the packaging supplies it:
    /// `MEDREC_BUILD_REVISION` in the service's environment (e.g. `ENV` from a build argument in
    /// an image). "unknown" without it.
    public static let revision: String = {
        let value = ProcessInfo.processInfo.environment["MEDREC_BUILD_REVISION"] ?? ""
        // Only what is safe as a label value and short: a commit hash or a tag.
        guard !value.isEmpty, value.count <= 64,
              value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-+".contains($0)) })
        else { return "unknown" }
        return value
    }()
}

import Configuration

/// Where the field-encryption keys and policy come from, read with every other setting
/// (`ServerSettings`): environment, then the config file, then defaults. The keys themselves are
/// secrets, so the reader never logs them.
public struct EncryptionSettings: Sendable, Equatable {
    /// `id1:base64,id2:base64` (`MEDREC_ENCRYPTION_KEYS`); the last is active unless `activeKey` names another.
    public var keys: String?
    /// The key id new writes use (`MEDREC_ENCRYPTION_ACTIVE_KEY`).
    public var activeKey: String?
    /// base64 of the blind-index key (`MEDREC_BLIND_INDEX_KEY`), required with `keys`.
    public var blindIndexKey: String?
    /// A JSON key file, mode 0600 (`MEDREC_ENCRYPTION_KEY_FILE`); nil with no `keys`: the development
    /// key file in the data directory.
    public var keyFile: String?
    /// A policy file replacing the built-in one (`MEDREC_ENCRYPTION_POLICY`).
    public var policyFile: String?

    public init() {}

    public init(config: ConfigReader) {
        func text(_ key: String, isSecret: Bool = false) -> String? {
            config.string(forKey: ConfigKey(key), isSecret: isSecret).flatMap { $0.isEmpty ? nil : $0 }
        }
        keys = text("medrec.encryption.keys", isSecret: true)
        activeKey = text("medrec.encryption.activeKey")
        blindIndexKey = text("medrec.blindIndexKey", isSecret: true)
        keyFile = text("medrec.encryption.keyFile")
        policyFile = text("medrec.encryption.policy")
    }

    /// The settings the environment variables alone give (no config file).
    public init(environment: [String: String]) {
        self.init(config: ConfigReader(provider: EnvironmentVariablesProvider(environmentVariables: environment)))
    }
}

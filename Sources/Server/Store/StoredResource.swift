import FHIRModels
import Foundation

/// One version of a resource as the store holds it.
public struct StoredResource: Sendable {
    public let type: String
    public let id: String
    public let versionID: Int
    public let lastUpdated: Date
    public let deleted: Bool
    /// The resource as FHIR JSON text, including `id` and `meta`; `nil` for a deletion.
    public let json: [UInt8]?
    /// How this version came about, for history bundles; nil when the read did not fetch it
    /// (current reads and searches).
    public let method: WriteMethod?
    /// For a read on behalf of a practitioner: the patients of this resource's compartment whom
    /// they care for, looked up in the same statement as the read (nil when not asked).
    public var caredForPatients: Set<String>?
    /// The patients whose compartment holds this (current) version, from the index written with
    /// it; nil when the read did not fetch them (history, vread).
    public var compartmentPatients: Set<String>?
    /// For a read that carried the caller's token check in its statement: the database's
    /// confirmation, for `ConfirmedTokens` (nil when no check was asked).
    public var tokenConfirmation: TokenConfirmation?
    /// The row's surrogate key (`resource.resource_key`) when a search read it: includes start from it.
    public var key: Int64?

    public init(type: String, id: String, versionID: Int, lastUpdated: Date, deleted: Bool, json: [UInt8]?, method: WriteMethod?) {
        self.type = type
        self.id = id
        self.versionID = versionID
        self.lastUpdated = lastUpdated
        self.deleted = deleted
        self.json = json
        self.method = method
    }

    /// The parsed resource; `nil` for a deletion.
    public func resource() throws -> JSONValue? {
        guard let json else { return nil }
        return try FHIRJSON.parse(json)
    }
}

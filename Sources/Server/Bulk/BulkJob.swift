import FHIRModels
import Foundation

/// A bulk job as `bulk_job` holds it (migration 0005).
public struct BulkJob: Sendable {
    public enum Kind: String, Sendable, Codable {
        case export, `import`
    }

    public enum Status: String, Sendable {
        case queued, running, completed, failed, cancelled
    }

    public let id: UUID
    public let kind: Kind
    public var status: Status
    public let owner: BulkOwner
    /// The kick-off request URL, as the manifest's `request`.
    public let request: String
    public let parameters: BulkParameters
    public let createdAt: Date
    public var transactionTime: Date?
    /// Export: the `pg_current_snapshot()` text and highest visible history key at kick-off.
    public var snapshot: String?
    public var snapshotMaxKey: Int64?
    public var cursor: BulkCursor
    public var doneCount: Int64
    public var totalEstimate: Int64?
    public var error: String?
    public var completedAt: Date?
}

/// Who kicked a job off: the job runs with their rights and only they see it.
public struct BulkOwner: Sendable {
    public let subject: String
    public let role: Principal.Role
    public let scopes: String
    public let fhirUser: String?
    public let clientAddress: String?

    init(caller: Caller) {
        subject = caller.principal.subject
        role = caller.principal.role
        scopes = caller.principal.scopes.text
        fhirUser = caller.principal.fhirUserReference
        clientAddress = caller.clientAddress
    }

    init(subject: String, role: Principal.Role, scopes: String, fhirUser: String?, clientAddress: String?) {
        self.subject = subject
        self.role = role
        self.scopes = scopes
        self.fhirUser = fhirUser
        self.clientAddress = clientAddress
    }

    /// The caller a worker acts as. Its access token is long gone by then: the rights are the
    /// ones granted at kick-off, which the kick-off checked against a live token.
    func caller() throws -> Caller {
        let linked = fhirUser.flatMap { reference -> (type: String, id: String)? in
            let parts = reference.split(separator: "/", maxSplits: 1).map(String.init)
            return parts.count == 2 ? (parts[0], parts[1]) : nil
        }
        let scopeSet = try ScopeSet(parsing: scopes)
        let principal = Principal(
            subject: subject, role: role, fhirUser: linked, scopes: scopeSet, tokenID: "bulk-job",
            tokenExpiry: .distantFuture, sessionID: nil)
        return Caller(principal: principal, clientAddress: clientAddress)
    }

    func owns(_ principal: Principal) -> Bool {
        principal.subject == subject && principal.role == role
    }
}

/// What a job was asked to do; stored as JSON in `bulk_job.parameters`.
public struct BulkParameters: Sendable, Codable, Equatable {
    public var export: ExportParameters?
    public var `import`: ImportParameters?
}

/// `$export` parameters after validation.
public struct ExportParameters: Sendable, Codable, Equatable {
    public enum Level: Sendable, Codable, Equatable {
        case system
        case patient
        case group(id: String)
    }

    public var level: Level = .system
    /// The types to export; empty means every type the caller may read.
    public var types: [String] = []
    public var since: Date?
    /// `_typeFilter`: per type, search queries (OR-ed) in the server's search syntax.
    public var typeFilters: [String: [String]] = [:]
    /// `_elements`: element names, optionally `Type.element`.
    public var elements: [String] = []
    /// Patient-level and Group-level: the patients whose compartments are exported (Group
    /// members or the `patient` parameter); nil at system level.
    public var patients: [String]?
    /// Resources per file before a new file starts.
    public var maxResourcesPerFile: Int = 100_000
}

/// `$import` parameters after validation.
public struct ImportParameters: Sendable, Codable, Equatable {
    public struct Input: Sendable, Codable, Equatable {
        public var type: String
        /// `file://…` under the import directory, an allowlisted `http(s)` URL, or
        /// `bulk-input:N` for an NDJSON body posted with the kick-off (stored as file N of the job).
        public var url: String
    }

    public var inputs: [Input]
    public var mode: String?
}

/// How far a job's committed batches got; stored as JSON in `bulk_job.cursor`.
public struct BulkCursor: Sendable, Codable, Equatable {
    /// Export: the last `resource_key` whose batch committed.
    public var afterKey: Int64 = 0
    /// Export: per output type (or "deleted"), the file being filled and how many it holds.
    public var openFiles: [String: OpenFile] = [:]
    public var nextFileNo: Int = 1
    /// Import: which input, and how many of its lines are done.
    public var inputIndex: Int = 0
    public var lineOffset: Int64 = 0
    /// Import: per type, resources created and updated; errors reported.
    public var created: [String: Int64] = [:]
    public var updated: [String: Int64] = [:]
    public var errors: Int64 = 0
    /// The error file's number, once there is one.
    public var errorFileNo: Int?

    public struct OpenFile: Sendable, Codable, Equatable {
        public var fileNo: Int
        public var count: Int
        public var chunks: Int
    }

    public init() {}

    /// A new job's cursor is `{}`: every field may be absent.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        afterKey = try container.decodeIfPresent(Int64.self, forKey: .afterKey) ?? 0
        openFiles = try container.decodeIfPresent([String: OpenFile].self, forKey: .openFiles) ?? [:]
        nextFileNo = try container.decodeIfPresent(Int.self, forKey: .nextFileNo) ?? 1
        inputIndex = try container.decodeIfPresent(Int.self, forKey: .inputIndex) ?? 0
        lineOffset = try container.decodeIfPresent(Int64.self, forKey: .lineOffset) ?? 0
        created = try container.decodeIfPresent([String: Int64].self, forKey: .created) ?? [:]
        updated = try container.decodeIfPresent([String: Int64].self, forKey: .updated) ?? [:]
        errors = try container.decodeIfPresent(Int64.self, forKey: .errors) ?? 0
        errorFileNo = try container.decodeIfPresent(Int.self, forKey: .errorFileNo)
    }
}

/// Why a bulk request was refused, before it became a job or while reading one. Becomes an
/// HTTP status and OperationOutcome (or a command-line message) only at the edge.
public struct BulkError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// A parameter the server does not accept; `expression` names it.
        case invalid
        case notSupported
        /// No such job or file for this caller.
        case notFound
        /// Over a limit (concurrent jobs, kick-off rate, output size): retry later.
        case tooMany(retryAfter: Int)
        /// An input the server may not fetch (outside the import directory or allowlist).
        case forbiddenInput
    }

    public let code: Code
    public let message: String
    public let expression: String?

    public init(_ code: Code, _ message: String, expression: String? = nil) {
        self.code = code
        self.message = message
        self.expression = expression
    }

    public var description: String { message }
}

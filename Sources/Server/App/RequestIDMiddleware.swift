import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// The id of the request being served: HAProxy's (or the client's) `X-Request-Id` when it is
/// sane, else one made here. One id follows a request through the proxy's log, this server's log
/// lines, the response header and the AuditEvents the request caused.
public enum MedrecRequestID {
    /// Set by `RequestIDMiddleware` for the handler's whole task tree. A task-local rather than a
    /// parameter because AuditRecords are built in a dozen services below the faces
    /// (`AuditedAccess`, `SessionService`, `AccountService`, the bulk and admin services), none of
    /// which knows about HTTP; threading the id through every one of their signatures would touch
    /// each call site for a value only the audit row and the log need. `AuditRecord.init` reads
    /// it as a default argument, and the log handlers' metadata provider adds it to lines logged
    /// through loggers that are not the request's own (the store's, the audit log's). Work that
    /// outlives the request on purpose (bulk jobs run by `BulkWorker`, a service) has none.
    @TaskLocal public static var current: String?

    /// The longest id accepted from outside; longer ones are replaced, never cut (a cut id would
    /// look like a match for the wrong request).
    static let maximumLength = 128

    /// `value` when it is 1–128 characters of `[A-Za-z0-9._:-]`, else nil. Anything else (spaces,
    /// quotes, newlines, non-ASCII) could forge or break log lines and label values downstream.
    static func accepting(_ value: String?) -> String? {
        guard let value, !value.isEmpty, value.utf8.count <= maximumLength else { return nil }
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "-"):
                continue
            default:
                return nil
            }
        }
        return value
    }

    /// A new id: a random UUID, which reveals nothing about the request or the server.
    static func make() -> String { RandomUUID.v4() }

    /// Log metadata naming the current request, for the log handlers (`LogOutput`).
    static let metadataProvider = Logger.MetadataProvider {
        guard let id = MedrecRequestID.current else { return [:] }
        return ["request_id": .string(id)]
    }
}

extension HTTPField.Name {
    static let xRequestID = HTTPField.Name("X-Request-Id")!
}

/// Outermost middleware: picks the request id, puts it in the request's logger metadata and the
/// task-local, and returns it as `X-Request-Id` on every answer, errors included (the router
/// would turn an error into a response only after this middleware, without the header, so it is
/// done here the same way the router does it).
struct RequestIDMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let id = MedrecRequestID.accepting(request.headers[.xRequestID]) ?? MedrecRequestID.make()
        var identified = context
        identified.logger[metadataKey: "request_id"] = .string(id)
        // Hummingbird's own counter id (`context.id` reads it) becomes the same id, so that no
        // line carries a second, unrelated one; the JSON log leaves this duplicate out.
        identified.logger[metadataKey: "hb.request.id"] = .string(id)
        let context = identified
        do {
            // The request's waiting for pool connections is bounded as a whole (`PoolLeaseLimit`).
            var response = try await MedrecRequestID.$current.withValue(id) {
                try await PoolLeaseLimit.$budget.withValue(PoolLeaseLimit.Budget()) {
                    try await next(request, context)
                }
            }
            response.headers[.xRequestID] = id
            return response
        } catch let error as any HTTPResponseError {
            var response = try error.response(from: request, context: context)
            response.headers[.xRequestID] = id
            return response
        }
    }
}

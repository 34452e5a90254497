import HTTPTypes
import Hummingbird
import Synchronization

/// Which methods each path answers, read from the router's own route table once every route is
/// registered (`MedrecApplication.buildRouter`), so the `Allow` header of a 405 can never
/// disagree with the routes: the router stays the one list of routes.
final class AllowedMethods: Sendable {
    /// A route's path as segments: a literal, or nil for a capture (`{id}`).
    private let table = Mutex<[(segments: [String?], methods: Set<HTTPRequest.Method>)]>([])

    func load(_ routes: [Router<MedrecRequestContext>.RouteDescription]) {
        var byPath: [String: (segments: [String?], methods: Set<HTTPRequest.Method>)] = [:]
        for route in routes {
            let segments: [String?] = route.path.components.map { element in
                let text = element.description
                return text.hasPrefix("{") && text.hasSuffix("}") ? nil : text
            }
            byPath[route.path.description, default: (segments, [])].methods.insert(route.method)
        }
        let entries = Array(byPath.values)
        table.withLock { $0 = entries }
    }

    /// The methods `path` answers, in a stable order; nil when no route matches it.
    func methods(for path: String) -> [HTTPRequest.Method]? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
        let methods: Set<HTTPRequest.Method> = table.withLock { entries in
            var found = Set<HTTPRequest.Method>()
            for entry in entries where entry.segments.count == parts.count {
                let matches = zip(entry.segments, parts).allSatisfy { segment, part in segment.map { $0 == part } ?? !part.isEmpty }
                if matches { found.formUnion(entry.methods) }
            }
            return found
        }
        guard !methods.isEmpty else { return nil }
        return Self.order.filter(methods.contains)
    }

    private static let order: [HTTPRequest.Method] = [.get, .head, .post, .put, .patch, .delete, .options]
}

import Foundation
import Hummingbird
import Mustache
import NIOCore

/// The web face's templates (swift-mustache, `Resources/web/templates`, one per page plus
/// partials; pages extend `layout` through Mustache's template inheritance) and static files
/// (`Resources/web/static`), loaded once at start from the Server target's resources.
///
/// Every `{{value}}` is HTML-escaped by the engine (`<`, `>`, `&`, `"`, `'`), so whatever a user
/// typed is shown as text. Triple mustaches (unescaped) appear only where the value is markup
/// this code built from escaped parts (the SVG charts); `WebTemplateTests` holds that list.
struct WebRenderer: Sendable {
    let library: MustacheLibrary
    let assets: [String: Asset]

    struct Asset: Sendable {
        let body: ByteBuffer
        let contentType: String
    }

    static func load() throws -> WebRenderer {
        guard let root = Bundle.module.url(forResource: "web", withExtension: nil) else {
            throw WebRendererError.missingResources
        }
        var library = MustacheLibrary()
        let templates = root.appendingPathComponent("templates")
        for (name, text) in try files(under: templates, extension: "mustache") {
            try library.register(text, named: name)
        }
        var assets: [String: Asset] = [:]
        for (name, text) in try files(under: root.appendingPathComponent("static"), extension: nil) {
            let type: String
            switch (name as NSString).pathExtension {
            case "css": type = "text/css; charset=utf-8"
            case "js": type = "text/javascript; charset=utf-8"
            case "svg": type = "image/svg+xml"
            default: continue
            }
            assets[name] = Asset(body: ByteBuffer(string: text), contentType: type)
        }
        return WebRenderer(library: library, assets: assets)
    }

    /// Files under `directory` by path relative to it (without `extension` when one is given).
    private static func files(under directory: URL, extension wanted: String?) throws -> [(String, String)] {
        let base = directory.standardizedFileURL.path
        guard let enumerator = FileManager.default.enumerator(atPath: base) else { return [] }
        var result: [(String, String)] = []
        for case let relative as String in enumerator {
            let path = base + "/" + relative
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            var name = relative
            if let wanted {
                guard relative.hasSuffix("." + wanted) else { continue }
                name = String(relative.dropLast(wanted.count + 1))
            }
            result.append((name, try String(contentsOfFile: path, encoding: .utf8)))
        }
        return result
    }

    /// The page `template` rendered with `data`; a missing template is a programming error
    /// that the template tests catch, answered as an empty page rather than a crash.
    func render(_ template: String, _ data: [String: Any]) -> String {
        library.render(data, withTemplate: template) ?? ""
    }
}

enum WebRendererError: Error {
    case missingResources
}

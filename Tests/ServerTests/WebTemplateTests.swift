import Foundation
import Testing
@testable import Server

/// Static checks over every web template, so a new page cannot quietly break the rules the
/// CSP, the escaping and the accessibility of the pages rest on.
@Suite struct WebTemplateTests {
    /// Templates allowed to print unescaped values, and why: markup built by Swift from escaped parts.
    static let unescapedAllowed: Set<String> = ["chart/results"]

    static var templateDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/Server/Resources/web/templates")
    }

    static func templates() throws -> [(name: String, text: String)] {
        let base = templateDirectory.path
        let names = try #require(FileManager.default.enumerator(atPath: base)).compactMap { $0 as? String }.filter { $0.hasSuffix(".mustache") }
        return try names.sorted().map { (String($0.dropLast(".mustache".count)), try String(contentsOfFile: base + "/" + $0, encoding: .utf8)) }
    }

    @Test func everyTemplateLoadsAndTheLayoutRenders() throws {
        let renderer = try WebRenderer.load()
        let templates = try Self.templates()
        #expect(templates.count >= 4)
        for (name, _) in templates {
            #expect(renderer.library.getTemplate(named: name) != nil, "\(name) did not load")
        }
        let page = renderer.render("error", ["title": "T<b>", "message": "<script>alert(1)</script>"])
        #expect(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(!page.contains("<script>alert"))
        #expect(page.contains("<title>T&lt;b&gt; · Medical Records</title>"))
        #expect(renderer.assets["style.css"] != nil && renderer.assets["app.js"] != nil)
    }

    @Test func noTemplatePrintsUnescapedValuesOrInlineScriptOrStyle() throws {
        for (name, text) in try Self.templates() {
            if !Self.unescapedAllowed.contains(name) {
                #expect(!text.contains("{{{") && !text.contains("{{&"), "\(name) prints a value unescaped")
            }
            let lower = text.lowercased()
            // Scripts only from files (the CSP allows 'self' only), no inline handlers or styles.
            for match in lower.ranges(of: "<script") {
                let tag = lower[match.lowerBound...].prefix { $0 != ">" }
                #expect(tag.contains(" src="), "\(name) has an inline script")
            }
            #expect(!lower.contains(" style="), "\(name) has an inline style")
            #expect(!lower.contains("<style"), "\(name) has a style element")
            #expect(lower.firstMatch(of: /\son[a-z]+\s*=/) == nil, "\(name) has an inline event handler")
            #expect(!lower.contains("javascript:"), "\(name) has a javascript: URL")
            // A tag inside a comment ends it early: the rest of the comment is printed on the page.
            #expect(text.firstMatch(of: /\{\{![^}]*\{\{/) == nil, "\(name) has a comment holding a tag, which ends the comment early")
        }
    }

    /// `text` with its `{{>partial}}` tags replaced by the partials' text, nested ones too, so
    /// checks see a form's fields wherever they are written.
    static func expanded(_ text: String, _ all: [String: String]) -> String {
        var result = text
        for _ in 0..<4 where result.contains("{{>") {
            for (name, partial) in all { result = result.replacingOccurrences(of: "{{>\(name)}}", with: partial) }
        }
        return result
    }

    @Test func everyFormFieldHasALabelAndEveryPostFormACSRFToken() throws {
        let all = Dictionary(uniqueKeysWithValues: try Self.templates().map { ($0.name, $0.text) })
        for (name, raw) in try Self.templates() {
            let text = Self.expanded(raw, all)
            for input in text.matches(of: /<(input|select|textarea)\b[^>]*>/) {
                let tag = String(input.output.0)
                if tag.contains(#"type="hidden""#) || tag.contains(#"type="submit""#) { continue }
                guard let id = tag.firstMatch(of: /\sid="([^"]+)"/)?.output.1 else {
                    Issue.record("\(name): a form field without an id: \(tag.prefix(80))")
                    continue
                }
                let labelled = text.contains(#"for="\#(id)""#) || tag.contains("aria-label=") || tag.contains("aria-labelledby=")
                #expect(labelled, "\(name): field \(id) has no label")
            }
            for form in text.matches(of: /<form\b[^>]*method="post"[^>]*>/) {
                let rest = text[form.range.upperBound...]
                let body = rest.prefix(while: { _ in true })
                let end = body.range(of: "</form>")
                let inside = end.map { body[..<$0.lowerBound] } ?? body
                #expect(inside.contains(#"name="_csrf""#), "\(name): a POST form without its CSRF field")
            }
        }
    }
}

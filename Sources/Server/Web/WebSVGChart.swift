import Foundation

/// A small line chart of values over time, drawn on the server as SVG markup (no script, no
/// inline style: the lines and dots take their look from `style.css`, classes `chart-*`).
/// Every text in it (title, unit, axis labels) is XML-escaped here, so the markup may be
/// inserted unescaped (`{{{svg}}}`) by a template. The chart is an image with an accessible
/// name (`role="img"`, `<title>`, `aria-labelledby`); the same values are in a table next to
/// it, so nothing is only in the picture.
struct WebSVGChart: Sendable {
    struct Point: Sendable {
        let date: Date
        let value: Double
    }

    struct Series: Sendable {
        let name: String
        let points: [Point]
    }

    /// Unique within the page (the `<title>`'s id is derived from it).
    let id: String
    let title: String
    let unit: String?
    /// One or two series (e.g. systolic and diastolic); the second is drawn dashed, so the
    /// lines differ by more than colour, and both are named in a legend.
    let series: [Series]

    static let width = 480.0
    static let height = 220.0
    private static let left = 56.0, right = 16.0, top = 16.0, bottom = 40.0

    /// The SVG markup, or nil when there is nothing to draw.
    var svg: String? {
        let all = series.flatMap(\.points)
        guard !all.isEmpty else { return nil }
        let times = all.map(\.date.timeIntervalSince1970)
        let values = all.map(\.value)
        var lowTime = times.min()!, highTime = times.max()!
        if highTime - lowTime < 1 { lowTime -= 86_400; highTime += 86_400 }
        var low = values.min()!, high = values.max()!
        let padding = max((high - low) * 0.1, abs(high) * 0.05, 0.5)
        low -= padding
        high += padding
        let plotWidth = Self.width - Self.left - Self.right
        let plotHeight = Self.height - Self.top - Self.bottom
        func x(_ date: Date) -> Double { Self.left + (date.timeIntervalSince1970 - lowTime) / (highTime - lowTime) * plotWidth }
        func y(_ value: Double) -> Double { Self.top + (high - value) / (high - low) * plotHeight }

        let titleID = "\(id)-title"
        let unitText = unit.map { " (\($0))" } ?? ""
        let description = "\(title)\(unitText): \(all.count) value\(all.count == 1 ? "" : "s") from \(Self.day(Date(timeIntervalSince1970: times.min()!))) to \(Self.day(Date(timeIntervalSince1970: times.max()!)))"
        var out = """
            <svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(Int(Self.width)) \(Int(Self.height))" \
            role="img" aria-labelledby="\(Self.escape(titleID))" focusable="false">\
            <title id="\(Self.escape(titleID))">\(Self.escape(description))</title>
            """
        // Axes and three value labels (low, middle, high).
        let axisBottom = Self.top + plotHeight
        out += #"<g class="chart-axis" aria-hidden="true">"#
        out += #"<line x1="\#(Self.f(Self.left))" y1="\#(Self.f(Self.top))" x2="\#(Self.f(Self.left))" y2="\#(Self.f(axisBottom))"/>"#
        out += #"<line x1="\#(Self.f(Self.left))" y1="\#(Self.f(axisBottom))" x2="\#(Self.f(Self.width - Self.right))" y2="\#(Self.f(axisBottom))"/>"#
        for fraction in [0.0, 0.5, 1.0] {
            let value = low + padding + (high - low - 2 * padding) * fraction
            let yy = y(value)
            out += #"<line class="chart-grid" x1="\#(Self.f(Self.left))" y1="\#(Self.f(yy))" x2="\#(Self.f(Self.width - Self.right))" y2="\#(Self.f(yy))"/>"#
            out += #"<text class="chart-label" x="\#(Self.f(Self.left - 6))" y="\#(Self.f(yy + 4))" text-anchor="end">\#(Self.escape(Self.number(value)))</text>"#
        }
        let first = Date(timeIntervalSince1970: times.min()!), last = Date(timeIntervalSince1970: times.max()!)
        out += #"<text class="chart-label" x="\#(Self.f(Self.left))" y="\#(Self.f(axisBottom + 18))" text-anchor="start">\#(Self.escape(Self.day(first)))</text>"#
        if last != first {
            out += #"<text class="chart-label" x="\#(Self.f(Self.width - Self.right))" y="\#(Self.f(axisBottom + 18))" text-anchor="end">\#(Self.escape(Self.day(last)))</text>"#
        }
        if let unit {
            out += #"<text class="chart-label" x="\#(Self.f(Self.left))" y="\#(Self.f(Self.height - 4))" text-anchor="start">\#(Self.escape(unit))</text>"#
        }
        out += "</g>"
        for (index, line) in series.prefix(2).enumerated() {
            let points = line.points.sorted { $0.date < $1.date }
            guard !points.isEmpty else { continue }
            let kind = index == 0 ? "chart-line" : "chart-line chart-line-2"
            out += #"<g class="\#(kind)" aria-hidden="true">"#
            if points.count > 1 {
                let path = points.map { "\(Self.f(x($0.date))),\(Self.f(y($0.value)))" }.joined(separator: " ")
                out += #"<polyline points="\#(path)"/>"#
            }
            for point in points {
                out += #"<circle cx="\#(Self.f(x(point.date)))" cy="\#(Self.f(y(point.value)))" r="3"/>"#
            }
            out += "</g>"
        }
        if series.count > 1 {
            out += #"<g class="chart-legend" aria-hidden="true">"#
            for (index, line) in series.prefix(2).enumerated() {
                let lx = Self.width - Self.right - 150 + Double(index) * 80
                let kind = index == 0 ? "chart-line" : "chart-line chart-line-2"
                out += #"<g class="\#(kind)"><line x1="\#(Self.f(lx))" y1="\#(Self.f(Self.height - 8))" x2="\#(Self.f(lx + 16))" y2="\#(Self.f(Self.height - 8))"/></g>"#
                out += #"<text class="chart-label" x="\#(Self.f(lx + 20))" y="\#(Self.f(Self.height - 4))">\#(Self.escape(line.name))</text>"#
            }
            out += "</g>"
        }
        out += "</svg>"
        return out
    }

    /// XML text and attribute escaping.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    private static func f(_ value: Double) -> String { WebFormat.fixed(value, digits: 1) }

    static func number(_ value: Double) -> String {
        if abs(value) >= 100 { return WebFormat.fixed(value, digits: 0) }
        if abs(value) >= 10 { return WebFormat.fixed(value, digits: 1) }
        return WebFormat.fixed(value, digits: 2)
    }

    private static func day(_ date: Date) -> String {
        let text = WebFormat.dateTime(date)
        return String(text.prefix { $0 != "," })
    }
}

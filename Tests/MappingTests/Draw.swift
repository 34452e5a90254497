import PropertyBased

/// Realistic random platform values for the property tests: names from letters, real
/// calendar dates, money with two decimals, free text with the characters XHTML must escape.
enum Draw {
    typealias RNG = any SeededRandomNumberGenerator

    static func int(_ range: ClosedRange<Int>, _ rng: inout RNG) -> Int {
        Int.random(in: range, using: &rng)
    }

    static func bool(_ rng: inout RNG) -> Bool {
        int(0...1, &rng) == 1
    }

    static func element<T>(_ choices: [T], _ rng: inout RNG) -> T {
        choices[int(0...(choices.count - 1), &rng)]
    }

    static func optional<T>(_ rng: inout RNG, _ make: (inout RNG) -> T) -> T? {
        int(0...3, &rng) == 0 ? nil : make(&rng)
    }

    static func list<T>(_ rng: inout RNG, count: ClosedRange<Int> = 0...3, _ make: (inout RNG) -> T) -> [T] {
        (0..<int(count, &rng)).map { _ in make(&rng) }
    }

    private static let letters = Array("abcdefghijklmnopqrstuvwxyzéüñ")

    /// A capitalized word of letters.
    static func name(_ rng: inout RNG) -> String {
        let word = String((0..<int(2...10, &rng)).map { _ in element(letters, &rng) })
        return word.prefix(1).uppercased() + word.dropFirst()
    }

    private static let textPieces = ["a", "b", "c", "x", "1", "9", "é", "<", ">", "&", "&amp;", "\"", "'", "-", ".", "ü"]

    /// Free text: several words with characters that need escaping, sometimes several lines.
    static func text(_ rng: inout RNG) -> String {
        let words = (0..<int(1...6, &rng)).map { _ in (0..<int(1...6, &rng)).map { _ in element(textPieces, &rng) }.joined() }
        var result = words[0]
        for word in words.dropFirst() {
            result += element([" ", " ", "\n", ", "], &rng) + word
        }
        return result
    }

    static func digits(_ count: Int, _ rng: inout RNG) -> String {
        String((0..<count).map { _ in element(Array("0123456789"), &rng) })
    }

    private static func padded(_ value: Int, _ width: Int = 2) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }

    /// A real calendar date, including 29 February of leap years.
    static func date(_ rng: inout RNG, years: ClosedRange<Int> = 1920...2024) -> String {
        let year = int(years, &rng)
        let month = int(1...12, &rng)
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        return "\(padded(year, 4))-\(padded(month))-\(padded(int(1...days, &rng)))"
    }

    static func time(_ rng: inout RNG) -> String {
        "\(padded(int(0...23, &rng))):\(padded(int(0...59, &rng))):\(padded(int(0...59, &rng)))"
    }

    static func dateTime(_ rng: inout RNG) -> String {
        let zone = element(["Z", "+01:00", "-05:00", "+05:30"], &rng)
        let fraction = int(0...4, &rng) == 0 ? ".\(digits(3, &rng))" : ""
        return date(&rng, years: 2000...2030) + "T" + time(&rng) + fraction + zone
    }

    static func dateOrDateTime(_ rng: inout RNG) -> String {
        bool(&rng) ? date(&rng, years: 2000...2030) : dateTime(&rng)
    }

    static func id(_ rng: inout RNG) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.")
        return String((0..<int(1...36, &rng)).map { _ in element(alphabet, &rng) })
    }

    static func phone(_ rng: inout RNG) -> String {
        "+1-\(digits(3, &rng))-\(digits(3, &rng))-\(digits(4, &rng))"
    }

    static func email(_ rng: inout RNG) -> String {
        name(&rng).lowercased() + "@" + name(&rng).lowercased() + ".example"
    }

    /// Cents as a two-decimal string: `0.05`, `150.00`.
    static func money(cents: Int) -> String {
        "\(cents / 100).\(padded(cents % 100))"
    }
}

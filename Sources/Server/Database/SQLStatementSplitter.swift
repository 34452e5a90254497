import Foundation

/// Splits a migration file into single statements.
///
/// postgres-nio speaks only the extended query protocol, which takes one statement per query,
/// while migration files hold many. The splitter knows enough of PostgreSQL's lexical rules to
/// ignore semicolons inside quotes, quoted identifiers, dollar-quoted bodies (functions, DO
/// blocks) and comments.
enum SQLStatementSplitter {
    struct Statement: Sendable, Hashable {
        let text: String
        /// 1-based line of the file where the statement's first token (after any comment) is.
        let line: Int
    }

    static func statements(in sql: String) -> [Statement] {
        let characters = Array(sql.unicodeScalars)
        var statements: [Statement] = []
        var current = String.UnicodeScalarView()
        var hasContent = false {  // anything but whitespace and comments since the last split
            didSet { if hasContent && !oldValue { contentStart = index } }
        }
        var contentStart = 0
        var index = 0

        func append(_ range: Range<Int>) {
            current.append(contentsOf: characters[range])
        }
        func flush() {
            let text = String(current).trimmingCharacters(in: .whitespacesAndNewlines)
            if hasContent, !text.isEmpty {
                let line = 1 + characters[..<contentStart].reduce(0) { $0 + ($1 == "\n" ? 1 : 0) }
                statements.append(Statement(text: text, line: line))
            }
            current = String.UnicodeScalarView()
            hasContent = false
        }

        while index < characters.count {
            let character = characters[index]
            let next: Unicode.Scalar? = index + 1 < characters.count ? characters[index + 1] : nil
            switch character {
            case "-" where next == "-":
                var end = index
                while end < characters.count, characters[end] != "\n" { end += 1 }
                append(index..<end)
                index = end
            case "/" where next == "*":
                var depth = 0  // block comments nest in PostgreSQL
                var end = index
                while end < characters.count {
                    if characters[end] == "/", end + 1 < characters.count, characters[end + 1] == "*" {
                        depth += 1
                        end += 2
                    } else if characters[end] == "*", end + 1 < characters.count, characters[end + 1] == "/" {
                        depth -= 1
                        end += 2
                        if depth == 0 { break }
                    } else {
                        end += 1
                    }
                }
                append(index..<min(end, characters.count))
                index = end
            case "'", "\"":
                // '' and "" escape the quote; E'...' strings also allow \' .
                let isEscapeString =
                    character == "'" && index > 0 && (characters[index - 1] == "E" || characters[index - 1] == "e")
                var end = index + 1
                while end < characters.count {
                    if isEscapeString, characters[end] == "\\" {
                        end += 2
                        continue
                    }
                    if characters[end] == character {
                        if end + 1 < characters.count, characters[end + 1] == character {
                            end += 2
                            continue
                        }
                        break
                    }
                    end += 1
                }
                end = min(end + 1, characters.count)
                append(index..<end)
                hasContent = true
                index = end
            case "$":
                if let tagEnd = dollarTagEnd(characters, from: index) {
                    let tag = Array(characters[index...tagEnd])
                    var end = tagEnd + 1
                    while end < characters.count {
                        if characters[end] == "$", end + tag.count <= characters.count,
                            Array(characters[end..<(end + tag.count)]) == tag
                        {
                            end += tag.count
                            break
                        }
                        end += 1
                    }
                    end = min(end, characters.count)
                    append(index..<end)
                    hasContent = true
                    index = end
                } else {
                    append(index..<(index + 1))
                    hasContent = true
                    index += 1
                }
            case ";":
                flush()
                index += 1
            default:
                append(index..<(index + 1))
                if !character.properties.isWhitespace { hasContent = true }
                index += 1
            }
        }
        flush()
        return statements
    }

    /// The index of the closing `$` of a dollar-quote tag (`$$`, `$body$`) starting at `start`,
    /// or nil when this `$` is something else (a parameter such as `$1`, or part of an identifier).
    private static func dollarTagEnd(_ characters: [Unicode.Scalar], from start: Int) -> Int? {
        if start > 0 {
            let previous = characters[start - 1]
            if previous.properties.isAlphabetic || ("0"..."9").contains(previous) || previous == "_" { return nil }
        }
        var end = start + 1
        while end < characters.count {
            let character = characters[end]
            if character == "$" { return end }
            let isTagCharacter =
                character.properties.isAlphabetic || character == "_" || (end > start + 1 && ("0"..."9").contains(character))
            guard isTagCharacter else { return nil }
            end += 1
        }
        return nil
    }
}

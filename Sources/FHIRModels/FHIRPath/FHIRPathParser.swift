/// Recursive descent over the FHIRPath grammar, operator precedence as in the specification
/// (§ Operator precedence); constructs outside the subset throw `.unsupported`.
struct FHIRPathParser {
    private let tokens: [(token: FHIRPathLexer.Token, offset: Int)]
    private var position = 0

    static func parse(_ text: String) throws(FHIRPathError) -> FHIRPathNode {
        var parser = FHIRPathParser(tokens: try FHIRPathLexer.tokens(text))
        let node = try parser.expression()
        guard parser.current == .end else { throw .syntax("unexpected token at offset \(parser.offset)") }
        return node
    }

    private init(tokens: [(token: FHIRPathLexer.Token, offset: Int)]) {
        self.tokens = tokens
    }

    private var current: FHIRPathLexer.Token { tokens[position].token }
    private var offset: Int { tokens[position].offset }
    private var next: FHIRPathLexer.Token { tokens[min(position + 1, tokens.count - 1)].token }

    private func isKeyword(_ word: String) -> Bool {
        current == .identifier(word, delimited: false)
    }

    private func isSymbol(_ symbol: String) -> Bool {
        current == .symbol(symbol)
    }

    private mutating func expect(_ symbol: String) throws(FHIRPathError) {
        guard isSymbol(symbol) else { throw .syntax("expected '\(symbol)' at offset \(offset)") }
        position += 1
    }

    private mutating func expression() throws(FHIRPathError) -> FHIRPathNode {
        var left = try orExpression()
        while isKeyword("implies") {
            position += 1
            left = .binary(.implies, left, try orExpression())
        }
        return left
    }

    private mutating func orExpression() throws(FHIRPathError) -> FHIRPathNode {
        var left = try andExpression()
        while isKeyword("or") || isKeyword("xor") {
            let op: FHIRPathNode.BinaryOperator = isKeyword("or") ? .or : .xor
            position += 1
            left = .binary(op, left, try andExpression())
        }
        return left
    }

    private mutating func andExpression() throws(FHIRPathError) -> FHIRPathNode {
        var left = try membership()
        while isKeyword("and") {
            position += 1
            left = .binary(.and, left, try membership())
        }
        return left
    }

    private mutating func membership() throws(FHIRPathError) -> FHIRPathNode {
        let left = try equality()
        if isKeyword("in") || isKeyword("contains") { throw .unsupported("membership operator at offset \(offset)") }
        return left
    }

    private mutating func equality() throws(FHIRPathError) -> FHIRPathNode {
        var left = try inequality()
        while true {
            if isSymbol("=") || isSymbol("!=") {
                let op: FHIRPathNode.BinaryOperator = isSymbol("=") ? .equals : .notEquals
                position += 1
                left = .binary(op, left, try inequality())
            } else if isSymbol("~") || isSymbol("!~") {
                throw .unsupported("equivalence operator at offset \(offset)")
            } else {
                return left
            }
        }
    }

    private mutating func inequality() throws(FHIRPathError) -> FHIRPathNode {
        let left = try union()
        if isSymbol("<") || isSymbol(">") || isSymbol("<=") || isSymbol(">=") {
            throw .unsupported("comparison operator at offset \(offset)")
        }
        return left
    }

    private mutating func union() throws(FHIRPathError) -> FHIRPathNode {
        var left = try typeExpression()
        while isSymbol("|") {
            position += 1
            left = .binary(.union, left, try typeExpression())
        }
        return left
    }

    private mutating func typeExpression() throws(FHIRPathError) -> FHIRPathNode {
        var left = try additive()
        while isKeyword("is") || isKeyword("as") {
            let operation: FHIRPathNode.TypeOperation = isKeyword("is") ? .is : .as
            position += 1
            left = .typeTest(base: left, operation: operation, type: try typeSpecifier())
        }
        return left
    }

    private mutating func additive() throws(FHIRPathError) -> FHIRPathNode {
        let left = try multiplicative()
        if isSymbol("+") || isSymbol("-") || isSymbol("&") { throw .unsupported("arithmetic at offset \(offset)") }
        return left
    }

    private mutating func multiplicative() throws(FHIRPathError) -> FHIRPathNode {
        let left = try unary()
        if isSymbol("*") || isSymbol("/") || isKeyword("div") || isKeyword("mod") {
            throw .unsupported("arithmetic at offset \(offset)")
        }
        return left
    }

    private mutating func unary() throws(FHIRPathError) -> FHIRPathNode {
        if isSymbol("+") || isSymbol("-") { throw .unsupported("unary sign at offset \(offset)") }
        return try invocations()
    }

    /// A term followed by `.member`, `.function(...)` and `[index]`.
    private mutating func invocations() throws(FHIRPathError) -> FHIRPathNode {
        var node = try term()
        while true {
            if isSymbol(".") {
                position += 1
                node = try invocation(base: node)
            } else if isSymbol("[") {
                position += 1
                let index = try expression()
                try expect("]")
                node = .index(base: node, index: index)
            } else {
                return node
            }
        }
    }

    private mutating func term() throws(FHIRPathError) -> FHIRPathNode {
        switch current {
        case .string(let value):
            position += 1
            return .literal([FHIRPathValue(node: .string(value), typeName: "System.String")])
        case .number(let lexical):
            position += 1
            if case .string = current { throw .unsupported("quantity literal at offset \(offset)") }
            if case .identifier(let unit, false) = current, Self.calendarUnits.contains(unit) {
                throw .unsupported("quantity literal at offset \(offset)")
            }
            return .literal([FHIRPathValue(node: .number(lexical), typeName: lexical.contains(".") ? "System.Decimal" : "System.Integer")])
        case .dateTime:
            throw .unsupported("date/time literal at offset \(offset)")
        case .constant(let name):
            guard ["resource", "context", "rootResource"].contains(name) else {
                throw .unsupported("environment variable at offset \(offset)")
            }
            position += 1
            return .resource
        case .variable(let name):
            guard name == "$this" else { throw .unsupported("variable at offset \(offset)") }
            position += 1
            return .this
        case .symbol("("):
            position += 1
            let inner = try expression()
            try expect(")")
            return inner
        case .symbol("{"):
            position += 1
            try expect("}")
            return .literal([])
        case .identifier(let name, let delimited):
            if !delimited, name == "true" || name == "false" {
                position += 1
                return .literal([.boolean(name == "true")])
            }
            return try invocation(base: nil)
        case .end:
            throw .syntax("unexpected end of expression")
        default:
            throw .syntax("unexpected token at offset \(offset)")
        }
    }

    private static let calendarUnits: Set<String> = [
        "year", "years", "month", "months", "week", "weeks", "day", "days",
        "hour", "hours", "minute", "minutes", "second", "seconds", "millisecond", "milliseconds",
    ]

    /// A member name or a function call, applied to `base` (or to the context when `nil`).
    private mutating func invocation(base: FHIRPathNode?) throws(FHIRPathError) -> FHIRPathNode {
        guard case .identifier(let name, let delimited) = current else {
            throw .syntax("expected a name at offset \(offset)")
        }
        let nameOffset = offset
        position += 1
        guard !delimited, isSymbol("(") else { return .member(base: base, name: name) }
        position += 1
        switch name {
        case "ofType", "as", "is":
            let type = try typeSpecifier()
            try expect(")")
            let operation: FHIRPathNode.TypeOperation = name == "ofType" ? .ofType : name == "as" ? .as : .is
            return .typeTest(base: base, operation: operation, type: type)
        default:
            break
        }
        guard let function = FHIRPathNode.Function(rawValue: name) else {
            throw .unsupported("function '\(name)' at offset \(nameOffset)")
        }
        var arguments: [FHIRPathNode] = []
        if !isSymbol(")") {
            arguments.append(try expression())
            while isSymbol(",") {
                position += 1
                arguments.append(try expression())
            }
        }
        try expect(")")
        let arity: ClosedRange<Int> = switch function {
        case .where, .extension: 1...1
        case .exists: 0...1
        default: 0...0
        }
        guard arity.contains(arguments.count) else {
            throw .syntax("wrong number of arguments to '\(name)' at offset \(nameOffset)")
        }
        return .function(base: base, function: function, arguments: arguments)
    }

    /// `Quantity`, `FHIR.Patient`, `System.String`, ``FHIR.`Patient` ``.
    private mutating func typeSpecifier() throws(FHIRPathError) -> String {
        guard case .identifier(var name, _) = current else { throw .syntax("expected a type name at offset \(offset)") }
        position += 1
        if name == "FHIR" || name == "System", isSymbol("."), case .identifier(let second, _) = next {
            position += 2
            name += "." + second
        }
        guard FHIRPathTypes.isKnown(FHIRPathTypes.canonical(name)) else {
            throw .evaluation("unknown type at offset \(tokens[position - 1].offset)")
        }
        return name
    }
}

import FHIRModels
import Foundation

/// Parses FHIR search parameters (R4 3.1.1) into a `SearchQuery`, using the official parameter
/// definitions. Bad values are 400 with an OperationOutcome; unknown or unsupported parameters
/// are ignored and listed (`SearchQuery.ignored`), or 400 under `Prefer: handling=strict`.
/// Values are never spliced into SQL: they become typed conditions, bound later.
struct SearchQueryParser {
    /// Our own base URL: absolute references to it are local references.
    var baseURL: String
    var strict: Bool
    var defaultCount = 50
    var maxCount: Int
    /// For `ap`: "now" decides how wide an approximate date is.
    var now = Date()
    /// Where email and phone are sealed, how to hash their values for the blind index.
    var sealedContact: SealedContactSearch? = nil

    /// Parameters that shape the result rather than filter it.
    static let resultParameters: Set<String> = [
        "_sort", "_count", "_total", "_summary", "_elements", "_include", "_revinclude", "_cursor",
        "_format", "_pretty", "_type", "_contained", "_containedType",
    ]
    /// How deep chains may go (`a.b.c` is two levels).
    static let maxChainDepth = 2

    /// `types` empty means a system search without `_type`.
    func parse(types: [String], items: [(key: String, value: String)]) throws -> SearchQuery {
        var query = SearchQuery(targets: types.map { SearchQuery.Target(type: $0, conditions: []) }, count: defaultCount)
        query.anyType = types.isEmpty
        var sortText: String? = nil
        var cursorText: String? = nil
        for (key, value) in items {
            // PostgreSQL text cannot hold NUL; no FHIR value contains one.
            guard !key.contains("\u{0}"), !value.contains("\u{0}") else {
                throw bad("a search parameter contains a NUL character", key.replacingOccurrences(of: "\u{0}", with: ""))
            }
            let base = key.split(separator: ":", maxSplits: 1).first.map(String.init) ?? key
            switch base {
            case "_format", "_pretty", "_type", "_contained", "_containedType": continue
            case "_count":
                guard let count = Int(value), count >= 0 else { throw bad("_count must be a non-negative integer", key) }
                query.count = min(count, maxCount)
            case "_total":
                guard let total = SearchQuery.Total(rawValue: value) else { throw bad("_total must be none, estimate or accurate", key) }
                query.total = total
            case "_summary":
                guard let summary = SearchQuery.Summary(rawValue: value) else {
                    throw bad("_summary must be true, text, data, count or false", key)
                }
                query.summary = summary == .false ? nil : summary
            case "_elements":
                let names = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                guard !names.isEmpty, names.allSatisfy(Self.isElementName) else { throw bad("_elements must list element names", key) }
                query.elements = (query.elements ?? []) + names
            case "_sort":
                sortText = value
            case "_cursor":
                cursorText = value
            case "_include", "_revinclude":
                let iterate = key.hasSuffix(":iterate") || key.hasSuffix(":recurse")
                guard key == base || iterate else { throw bad("\(base) supports only the :iterate modifier", key) }
                for text in value.split(separator: ",").map(String.init) {
                    guard let include = try include(text, reverse: base == "_revinclude", iterate: iterate, types: types, key: key)
                    else { continue }
                    if base == "_include" { query.includes.append(include) } else { query.revincludes.append(include) }
                }
            case "_id", "_lastUpdated":
                guard let condition = try commonCondition(key: key, value: value) else {
                    try ignore(key, &query)
                    continue
                }
                query.common.append(condition)
            default:
                if types.isEmpty {
                    throw bad("a system search without _type supports only _id and _lastUpdated", key)
                }
                var understood = true
                for index in query.targets.indices {
                    if let condition = try condition(key: key, value: value, type: query.targets[index].type, depth: 0) {
                        query.targets[index].conditions.append(condition)
                    } else {
                        understood = false
                    }
                }
                if !understood {
                    // A parameter some of several `_type`s lack makes those types match nothing;
                    // one no searched type has is ignored.
                    let known = query.targets.indices.filter { definition(key, query.targets[$0].type) != nil }
                    if known.isEmpty {
                        try ignore(key, &query)
                    } else {
                        for index in query.targets.indices where !known.contains(index) {
                            query.targets[index].conditions.append(.none)
                        }
                    }
                }
            }
        }
        for index in query.targets.indices {
            query.targets[index].conditions = Self.mergingDateRanges(query.targets[index].conditions)
        }
        if let sortText { query.sort = try sortKeys(sortText, types: types) }
        if let cursorText {
            guard let cursor = SearchCursor(token: cursorText, sortKeys: query.sort.count) else {
                throw bad("_cursor is not a cursor this server issued for this search", "_cursor")
            }
            query.cursor = cursor
        }
        return query
    }

    /// `date=ge2015&date=lt2016` as one range on one index row. For a parameter with one value
    /// per resource (most dates) that is the same as testing each row on its own; for a
    /// multi-valued one it asks one value to satisfy both (HAPI FHIR does the same).
    static func mergingDateRanges(_ conditions: [SearchCondition]) -> [SearchCondition] {
        var singles: [Int64: [SearchCondition.DateTest]] = [:]
        for case .date(let param, let tests) in conditions where tests.count == 1 && tests[0].prefix != .ne {
            singles[param, default: []].append(tests[0])
        }
        let merged = singles.filter { $0.value.count > 1 }
        guard !merged.isEmpty else { return conditions }
        var result: [SearchCondition] = []
        var emitted = Set<Int64>()
        for condition in conditions {
            if case .date(let param, let tests) = condition, tests.count == 1, let all = merged[param], tests[0].prefix != .ne {
                if emitted.insert(param).inserted { result.append(.dateRange(param: param, all)) }
                continue
            }
            result.append(condition)
        }
        return result
    }

    /// The definition a key (without modifier or chain) names for a type.
    private func definition(_ key: String, _ type: String) -> SearchParameterDefinition? {
        let code = key.split(separator: ".", maxSplits: 1).first.flatMap { $0.split(separator: ":").first }.map(String.init) ?? key
        return SearchParameterDefinitions.byCode(for: type)[code]
    }

    private func ignore(_ key: String, _ query: inout SearchQuery) throws {
        if strict {
            throw SearchQueryError(.notSupported, "unknown or unsupported search parameter", parameter: key)
        }
        query.ignored.append(String(key.prefix(64)))
    }

    func bad(_ message: String, _ key: String) -> SearchQueryError {
        SearchQueryError(.invalid, message, parameter: key)
    }

    // MARK: - Conditions

    private func commonCondition(key: String, value: String) throws -> SearchCondition? {
        let parts = key.split(separator: ":", maxSplits: 1).map(String.init)
        let modifier = parts.count > 1 ? parts[1] : nil
        switch parts[0] {
        case "_id":
            guard modifier == nil || modifier == "not" else { return nil }
            let ids = Self.splitValues(value).map(Self.unescape)
            guard !ids.isEmpty, ids.allSatisfy(FHIRRequest.isValidID) else { throw bad("_id must list FHIR ids", key) }
            return .ids(ids, negated: modifier == "not")
        case "_lastUpdated":
            guard modifier == nil else { return nil }
            return .lastUpdated(try Self.splitValues(value).map { try dateTest($0, key: key) })
        default:
            return nil
        }
    }

    /// The condition for `key=value` on `type`; nil when the parameter is unknown for the type.
    func condition(key: String, value: String, type: String, depth: Int) throws -> SearchCondition? {
        if key.hasPrefix("_has:") { return try reverseChain(key: key, value: value, type: type, depth: depth) }
        if key == "_id" || key.hasPrefix("_id:") || key == "_lastUpdated" {
            return try commonCondition(key: key, value: value)
        }
        // A chain: `param[:Type].rest`.
        if let dot = key.firstIndex(of: ".") {
            return try chain(head: String(key[..<dot]), rest: String(key[key.index(after: dot)...]), value: value, type: type, depth: depth)
        }
        let parts = key.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let code = parts[0]
        let modifier = parts.count > 1 ? parts[1] : nil
        if code == "email" || code == "phone", let sealedContact, sealedContact.isSealed(type: type) {
            // Sealed: only exact matches, through the blind index (docs/security.md).
            guard modifier == nil else { throw unsupportedModifier(key) }
            let values = Self.splitValues(value).map(Self.unescape).filter { !$0.isEmpty }
            guard !values.isEmpty else { throw bad("the parameter needs a value", key) }
            return .blind(param: code, hashes: values.map { sealedContact.hash(param: code, value: $0) })
        }
        guard let definition = SearchParameterDefinitions.byCode(for: type)[code] else { return nil }
        let param = SearchIndexKey.param(type: type, code: code)
        if modifier == "missing" {
            guard value == "true" || value == "false" else { throw bad(":missing must be true or false", key) }
            guard let table = Self.table(for: definition.kind) else { return nil }
            var rows = [SearchCondition.IndexRows(table: table, param: param)]
            if definition.kind == .reference {
                // A logical reference (identifier only) is a value too.
                rows.append(.init(table: "search_token", param: SearchIndexKey.param(type: type, code: code + ":identifier")))
            }
            return .missing(rows, missing: value == "true")
        }
        let values = Self.splitValues(value)
        guard !values.isEmpty, !values.contains(where: \.isEmpty) else { throw bad("the parameter needs a value", key) }
        switch definition.kind {
        case .token:
            return try token(code: code, modifier: modifier, values: values, type: type, key: key)
        case .string:
            let kind: SearchCondition.StringMatch.Kind
            switch modifier {
            case nil: kind = .startsWith
            case "exact": kind = .exact
            case "contains": kind = .contains
            default: throw unsupportedModifier(key)
            }
            return .string(param: param, values.map { raw in
                let text = Self.unescape(raw)
                return .init(kind: kind, value: kind == .exact ? text : SearchIndexValue.normalizedString(text))
            })
        case .date:
            guard modifier == nil else { throw unsupportedModifier(key) }
            return .date(param: param, try values.map { try dateTest($0, key: key) })
        case .number:
            guard modifier == nil else { throw unsupportedModifier(key) }
            return .number(param: param, try values.map { try numberTest(Self.unescape($0), key: key) })
        case .quantity:
            guard modifier == nil else { throw unsupportedModifier(key) }
            return .quantity(param: param, try values.map { try quantityTest($0, key: key) })
        case .reference:
            return try reference(code: code, definition: definition, modifier: modifier, values: values, type: type, key: key)
        case .uri:
            let kind: SearchCondition.URIMatch.Kind
            switch modifier {
            case nil: kind = .exact
            case "below": kind = .below
            case "above": kind = .above
            default: throw unsupportedModifier(key)
            }
            return .uri(param: param, values.map { .init(kind: kind, value: Self.unescape($0)) })
        case .composite, .special:
            return nil
        }
    }

    private func unsupportedModifier(_ key: String) -> SearchQueryError {
        SearchQueryError(.notSupported, "this modifier is not supported for this parameter", parameter: key)
    }

    static func table(for kind: SearchParameterDefinition.Kind) -> String? {
        switch kind {
        case .token: "search_token"
        case .string: "search_string"
        case .date: "search_date"
        case .reference: "search_reference"
        case .number: "search_number"
        case .quantity: "search_quantity"
        case .uri: "search_uri"
        case .composite, .special: nil
        }
    }

    private func token(code: String, modifier: String?, values: [String], type: String, key: String) throws -> SearchCondition {
        switch modifier {
        case nil, "not":
            var hashes = SearchCondition.TokenHashes(param: SearchIndexKey.param(type: type, code: code))
            for raw in values {
                let parts = Self.split(raw, on: "|")
                switch parts.count {
                case 1:
                    hashes.codes.append(SearchTokenHash.code(type: type, param: code, code: Self.unescape(parts[0])))
                case 2:
                    let system = Self.unescape(parts[0]), value = Self.unescape(parts[1])
                    if value.isEmpty {
                        guard !system.isEmpty else { throw bad("a token needs a system or a code", key) }
                        hashes.systems.append(SearchTokenHash.system(type: type, param: code, system: system))
                    } else {
                        hashes.systemCodes.append(SearchTokenHash.systemCode(type: type, param: code, system: system, code: value))
                    }
                default:
                    throw bad("a token is [system|]code", key)
                }
            }
            return .token(hashes, negated: modifier == "not")
        case "text":
            return .string(param: SearchIndexKey.param(type: type, code: code + ":text"), values.map {
                .init(kind: .startsWith, value: SearchIndexValue.normalizedString(Self.unescape($0)))
            })
        case "of-type":
            guard code == "identifier" else { throw unsupportedModifier(key) }
            var hashes = SearchCondition.TokenHashes(param: SearchIndexKey.param(type: type, code: "identifier:of-type"))
            for raw in values {
                let parts = Self.split(raw, on: "|").map(Self.unescape)
                guard parts.count == 3, !parts[1].isEmpty, !parts[2].isEmpty else {
                    throw bad(":of-type values are system|code|value", key)
                }
                hashes.systemCodes.append(SearchTokenHash.systemCode(
                    type: type, param: "identifier:of-type", system: parts[0], code: parts[1] + "|" + parts[2]))
            }
            return .token(hashes, negated: false)
        default:
            throw unsupportedModifier(key)
        }
    }

    private func reference(
        code: String, definition: SearchParameterDefinition, modifier: String?, values: [String], type: String, key: String
    ) throws -> SearchCondition {
        let param = SearchIndexKey.param(type: type, code: code)
        var modifierType: String? = nil
        switch modifier {
        case nil: break
        case "identifier":
            var hashes = SearchCondition.TokenHashes(param: SearchIndexKey.param(type: type, code: code + ":identifier"))
            let tokenParam = code + ":identifier"
            for raw in values {
                let parts = Self.split(raw, on: "|").map(Self.unescape)
                switch parts.count {
                case 1: hashes.codes.append(SearchTokenHash.code(type: type, param: tokenParam, code: parts[0]))
                case 2 where !parts[1].isEmpty:
                    hashes.systemCodes.append(SearchTokenHash.systemCode(type: type, param: tokenParam, system: parts[0], code: parts[1]))
                default: throw bad(":identifier values are [system|]value", key)
                }
            }
            return .token(hashes, negated: false)
        case let name? where FHIRMetadata.resource(named: name) != nil:
            guard definition.targets.isEmpty || definition.targets.contains(name) else {
                throw bad("this reference parameter cannot point to that type", key)
            }
            modifierType = name
        default:
            throw unsupportedModifier(key)
        }
        var targets: [SearchCondition.ReferenceTarget] = []
        for raw in values {
            let text = Self.unescape(raw)
            targets.append(try referenceTarget(text, allowed: modifierType.map { [$0] } ?? definition.targets, key: key))
        }
        return .reference(param: param, targets)
    }

    /// `Type/id`, `id`, our own absolute URL, or any other URL (matched as written). The
    /// `Type/id` form is read by `ResourceReference`, the one reference parser.
    func referenceTarget(_ text: String, allowed: [String], key: String) throws -> SearchCondition.ReferenceTarget {
        var local = text
        if text.contains(":") {
            let base = baseURL.hasSuffix("/") ? baseURL : baseURL + "/"
            guard text.hasPrefix(base) else { return .init(types: [], id: nil, url: text) }
            local = String(text.dropFirst(base.count))
        }
        if !local.contains("/") {
            guard FHIRRequest.isValidID(local) else { throw bad("a reference is Type/id or an id", key) }
            return .init(types: allowed, id: local, url: nil)
        }
        let reference = ResourceReference(local)
        guard let target = reference.target, !reference.isAbsolute else {
            // Our own base followed by something that is not Type/id names nothing here.
            if text.contains(":"), local.split(separator: "/").count != 2 { return .init(types: [], id: nil, url: text) }
            throw bad("a reference is Type/id or an id", key)
        }
        guard allowed.isEmpty || allowed.contains(target.type) else { return .init(types: [], id: nil, url: nil) }
        return .init(types: [target.type], id: target.id, url: text.contains(":") ? text : nil)
    }

    private func chain(head: String, rest: String, value: String, type: String, depth: Int) throws -> SearchCondition? {
        let key = head + "." + rest
        guard depth < Self.maxChainDepth else { throw bad("chains may be at most \(Self.maxChainDepth) levels deep", key) }
        // Empty pieces kept: a key such as `.x` (found by schemathesis) has an empty head, and
        // `parts[0]` must exist (it names no parameter: unknown).
        let parts = head.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let definition = SearchParameterDefinitions.byCode(for: type)[parts[0]] else { return nil }
        guard definition.kind == .reference else { throw bad("only reference parameters can be chained", key) }
        var candidates = definition.targets
        if parts.count > 1 {
            guard FHIRMetadata.resource(named: parts[1]) != nil, candidates.isEmpty || candidates.contains(parts[1]) else {
                throw bad("this reference parameter cannot point to that type", key)
            }
            candidates = [parts[1]]
        }
        var targets: [SearchCondition.ChainTarget] = []
        for target in candidates {
            if let condition = try condition(key: rest, value: value, type: target, depth: depth + 1) {
                targets.append(SearchCondition.ChainTarget(type: target, condition: condition))
            }
        }
        guard !targets.isEmpty else {
            throw bad("no type this reference can point to has the chained parameter", key)
        }
        return .chain(param: SearchIndexKey.param(type: type, code: parts[0]), targets: targets)
    }

    /// `_has:SourceType:referenceParam:rest=value`.
    private func reverseChain(key: String, value: String, type: String, depth: Int) throws -> SearchCondition? {
        let parts = key.split(separator: ":", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4, FHIRMetadata.resource(named: parts[1]) != nil else {
            throw bad("_has is _has:Type:referenceParameter:parameter", key)
        }
        guard depth < Self.maxChainDepth else { throw bad("_has may be nested at most \(Self.maxChainDepth) levels", key) }
        let source = parts[1], referenceCode = parts[2]
        guard let definition = SearchParameterDefinitions.byCode(for: source)[referenceCode], definition.kind == .reference else {
            throw bad("_has needs a reference parameter of the source type", key)
        }
        guard definition.targets.isEmpty || definition.targets.contains(type) else {
            throw bad("that reference parameter cannot point to this type", key)
        }
        guard let inner = try condition(key: parts[3], value: value, type: source, depth: depth + 1) else {
            throw bad("_has names a parameter the source type does not have", key)
        }
        return .reverseChain(sourceType: source, param: SearchIndexKey.param(type: source, code: referenceCode), condition: inner)
    }

    // MARK: - Values

    /// `[prefix]date`: the prefix (default eq) and the span the date covers.
    func dateTest(_ raw: String, key: String) throws -> SearchCondition.DateTest {
        let (prefix, text) = try Self.prefixed(Self.unescape(raw), key: key, bad: bad)
        guard let range = SearchIndexValue.dateRange(text) else {
            throw bad("a date must be a FHIR date or dateTime, optionally after a prefix such as ge", key)
        }
        guard prefix == .ap else { return .init(prefix: prefix, low: range.low, high: range.high) }
        // Approximately: 10% of the distance from now, either side (R4 3.1.1.4.6).
        let distance = abs(now.timeIntervalSince(range.low)) * 0.1
        return .init(prefix: .ap, low: range.low.addingTimeInterval(-distance), high: range.high.addingTimeInterval(distance))
    }

    func numberTest(_ raw: String, key: String) throws -> SearchCondition.NumberTest {
        let (prefix, text) = try Self.prefixed(raw, key: key, bad: bad)
        guard let value = Self.decimal(text) else { throw bad("a number must be a decimal, optionally after a prefix", key) }
        // The implied precision: half a unit of the last digit given.
        let mantissa = text.lowercased().split(separator: "e", maxSplits: 1).first.map(String.init) ?? text
        let decimals = mantissa.split(separator: ".", maxSplits: 1).dropFirst().first?.count ?? 0
        var exponent = 0
        if let e = text.lowercased().split(separator: "e", maxSplits: 1).dropFirst().first, let power = Int(e) { exponent = power }
        var half = Decimal(sign: .plus, exponent: exponent - decimals, significand: 5) / 10
        if prefix == .ap { half = max(half, abs(value) * Decimal(string: "0.1")!) }
        return .init(prefix: prefix, value: value, low: value - half, high: value + half)
    }

    /// `[prefix]number|system|code`, `[prefix]number||code` or `[prefix]number`.
    func quantityTest(_ raw: String, key: String) throws -> SearchCondition.QuantityTest {
        let parts = Self.split(raw, on: "|").map(Self.unescape)
        guard parts.count == 1 || parts.count == 3 else { throw bad("a quantity is [prefix]number[|system|code]", key) }
        let number = try numberTest(parts[0], key: key)
        guard parts.count == 3 else { return .init(number: number, system: nil, code: nil) }
        return .init(number: number, system: parts[1].isEmpty ? nil : parts[1], code: parts[2].isEmpty ? nil : parts[2])
    }

    /// A FHIR decimal, optionally with an exponent: `-1.5`, `2e3`; not `1e`, `.5` or `1.`.
    static func decimal(_ text: String) -> Decimal? {
        guard text.wholeMatch(of: /[+-]?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/) != nil,
              let value = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")) else { return nil }
        return value
    }

    /// Splits a two-letter prefix off a value. A value starting with letters that are not a
    /// prefix is an error (`xx1970`).
    static func prefixed(
        _ text: String, key: String, bad: (String, String) -> SearchQueryError
    ) throws -> (SearchCondition.Prefix, String) {
        guard let first = text.unicodeScalars.first, CharacterSet.letters.contains(first) else { return (.eq, text) }
        guard text.count > 2, let prefix = SearchCondition.Prefix(rawValue: String(text.prefix(2))) else {
            throw bad("unknown prefix: use eq, ne, gt, lt, ge, le, sa, eb or ap", key)
        }
        return (prefix, String(text.dropFirst(2)))
    }

    // MARK: - Result parameters

    private func include(
        _ text: String, reverse: Bool, iterate: Bool, types: [String], key: String
    ) throws -> SearchQuery.Include? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard (2...3).contains(parts.count), FHIRMetadata.resource(named: parts[0]) != nil else {
            throw bad("\(reverse ? "_revinclude" : "_include") is SourceType:parameter[:TargetType]", key)
        }
        guard let definition = SearchParameterDefinitions.byCode(for: parts[0])[parts[1]], definition.kind == .reference else {
            throw bad("\(reverse ? "_revinclude" : "_include") needs a reference parameter of the source type", key)
        }
        let target = parts.count == 3 ? parts[2] : nil
        if let target {
            guard FHIRMetadata.resource(named: target) != nil else { throw bad("unknown target type", key) }
        }
        return SearchQuery.Include(
            sourceType: parts[0], paramCode: parts[1], param: SearchIndexKey.param(type: parts[0], code: parts[1]),
            targetType: target, iterate: iterate, text: text)
    }

    private func sortKeys(_ text: String, types: [String]) throws -> [SearchQuery.SortKey] {
        var keys: [SearchQuery.SortKey] = []
        for item in text.split(separator: ",").map(String.init) {
            let descending = item.hasPrefix("-")
            let code = descending ? String(item.dropFirst()) : item
            switch code {
            case "_lastUpdated": keys.append(.init(code: code, source: .lastUpdated, descending: descending))
            case "_id": keys.append(.init(code: code, source: .id, descending: descending))
            default:
                guard !types.isEmpty else { throw bad("a system search without _type sorts only by _id or _lastUpdated", "_sort") }
                var table: (String, String, String)? = nil
                var params: [Int64] = []
                for type in types {
                    guard let definition = SearchParameterDefinitions.byCode(for: type)[code], definition.expression != nil else { continue }
                    let columns: (String, String, String)?
                    switch definition.kind {
                    case .date: columns = ("search_date", "low", "high")
                    case .string: columns = ("search_string", "normalized", "normalized")
                    case .number: columns = ("search_number", "value", "value")
                    case .quantity: columns = ("search_quantity", "value", "value")
                    case .uri: columns = ("search_uri", "value", "value")
                    case .token: columns = ("search_token", "value", "value")
                    case .reference: columns = ("search_reference", "target_id", "target_id")
                    default: columns = nil
                    }
                    guard let columns, table == nil || table! == columns else {
                        throw SearchQueryError(
                            .notSupported,
                            "_sort supports parameters of type date, string, number, quantity, uri, token and reference (one type per key), _id and _lastUpdated",
                            parameter: "_sort")
                    }
                    table = columns
                    params.append(SearchIndexKey.param(type: type, code: code))
                }
                guard let table else {
                    throw SearchQueryError(.notSupported, "_sort names an unknown parameter", parameter: "_sort")
                }
                keys.append(.init(
                    code: code, source: .index(table: table.0, ascendingColumn: table.1, descendingColumn: table.2, params: params),
                    descending: descending))
            }
        }
        guard !keys.isEmpty, keys.count <= 4 else { throw bad("_sort takes one to four keys", "_sort") }
        return keys
    }

    static func isElementName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64 && name.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || $0 == "_" }
    }

    // MARK: - Escaping (R4 3.1.1.5.4: `\,` `\|` `\$` `\\`)

    static func splitValues(_ text: String) -> [String] { split(text, on: ",") }

    /// Splits on unescaped `separator`, keeping escapes for `unescape`.
    static func split(_ text: String, on separator: Character) -> [String] {
        var parts: [String] = []
        var current = ""
        var escaped = false
        for character in text {
            if escaped {
                current.append("\\")
                current.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == separator {
                parts.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        if escaped { current.append("\\") }
        parts.append(current)
        return parts
    }

    static func unescape(_ text: String) -> String {
        guard text.contains("\\") else { return text }
        var result = ""
        var escaped = false
        for character in text {
            if escaped {
                result.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else {
                result.append(character)
            }
        }
        if escaped { result.append("\\") }
        return result
    }
}

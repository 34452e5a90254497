import FHIRModels
import Foundation
import PostgresNIO

/// Compiles a `SearchQuery` to SQL over the index tables of migration 0004. Each AND-ed
/// condition is one semi-join (`resource_key IN (SELECT …)`) against an index range on
/// `(param, value)`, values OR-ed inside; chains and `_has` nest the same way through
/// `search_reference`. Every value is a bound parameter: nothing from the request is spliced
/// into the SQL text.
struct SearchSQL {
    private var parameters = SQLParameters()
    private var aliasCount = 0

    /// The values bound so far, in placeholder order.
    var bindings: PostgresBindings { parameters.bindings }

    /// The selected columns of a resource row, as `StoredRow` decodes them.
    static let columns =
        "r.resource_key, r.type, r.id, r.version_id, r.last_updated, r.content::text, r.sealed, r.key_id"

    /// Selected after `columns` by the page and include statements: the resource's compartment,
    /// from the `resource_patient` rows written with it (NULL for rows an older extraction wrote,
    /// whose access is decided by parsing them), so that `AuditedAccess` decides each result
    /// without parsing it. Sort values, when any, follow it.
    static let compartmentColumn = AccessIndex.currentCompartmentSQL(of: "r", patients: AccessIndex.patientsSQL(of: "r"))

    /// The columns of a result row: `columns`, then `compartmentColumn`.
    static let resultColumns = "\(columns), \(compartmentColumn)"

    mutating func bind<Value: PostgresNonThrowingEncodable>(_ value: Value) -> String {
        parameters.bind(value)
    }

    private mutating func alias(_ prefix: String) -> String {
        aliasCount += 1
        return "\(prefix)\(aliasCount)"
    }

    // MARK: - Statements

    /// `WHERE` text selecting the query's matches among current resources `r`.
    mutating func whereClause(_ query: SearchQuery) -> String {
        var parts = ["NOT r.deleted"]
        if !query.anyType {
            let perType = query.targets.map { target -> String in
                let conditions = target.conditions.map { condition($0, alias: "r") }
                var terms: [String] = ["r.type = \(bind(target.type))"]
                terms.append(contentsOf: conditions)
                return "(\(terms.joined(separator: " AND ")))"
            }
            parts.append(perType.count == 1 ? perType[0] : "(" + perType.joined(separator: " OR ") + ")")
        }
        parts += query.common.map { condition($0, alias: "r") }
        return parts.joined(separator: " AND ")
    }

    /// A condition whose index returns matches in `resource_key` order (an equality on a key
    /// that has `resource_key` next in the index): with the default order, the page is read
    /// straight off that index and stops after `count + 1` rows, however many resources match.
    private enum Driver {
        case token(column: String, hash: Int64)
        case reference(param: Int64, id: String, types: [String])
        case compartment(patient: String)
    }

    private static func driver(for query: SearchQuery) -> (driver: Driver, target: Int?, index: Int)? {
        for (index, condition) in query.common.enumerated() {
            if case .compartment(let patients) = condition, patients.count == 1 { return (.compartment(patient: patients[0]), nil, index) }
        }
        guard query.targets.count == 1 else { return nil }
        // A bounded date range or a string prefix is usually narrower than a code: leave the
        // choice to the planner then.
        let narrower = query.targets[0].conditions.contains { condition in
            switch condition {
            case .dateRange, .string, .tokenDate: return true
            case .date(_, let tests): return tests.allSatisfy { $0.prefix == .eq }
            default: return false
            }
        }
        var best: (driver: Driver, target: Int?, index: Int)? = nil
        for (index, condition) in query.targets[0].conditions.enumerated() {
            switch condition {
            case .reference(_, let targets) where targets.count == 1 && targets[0].id != nil && targets[0].url == nil:
                if case .reference(let param, _) = condition {
                    return (.reference(param: param, id: targets[0].id!, types: targets[0].types), 0, index)
                }
            case .token(let hashes, false) where best == nil && !narrower:
                let all = hashes.codes.map { ("code", $0) } + hashes.systemCodes.map { ("system_code", $0) }
                    + hashes.systems.map { ("system", $0) }
                if all.count == 1 { best = (.token(column: all[0].0, hash: all[0].1), 0, index) }
            case .compartment(let patients) where patients.count == 1:
                return (.compartment(patient: patients[0]), 0, index)
            default:
                continue
            }
        }
        return best
    }

    /// The page read in key order off a driver's index (see `Driver`).
    private mutating func drivenPageStatement(_ query: SearchQuery, driver: Driver, target: Int?, index: Int) -> String {
        var rest = query
        if let target { rest.targets[target].conditions.remove(at: index) } else { rest.common.remove(at: index) }
        let filter = whereClause(rest)
        let source: String
        switch driver {
        case .token(let column, let hash):
            source = "search_token d WHERE d.\(column) = \(bind(hash))"
        case .reference(let param, let id, let types):
            source = "search_reference d WHERE d.param = \(bind(param)) AND d.target_id = \(bind(id))"
                + (types.isEmpty ? "" : " AND d.target_type = ANY(\(bind(types))::text[])")
        case .compartment(let patient):
            source = "resource_patient d WHERE d.patient_id = \(bind(patient))"
        }
        let after = query.cursor.map { " AND d.resource_key > \(bind($0.key))" } ?? ""
        let limit = bind(Int64(query.count + 1))
        return """
            WITH page AS (
                SELECT DISTINCT d.resource_key FROM \(source)\(after)
                AND EXISTS (SELECT 1 FROM resource r WHERE r.resource_key = d.resource_key AND \(filter))
                ORDER BY d.resource_key
                LIMIT \(limit)
            )
            SELECT \(Self.resultColumns)
            FROM page JOIN resource r ON r.resource_key = page.resource_key
            ORDER BY page.resource_key
            """
    }

    /// One page of matches: `count + 1` rows (the extra one says there is a next page), each
    /// with its sort values as text for the next cursor.
    mutating func pageStatement(_ query: SearchQuery) -> String {
        let query = Self.combiningPairs(query)
        if query.sort.isEmpty, let (driver, target, index) = Self.driver(for: query) {
            return drivenPageStatement(query, driver: driver, target: target, index: index)
        }
        if query.sort.isEmpty, let page = seedOnlyPageStatement(query) { return page }
        if let (patient, params) = Self.patientDateOrder(for: query) {
            return patientDatePageStatement(query, patient: patient, params: params)
        }
        let (filter, seed) = seeded(query)
        var sortColumns: [String] = []
        var order: [String] = []
        var keyset: [(expression: String, cast: String, descending: Bool)] = []
        for (index, key) in query.sort.enumerated() {
            let expression: String, cast: String
            switch key.source {
            case .lastUpdated: (expression, cast) = ("r.last_updated", "timestamptz")
            case .id: (expression, cast) = ("r.id", "text")
            case .index(let table, let ascending, let descending, let params):
                var column = "x." + (key.descending ? descending : ascending)
                if table == "search_date" {
                    // An open period end is stored as `distantFuture` (an open start as
                    // `distantPast`): sorted by it, every Encounter with a start only would tie
                    // at the year 4001 and fall back to key order (oldest first under `-date`).
                    // Such a bound sorts by the period's other, known end instead.
                    column = key.descending
                        ? "CASE WHEN x.high >= '4000-01-01T00:00:00Z' THEN x.low ELSE x.high END"
                        : "CASE WHEN x.low <= '0002-01-01T00:00:00Z' THEN x.high ELSE x.low END"
                }
                expression = "(SELECT \(key.descending ? "max" : "min")(\(column)) FROM \(table) x "
                    + "WHERE x.resource_key = r.resource_key AND x.param = ANY(\(bind(params))::bigint[]))"
                switch table {
                case "search_date": cast = "timestamptz"
                case "search_number", "search_quantity": cast = "numeric"
                default: cast = "text"
                }
            }
            sortColumns.append("\(expression) AS s\(index)")
            order.append("q.s\(index) \(key.descending ? "DESC" : "ASC") NULLS LAST")
            keyset.append(("q.s\(index)", cast, key.descending))
        }
        order.append("q.resource_key")
        var after = ""
        if let cursor = query.cursor {
            after = "WHERE " + keysetPredicate(keyset, cursor: cursor)
        }
        let limit = bind(Int64(query.count + 1))
        let sortSelect = sortColumns.isEmpty ? "" : ", " + sortColumns.joined(separator: ", ")
        let sortNames = (0..<query.sort.count).map { ", q.s\($0)" }.joined()
        let sortText = (0..<query.sort.count).map { ", page.s\($0)::text" }.joined()
        // Keys and sort values first, the page's rows (and their content) only for the page.
        return """
            WITH \(seed.map { "seed AS MATERIALIZED (\($0)), " } ?? "")page AS (
                SELECT q.resource_key\(sortNames)
                FROM (SELECT r.resource_key\(sortSelect) FROM resource r WHERE \(filter)) q
                \(after)
                ORDER BY \(order.joined(separator: ", "))
                LIMIT \(limit)
            )
            SELECT \(Self.resultColumns)\(sortText)
            FROM page JOIN resource r ON r.resource_key = page.resource_key
            ORDER BY \(order.joined(separator: ", ").replacingOccurrences(of: "q.", with: "page."))
            """
    }

    /// The filter, with its most selective index condition taken out as a seed: a materialized
    /// set of keys the page starts from. Without it the planner may walk every resource of the
    /// type in key order and test each, which grows with the table (the search cliff).
    mutating func seeded(_ query: SearchQuery) -> (filter: String, seed: String?) {
        guard !query.anyType, query.targets.count == 1, let index = Self.seedIndex(query.targets[0].conditions) else {
            return (whereClause(query), nil)
        }
        var rest = query
        let chosen = rest.targets[0].conditions.remove(at: index)
        let text = condition(chosen, alias: "r")
        let prefix = "r.resource_key IN ("
        guard text.hasPrefix(prefix), text.hasSuffix(")") else { return (whereClause(query), nil) }
        let seed = String(text.dropFirst(prefix.count).dropLast())
        return (whereClause(rest) + " AND r.resource_key IN (SELECT resource_key FROM seed)", seed)
    }

    /// A page in default order whose only condition is its seed, on an index table whose `param`
    /// names the resource type (every `search_*` table): index rows exist only for current
    /// resources of that type, so the page is the seed's first keys after the cursor, and only
    /// the page's rows are read from `resource` (type and deletion still checked there). Without
    /// this the planner probes `resource` for every candidate before sorting (1,157 probes for a
    /// busy month of a common code).
    private mutating func seedOnlyPageStatement(_ query: SearchQuery) -> String? {
        guard !query.anyType, query.targets.count == 1, query.common.isEmpty, query.targets[0].conditions.count == 1 else { return nil }
        let only = query.targets[0].conditions[0]
        switch only {
        case .tokenDate, .dateRange, .date, .string, .reference: break
        default: return nil
        }
        guard Self.seedIndex([only]) == 0 else { return nil }
        let text = condition(only, alias: "r")
        let prefix = "r.resource_key IN ("
        guard text.hasPrefix(prefix), text.hasSuffix(")") else { return nil }
        let seed = String(text.dropFirst(prefix.count).dropLast())
        let after = query.cursor.map { " WHERE seed.resource_key > \(bind($0.key))" } ?? ""
        let limit = bind(Int64(query.count + 1))
        let type = bind(query.targets[0].type)
        return """
            WITH seed AS MATERIALIZED (\(seed)), page AS (
                SELECT DISTINCT seed.resource_key FROM seed\(after)
                ORDER BY seed.resource_key
                LIMIT \(limit)
            )
            SELECT \(Self.resultColumns)
            FROM page JOIN resource r ON r.resource_key = page.resource_key
            WHERE r.type = \(type) AND NOT r.deleted
            ORDER BY page.resource_key
            """
    }

    /// The condition likely to match fewest rows: one patient's or one target's references, a
    /// bounded date, a string prefix, then a token.
    static func seedIndex(_ conditions: [SearchCondition]) -> Int? {
        func rank(_ condition: SearchCondition) -> Int? {
            switch condition {
            case .reference(_, let targets) where targets.allSatisfy({ $0.id != nil || $0.url != nil }): return 0
            case .compartment: return 1
            case .dateRange, .string: return 2
            case .date(_, let tests) where tests.allSatisfy({ $0.prefix == .eq }): return 2
            case .token(_, false): return 3
            case .blind, .tokenDate: return 0
            default: return nil
            }
        }
        var best: (index: Int, rank: Int)? = nil
        for (index, condition) in conditions.enumerated() {
            guard let value = rank(condition) else { continue }
            if best == nil || value < best!.rank { best = (index, value) }
        }
        return best?.index
    }

    /// Rows strictly after the cursor in the order `(keys…, resource_key)`; missing values sort last.
    private mutating func keysetPredicate(_ keys: [(expression: String, cast: String, descending: Bool)], cursor: SearchCursor) -> String {
        var alternatives: [String] = []
        var equal: [String] = []
        for (index, key) in keys.enumerated() {
            let value = index < cursor.values.count ? cursor.values[index] : nil
            if let value {
                let bound = "\(bind(value))::\(key.cast)"
                let beyond = key.descending ? "\(key.expression) < \(bound)" : "\(key.expression) > \(bound)"
                var terms: [String] = equal
                terms.append("(\(beyond) OR \(key.expression) IS NULL)")
                alternatives.append("(\(terms.joined(separator: " AND ")))")
                equal.append("\(key.expression) = \(bound)")
            } else {
                equal.append("\(key.expression) IS NULL")
            }
        }
        var last: [String] = equal
        last.append("q.resource_key > \(bind(cursor.key))")
        alternatives.append("(\(last.joined(separator: " AND ")))")
        return alternatives.joined(separator: " OR ")
    }

    mutating func countStatement(_ query: SearchQuery) -> String {
        "SELECT count(*) FROM resource r WHERE \(whereClause(Self.combiningPairs(query)))"
    }

    mutating func estimateStatement(_ query: SearchQuery) -> String {
        "EXPLAIN (FORMAT JSON) SELECT 1 FROM resource r WHERE \(whereClause(Self.combiningPairs(query)))"
    }

    /// The query with each pair of a `system|code` token condition and a date condition of one
    /// of `SearchIndexRows.compositeDatePairs` replaced by one `.tokenDate` condition on the
    /// composite rows (tokens with bare codes, systems only or `:not` stay as they are).
    static func combiningPairs(_ query: SearchQuery) -> SearchQuery {
        var result = query
        for (index, target) in query.targets.enumerated() {
            guard let pairs = SearchIndexRows.compositeDatePairs[target.type] else { continue }
            var conditions = target.conditions
            for pair in pairs {
                let tokenParam = SearchIndexKey.param(type: target.type, code: pair.token)
                let dateParam = SearchIndexKey.param(type: target.type, code: pair.date)
                let tokenIndex = conditions.firstIndex { condition in
                    guard case .token(let hashes, false) = condition else { return false }
                    return hashes.param == tokenParam && !hashes.systemCodes.isEmpty && hashes.codes.isEmpty && hashes.systems.isEmpty
                }
                let dateIndex = conditions.firstIndex { condition in
                    switch condition {
                    case .dateRange(let param, _), .date(let param, _): return param == dateParam
                    default: return false
                    }
                }
                guard let tokenIndex, let dateIndex, case .token(let hashes, _) = conditions[tokenIndex] else { continue }
                let combined = SearchCondition.tokenDate(
                    type: target.type, composite: hashes.systemCodes.map { SearchIndexKey.composite(date: dateParam, token: $0) },
                    token: conditions[tokenIndex], date: conditions[dateIndex])
                conditions[min(tokenIndex, dateIndex)] = combined
                conditions.remove(at: max(tokenIndex, dateIndex))
            }
            result.targets[index].conditions = conditions
        }
        return result
    }

    // MARK: - Conditions

    mutating func condition(_ condition: SearchCondition, alias r: String) -> String {
        switch condition {
        case .none:
            return "false"
        case .ids(let ids, let negated):
            return "\(negated ? "NOT " : "")(\(r).id = ANY(\(bind(ids))::text[]))"
        case .lastUpdated(let tests):
            return "(" + tests.map { instantPredicate($0, column: "\(r).last_updated") }.joined(separator: " OR ") + ")"
        case .token(let hashes, let negated):
            if negated {
                var alternatives: [String] = []
                if !hashes.codes.isEmpty { alternatives.append("t.code = ANY(\(bind(hashes.codes))::bigint[])") }
                if !hashes.systemCodes.isEmpty { alternatives.append("t.system_code = ANY(\(bind(hashes.systemCodes))::bigint[])") }
                if !hashes.systems.isEmpty { alternatives.append("t.system = ANY(\(bind(hashes.systems))::bigint[])") }
                return "NOT EXISTS (SELECT 1 FROM search_token t WHERE t.resource_key = \(r).resource_key AND t.param = "
                    + "\(bind(hashes.param)) AND (\(alternatives.joined(separator: " OR "))))"
            }
            var selects: [String] = []
            if !hashes.codes.isEmpty {
                selects.append("SELECT resource_key FROM search_token WHERE code = ANY(\(bind(hashes.codes))::bigint[])")
            }
            if !hashes.systemCodes.isEmpty {
                selects.append("SELECT resource_key FROM search_token WHERE system_code = ANY(\(bind(hashes.systemCodes))::bigint[])")
            }
            if !hashes.systems.isEmpty {
                selects.append("SELECT resource_key FROM search_token WHERE system = ANY(\(bind(hashes.systems))::bigint[])")
            }
            return "\(r).resource_key IN (\(selects.joined(separator: " UNION ALL ")))"
        case .string(let param, let matches):
            let tests = matches.map { match -> String in
                switch match.kind {
                case .startsWith:
                    return "(normalized >= \(bind(match.value)) AND normalized < \(bind(match.value + "\u{10FFFF}")))"
                case .exact:
                    return "(normalized = \(bind(SearchIndexValue.normalizedString(match.value)))"
                        + " AND exact = \(bind(match.value)))"
                case .contains:
                    return "normalized LIKE \(bind("%" + Self.likeEscaped(match.value) + "%")) ESCAPE '\\'"
                }
            }
            return "\(r).resource_key IN (SELECT resource_key FROM search_string WHERE param = \(bind(param)) "
                + "AND (\(tests.joined(separator: " OR "))))"
        case .date(let param, let tests):
            let predicates = tests.map { datePredicate([$0]) }
            return "\(r).resource_key IN (SELECT resource_key FROM search_date WHERE param = \(bind(param)) "
                + "AND (\(predicates.joined(separator: " OR "))))"
        case .dateRange(let param, let tests):
            return "\(r).resource_key IN (SELECT resource_key FROM search_date WHERE param = \(bind(param)) "
                + "AND \(datePredicate(tests)))"
        case .number(let param, let tests):
            let predicates = tests.map { numberPredicate($0, column: "value") }
            return "\(r).resource_key IN (SELECT resource_key FROM search_number WHERE param = \(bind(param)) "
                + "AND (\(predicates.joined(separator: " OR "))))"
        case .quantity(let param, let tests):
            let predicates = tests.map { test -> String in
                var parts = [numberPredicate(test.number, column: "value")]
                if let system = test.system { parts.append("system = \(bind(system))") }
                if let code = test.code {
                    let bound = bind(code)
                    parts.append(test.system == nil ? "(code = \(bound) OR unit = \(bound))" : "code = \(bound)")
                }
                return "(" + parts.joined(separator: " AND ") + ")"
            }
            return "\(r).resource_key IN (SELECT resource_key FROM search_quantity WHERE param = \(bind(param)) "
                + "AND (\(predicates.joined(separator: " OR "))))"
        case .reference(let param, let targets):
            let predicates = targets.map { target -> String in
                if let url = target.url, target.id == nil { return "url = \(bind(url))" }
                guard let id = target.id else { return "false" }
                var local = "target_id = \(bind(id))"
                if !target.types.isEmpty { local += " AND target_type = ANY(\(bind(target.types))::text[])" }
                if let url = target.url { return "((\(local)) OR url = \(bind(url)))" }
                return "(\(local))"
            }
            return "\(r).resource_key IN (SELECT resource_key FROM search_reference WHERE param = \(bind(param)) "
                + "AND (\(predicates.joined(separator: " OR "))))"
        case .uri(let param, let matches):
            let tests = matches.map { match -> String in
                switch match.kind {
                case .exact: return "value = \(bind(match.value))"
                case .below: return "(value >= \(bind(match.value)) AND value < \(bind(match.value + "\u{10FFFF}")))"
                case .above: return "starts_with(\(bind(match.value))::text, value)"
                }
            }
            return "\(r).resource_key IN (SELECT resource_key FROM search_uri WHERE param = \(bind(param)) "
                + "AND (\(tests.joined(separator: " OR "))))"
        case .missing(let rows, let missing):
            let exists = rows.map { row -> String in
                precondition(SearchIndexRows.tables.contains(row.table), "index table names come from the code, not the request")
                return "EXISTS (SELECT 1 FROM \(row.table) m WHERE m.resource_key = \(r).resource_key AND m.param = \(bind(row.param)))"
            }
            return "\(missing ? "NOT " : "")(\(exists.joined(separator: " OR ")))"
        case .chain(let param, let targets):
            let f = alias("f"), c = alias("c")
            let branches = targets.map { target -> String in
                "(\(c).type = \(bind(target.type)) AND \(self.condition(target.condition, alias: c)))"
            }
            return "\(r).resource_key IN (SELECT \(f).resource_key FROM search_reference \(f) "
                // search_reference's columns are COLLATE "C", resource's are not: compare in "C" so the
                // (param, target_id) index finds the references to the chained targets.
                + "JOIN resource \(c) ON \(f).target_type = \(c).type COLLATE \"C\" AND \(f).target_id = \(c).id COLLATE \"C\" "
                + "WHERE \(f).param = \(bind(param)) AND NOT \(c).deleted AND (\(branches.joined(separator: " OR "))))"
        case .reverseChain(let sourceType, let param, let inner):
            let f = alias("f"), s = alias("s")
            return "\(r).id IN (SELECT \(f).target_id FROM search_reference \(f) "
                + "JOIN resource \(s) ON \(s).resource_key = \(f).resource_key "
                + "WHERE \(f).param = \(bind(param)) AND \(f).target_type = \(r).type AND \(s).type = \(bind(sourceType)) "
                + "AND NOT \(s).deleted AND \(self.condition(inner, alias: s)))"
        case .compartment(let patients):
            return "\(r).resource_key IN (SELECT resource_key FROM resource_patient WHERE patient_id = ANY(\(bind(patients))::text[]))"
        case .caredFor(let practitioner):
            let p = alias("p")
            return "NOT EXISTS (SELECT 1 FROM resource_patient \(p) WHERE \(p).resource_key = \(r).resource_key "
                + "AND NOT EXISTS (SELECT 1 FROM care_relationship c WHERE c.practitioner_id = \(bind(practitioner)) "
                + "AND c.patient_id = \(p).patient_id))"
        case .tokenDate(let type, let composite, let token, let date):
            // Composite rows: short and long spans as two index scans (UNION ALL, not OR, so the
            // planner estimates them as the index does), then the rows indexed before composite
            // rows existed (migration 0008's partial index; empty once the reindex is done).
            let s = alias("s")
            var selects: [String] = []
            switch date {
            case .dateRange(_, let tests):
                let (short, long) = datePredicates(tests)
                selects.append("SELECT resource_key FROM search_date WHERE param = ANY(\(bind(composite))::bigint[]) AND \(short)")
                selects.append("SELECT resource_key FROM search_date WHERE param = ANY(\(bind(composite))::bigint[]) AND \(long)")
            case .date(_, let tests):
                let predicates = tests.map { datePredicate([$0]) }
                selects.append("SELECT resource_key FROM search_date WHERE param = ANY(\(bind(composite))::bigint[]) "
                    + "AND (\(predicates.joined(separator: " OR ")))")
            default:
                return "false"
            }
            selects.append("SELECT \(s).resource_key FROM resource \(s) WHERE \(s).type = \(bind(type)) "
                + "AND \(s).index_version < \(SearchIndexRows.compositeVersion) AND NOT \(s).deleted "
                + "AND \(self.condition(token, alias: s)) AND \(self.condition(date, alias: s))")
            return "\(r).resource_key IN (\(selects.joined(separator: " UNION ALL ")))"
        case .blind(let param, let hashes):
            return "\(r).resource_key IN (SELECT resource_key FROM blind_index WHERE param = \(bind(param)) AND hash = ANY("
                + "ARRAY(SELECT decode(h, 'base64') FROM unnest(\(bind(hashes))::text[]) AS h)))"
        }
    }

    /// Rows of `search_date` satisfying every test. Short rows (at most three days wide: instants,
    /// days) also get a lower bound on `low` implied by "ends after X", so the index scan on
    /// `(param, long, low)` is bounded on both sides; the few long rows are tested as they are.
    private mutating func datePredicate(_ tests: [SearchCondition.DateTest]) -> String {
        let (short, long) = datePredicates(tests)
        return "((\(short)) OR (\(long)))"
    }

    /// `datePredicate`'s two halves: short rows (with the lower bound on `low`) and long rows.
    private mutating func datePredicates(_ tests: [SearchCondition.DateTest]) -> (short: String, long: String) {
        let predicates = tests.map { rangePredicate($0) }
        var bounds: [String] = []
        for test in tests {
            let after: Date?
            switch test.prefix {
            case .gt: after = test.high
            case .ge, .ap: after = test.low
            default: after = nil
            }
            if let after { bounds.append("low > \(bind(after.addingTimeInterval(-Self.shortSpan)))") }
        }
        let short = (["NOT long"] + bounds + predicates).joined(separator: " AND ")
        let long = (["long"] + predicates).joined(separator: " AND ")
        return (short, long)
    }

    /// The widest span `search_date.long` calls short (migration 0004).
    static let shortSpan: TimeInterval = 3 * 86_400

    /// R4 3.1.1.4.6: a date value is a range [low, high); so is the query's value.
    private mutating func rangePredicate(_ test: SearchCondition.DateTest) -> String {
        let low = bind(test.low), high = bind(test.high)
        switch test.prefix {
        case .eq: return "(low >= \(low) AND high <= \(high))"
        case .ne: return "NOT (low >= \(low) AND high <= \(high))"
        case .gt: return "high > \(high)"
        case .lt: return "low < \(low)"
        case .ge: return "high > \(low)"
        case .le: return "low < \(high)"
        case .sa: return "low >= \(high)"
        case .eb: return "high <= \(low)"
        case .ap: return "(low < \(high) AND high > \(low))"
        }
    }

    /// `_lastUpdated`: the row's instant against the query's range.
    private mutating func instantPredicate(_ test: SearchCondition.DateTest, column: String) -> String {
        let low = bind(test.low), high = bind(test.high)
        switch test.prefix {
        case .eq, .ap: return "(\(column) >= \(low) AND \(column) < \(high))"
        case .ne: return "NOT (\(column) >= \(low) AND \(column) < \(high))"
        case .gt, .sa: return "\(column) >= \(high)"
        case .lt, .eb: return "\(column) < \(low)"
        case .ge: return "\(column) >= \(low)"
        case .le: return "\(column) < \(high)"
        }
    }

    /// R4 3.1.1.4.5: `eq` (and `ap`, widened) is the value's implied precision range.
    private mutating func numberPredicate(_ test: SearchCondition.NumberTest, column: String) -> String {
        switch test.prefix {
        case .eq, .ap:
            return "(\(column) >= \(bind(test.low.description))::numeric AND \(column) < \(bind(test.high.description))::numeric)"
        case .ne:
            return "NOT (\(column) >= \(bind(test.low.description))::numeric AND \(column) < \(bind(test.high.description))::numeric)"
        case .gt, .sa: return "\(column) > \(bind(test.value.description))::numeric"
        case .lt, .eb: return "\(column) < \(bind(test.value.description))::numeric"
        case .ge: return "\(column) >= \(bind(test.value.description))::numeric"
        case .le: return "\(column) <= \(bind(test.value.description))::numeric"
        }
    }

    /// `%`, `_` and `\` match literally in a LIKE pattern.
    static func likeEscaped(_ text: String) -> String {
        var result = ""
        for character in text {
            if character == "%" || character == "_" || character == "\\" { result.append("\\") }
            result.append(character)
        }
        return result
    }
}

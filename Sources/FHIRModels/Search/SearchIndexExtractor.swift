import Foundation
import Synchronization

/// Turns a resource into its search index entries: every R4 search parameter of its type,
/// evaluated with FHIRPath, each result converted according to the parameter's kind. Runs on
/// every write, so expressions are compiled once per resource type and shared.
///
/// Composite and special parameters are not indexed (the query engine resolves composites from
/// their component parameters' entries); parameters that fail to compile or to evaluate on a
/// resource are skipped, never fatal, and reported by `extract(_:)`.
public struct SearchIndexExtractor: Sendable {
    public init() {}

    /// The entries of `resource`, in parameter order, without duplicates per parameter.
    /// Empty for JSON that is not a known resource type.
    public func entries(for resource: JSONValue) -> [SearchIndexEntry] {
        extract(resource).entries
    }

    /// The entries of `resource` and the parameters that produced none because they were
    /// skipped by design or failed.
    public func extract(_ resource: JSONValue) -> SearchIndexExtraction {
        guard let type = resource["resourceType"]?.stringValue else { return SearchIndexExtraction(entries: [], skipped: []) }
        var entries: [SearchIndexEntry] = []
        var skipped: [SearchIndexExtraction.Skip] = []
        for parameter in Self.compiledParameters(for: type) {
            let expression: FHIRPathExpression
            switch parameter.compiled {
            case .skipped(let reason):
                skipped.append(.init(code: parameter.definition.code, reason: reason))
                continue
            case .expression(let compiled):
                expression = compiled
            }
            let items: [FHIRPathValue]
            do {
                items = try expression.evaluate(resource)
            } catch {
                skipped.append(.init(code: parameter.definition.code, reason: .evaluationFailed(error)))
                continue
            }
            var seen: Set<SearchIndexValue> = []
            for item in items {
                for value in Self.values(of: item, as: parameter.definition.kind) where seen.insert(value).inserted {
                    entries.append(SearchIndexEntry(code: parameter.definition.code, value: value))
                }
            }
        }
        return SearchIndexExtraction(entries: entries, skipped: skipped)
    }

    /// Parameters of `resourceType` whose expressions do not compile (or that are skipped by
    /// design), without needing a resource.
    public static func skippedParameters(for resourceType: String) -> [SearchIndexExtraction.Skip] {
        compiledParameters(for: resourceType).compactMap { parameter in
            if case .skipped(let reason) = parameter.compiled { return .init(code: parameter.definition.code, reason: reason) }
            return nil
        }
    }

    struct CompiledParameter: Sendable {
        enum Compiled: Sendable {
            case expression(FHIRPathExpression)
            case skipped(SearchIndexExtraction.Skip.Reason)
        }

        let definition: SearchParameterDefinition
        let compiled: Compiled
    }

    /// Compiled parameters per resource type, filled on first use of each type. Compiling
    /// happens outside the lock; two racing writers compile the same thing and one result wins.
    private static let cache = Mutex<[String: [CompiledParameter]]>([:])

    static func compiledParameters(for resourceType: String) -> [CompiledParameter] {
        if let cached = cache.withLock({ $0[resourceType] }) { return cached }
        let compiled = SearchParameterDefinitions.parameters(for: resourceType).map { definition in
            CompiledParameter(definition: definition, compiled: compile(definition))
        }
        cache.withLock { $0[resourceType] = compiled }
        return compiled
    }

    private static func compile(_ definition: SearchParameterDefinition) -> CompiledParameter.Compiled {
        switch definition.kind {
        case .composite, .special: return .skipped(.notIndexedKind(definition.kind))
        default: break
        }
        guard let text = definition.expression else { return .skipped(.noExpression) }
        do {
            return .expression(try FHIRPathExpression(text, options: .search))
        } catch {
            return .skipped(.compileFailed(error))
        }
    }
}

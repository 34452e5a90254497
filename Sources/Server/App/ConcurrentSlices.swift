import Foundation

/// CPU-bound work over a batch, split into one contiguous slice per core (at most 8) when the
/// batch is large enough to pay for the tasks; the slices' results come back in order. Used
/// where a batch's resources are parsed, validated, sealed or compressed independently.
enum ConcurrentSlices {
    static func map<Result: Sendable>(
        count: Int, minimumForParallel: Int = 64, _ body: @escaping @Sendable (Range<Int>) throws -> Result
    ) async throws -> [Result] {
        let slices = count >= minimumForParallel ? max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8)) : 1
        if slices == 1 { return [try body(0..<count)] }
        let size = (count + slices - 1) / slices
        return try await withThrowingTaskGroup(of: (Int, Result).self) { group in
            for start in stride(from: 0, to: count, by: size) {
                group.addTask { (start, try body(start..<min(start + size, count))) }
            }
            var parts: [(Int, Result)] = []
            for try await part in group { parts.append(part) }
            return parts.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }
}

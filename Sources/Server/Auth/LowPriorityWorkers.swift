import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Dedicated threads for CPU-heavy work that must not compete with request handling on equal
/// terms (bcrypt): each thread lowers its own scheduling priority (Linux `nice` is per thread)
/// so that, under a login flood, the kernel still runs the event loops and the cooperative pool
/// first. Work runs in submission order.
final class LowPriorityWorkers: Sendable {
    private enum Job { case run(@Sendable () -> Void), stop }

    /// The job line the threads share (a class, so the threads can hold it).
    private final class Line: Sendable {
        let jobs = Mutex<[Job]>([])
        let available = DispatchSemaphore(value: 0)
    }

    private let line = Line()
    let count: Int

    init(count: Int, niceness: Int32 = 10, name: String) {
        self.count = count
        for index in 0..<count {
            let thread = Thread { [line] in
                #if canImport(Glibc)
                _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness)
                #endif
                while true {
                    line.available.wait()
                    let job = line.jobs.withLock { $0.isEmpty ? nil : $0.removeFirst() }
                    switch job {
                    case .run(let work): work()
                    case .stop: return
                    case nil: continue
                    }
                }
            }
            thread.name = "\(name)-\(index)"
            thread.start()
        }
    }

    func submit(_ work: @escaping @Sendable () -> Void) {
        line.jobs.withLock { $0.append(.run(work)) }
        line.available.signal()
    }

    /// Lets every thread finish its current job and exit.
    func stop() {
        line.jobs.withLock { queue in
            for _ in 0..<count { queue.append(.stop) }
        }
        for _ in 0..<count { line.available.signal() }
    }

    deinit {
        stop()
    }
}

import FHIRModels
import Foundation
import Mapping

extension PlatformRecords where Model == BillingDTO {
    /// One page of bills, newest first, of one patient and/or one payment status. The payment
    /// status is an extension no search parameter indexes, so it is applied to the search's
    /// results here: whole result pages are read (each searched, decided and audited by
    /// `SearchService` like any list) until `pageSize` bills match or `maxPages` pages were
    /// read; `next` continues after the last page read, so paging loses nothing.
    func bills(
        patientID: String?, status: PaymentStatus?, cursor: String?, pageSize: Int, maxPages: Int = 10, as caller: Caller
    ) async throws -> (items: [Item], next: String?) {
        var found: [Item] = []
        var cursor = cursor
        var pages = 0
        repeat {
            var items: [(key: String, value: String)] = [("_sort", "-_lastUpdated"), ("_count", String(pageSize))]
            if let patientID { items.append(("patient", "Patient/\(patientID)")) }
            if let cursor { items.append(("_cursor", cursor)) }
            var queryText = patientID.map { "patientId=\($0)" } ?? ""
            if let status { queryText += (queryText.isEmpty ? "" : "&") + "status=\(status.rawValue)" }
            let page = try await list(items, queryText: queryText, maxCount: max(pageSize, 100), as: caller)
            found += status.map { wanted in page.items.filter { $0.model.status == wanted } } ?? page.items
            cursor = page.next
            pages += 1
        } while cursor != nil && found.count < pageSize && pages < maxPages
        return (found, cursor)
    }
}

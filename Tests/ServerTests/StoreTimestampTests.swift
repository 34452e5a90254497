import Foundation
import Testing
@testable import Server

@Suite struct StoreTimestampTests {
    @Test func formatsInstantsAndHTTPDates() throws {
        let date = try Date("2024-03-01T09:30:05.123Z", strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        #expect(StoreTimestamp.string(date) == "2024-03-01T09:30:05.123Z")
        #expect(StoreTimestamp.httpDate(date) == "Fri, 01 Mar 2024 09:30:05 GMT")
        #expect(StoreTimestamp.string(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(StoreTimestamp.parse("2024-03-01") == Date(timeIntervalSince1970: 1_709_251_200))
        #expect(StoreTimestamp.parse("2024-03-01T10:30:05+01:00") == Date(timeIntervalSince1970: 1_709_285_405))
        #expect(StoreTimestamp.parse("yesterday") == nil)
    }
}

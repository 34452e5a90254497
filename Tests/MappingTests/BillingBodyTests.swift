import FHIRModels
import Mapping
import Testing

@Suite struct BillingBodyTests {
    static func body(amount: String = #"{"value": "150.00", "currency": "USD"}"#,
                     coverage: String = #"{"value": "100.00", "currency": "USD"}"#,
                     outstanding: String = #"{"value": "50.00", "currency": "USD"}"#) -> String {
        #"{"patientId": "p1", "date": "2026-11-29", "amount": \#(amount), "insuranceCoverage": \#(coverage), "outstandingAmount": \#(outstanding), "status": "pending"}"#
    }

    @Test func consistentAmountsDecode() throws {
        let billing = try BodyTesting.decode(BillingDTO.self, Self.body())
        #expect(billing.amount == MoneyAmount(value: "150.00", currency: "USD"))
        #expect(billing.outstandingAmount?.decimal == 50)
    }

    @Test func arithmeticIsExactDecimal() throws {
        // 0.30 - 0.10 is 0.19999999999999998 in binary floating point.
        _ = try BodyTesting.decode(BillingDTO.self, Self.body(
            amount: #"{"value": "0.30", "currency": "EUR"}"#, coverage: #"{"value": "0.1", "currency": "EUR"}"#,
            outstanding: #"{"value": "0.2000", "currency": "EUR"}"#
        ))
        #expect(BodyTesting.issues(BillingDTO.self, Self.body(
            amount: #"{"value": "999999999999.9999", "currency": "EUR"}"#, coverage: #"{"value": "0.0001", "currency": "EUR"}"#,
            outstanding: #"{"value": "999999999999.9997", "currency": "EUR"}"#
        )) == [FieldIssue("outstandingAmount", "must equal amount minus insuranceCoverage")])
    }

    @Test func coverageAboveTheAmountIsRefused() {
        #expect(BodyTesting.issues(BillingDTO.self, Self.body(coverage: #"{"value": "150.01", "currency": "USD"}"#, outstanding: #"{"value": "0", "currency": "USD"}"#))
            == [FieldIssue("insuranceCoverage", "must not be greater than amount")])
    }

    @Test func allAmountsShareTheCurrency() {
        #expect(BodyTesting.issues(BillingDTO.self, Self.body(coverage: #"{"value": "100.00", "currency": "EUR"}"#))
            == [FieldIssue("insuranceCoverage.currency", "must be the currency of amount")])
    }

    @Test func moneyValuesAreDecimalStrings() {
        let issues = BodyTesting.issues(BillingDTO.self, Self.body(
            amount: #"{"value": 150.00, "currency": "usd"}"#,
            coverage: #"{"value": "0100.00", "currency": "USD", "rate": 1}"#,
            outstanding: #"{"value": "1.23456"}"#
        ))
        #expect(issues == [
            FieldIssue("amount.value", "must be a decimal string (a JSON string, not a number)"),
            FieldIssue("amount.currency", "must be an ISO 4217 code of 3 upper-case letters"),
            FieldIssue("insuranceCoverage.rate", "is not accepted here"),
            FieldIssue("insuranceCoverage.value", "must be a decimal string with up to 12 digits, no leading zero, and up to 4 decimals"),
            FieldIssue("outstandingAmount.value", "must be a decimal string with up to 12 digits, no leading zero, and up to 4 decimals"),
            FieldIssue("outstandingAmount.currency", "is required"),
        ])
    }
}

import FHIRModels

extension BillingDTO {
    public init(body: JSONObject) throws(PlatformValidationError) {
        let issues = BodyIssues()
        let reader = BodyReader(
            body,
            accepted: ["patientId", "appointmentId", "date", "amount", "insuranceCoverage", "outstandingAmount", "status"],
            ignored: ["id"],
            issues: issues
        )
        self.init(
            patientID: reader.id("patientId", required: true),
            appointmentID: reader.id("appointmentId"),
            date: reader.dateOrDateTime("date", required: true),
            amount: reader.money("amount", required: true),
            insuranceCoverage: reader.money("insuranceCoverage", required: true),
            outstandingAmount: reader.money("outstandingAmount", required: true),
            status: reader.code("status", required: true)
        )
        checkAmounts(reader)
        try issues.check()
    }

    /// The three amounts share one currency, the coverage is at most the amount, and the
    /// outstanding amount is exactly the rest (decimal arithmetic, no rounding).
    private func checkAmounts(_ reader: BodyReader) {
        guard let amount, let coverage = insuranceCoverage, let outstanding = outstandingAmount,
              let total = amount.decimal, let covered = coverage.decimal, let owed = outstanding.decimal
        else { return }
        var sameCurrency = true
        if coverage.currency != amount.currency {
            reader.issues.report("insuranceCoverage.currency", "must be the currency of amount")
            sameCurrency = false
        }
        if outstanding.currency != amount.currency {
            reader.issues.report("outstandingAmount.currency", "must be the currency of amount")
            sameCurrency = false
        }
        guard sameCurrency else { return }
        if covered > total {
            reader.report("insuranceCoverage", "must not be greater than amount")
        } else if owed != total - covered {
            reader.report("outstandingAmount", "must equal amount minus insuranceCoverage")
        }
    }

    public var json: JSONValue {
        var object = JSONObject()
        object.setString("id", id)
        object.setString("patientId", patientID)
        object.setString("appointmentId", appointmentID)
        object.setString("date", date)
        object["amount"] = amount?.json
        object["insuranceCoverage"] = insuranceCoverage?.json
        object["outstandingAmount"] = outstandingAmount?.json
        object.setString("status", status?.rawValue)
        return .object(object)
    }
}

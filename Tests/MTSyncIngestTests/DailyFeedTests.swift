import Foundation
import MTSyncCore
import MTSyncIngest
import Testing

@Suite("The daily feed's rows: one per customer and day, whole across logins and servers")
struct DailyFeedCalculatorTests {
    static func decimal(_ text: String) -> ExactDecimal { ExactDecimal(parsing: text)! }

    static func login(_ server: String, _ login: UInt64, group: String = "real\\A", currency: String? = "USD", lots: String = "0", deposits: String = "0", withdrawals: String = "0") -> LoginDayFigures {
        LoginDayFigures(
            server: server, login: login, group: group, currency: currency, closedLots: decimal(lots), closingTrades: lots == "0" ? 0 : 1,
            deposits: decimal(deposits), withdrawals: decimal(withdrawals), tradingNet: .zero)
    }

    static let rules = DailyFeedRules(reportingCurrency: "USD", centGroups: ["*cent*"], centFactor: decimal("0.01"), rates: ["EUR": decimal("1.1")])

    @Test("a customer on an MT4 and an MT5 server gets one row with both servers' figures (a per-server row would overwrite the other)")
    func acrossServers() throws {
        let row = try DailyFeedCalculator.row(
            customerID: "BRK-1", date: "2026-03-29",
            logins: [Self.login("live-mt5", 7, lots: "1.5", deposits: "100"), Self.login("live-mt4", 7, lots: "2", deposits: "150.5")],
            rules: Self.rules).get()
        #expect(row.closedLots == Self.decimal("3.5"))
        #expect(row.depositTotal == Self.decimal("250.5"))
        #expect(row.logins == ["live-mt4:7", "live-mt5:7"])
    }

    @Test("a cent account's lots and money are scaled by the factor into standard lots and the reporting currency")
    func centAccount() throws {
        let row = try DailyFeedCalculator.row(
            customerID: "BRK-2", date: "2026-03-29",
            logins: [Self.login("s", 1, group: "real\\Cent-USC", currency: "USC", lots: "250", deposits: "10000", withdrawals: "500")],
            rules: Self.rules).get()
        #expect(row.closedLots == Self.decimal("2.5"))
        #expect(row.depositTotal == Self.decimal("100"))
        #expect(row.withdrawalTotal == Self.decimal("5"))
    }

    @Test(
        "a cent account's money is in its cent code's base currency: the reporting currency, a rate, or held",
        arguments: [
            // currency, deposits (in account units), the deposit total sent, or the hold's reason
            ("USC", "10000", "100", nil),  // US cents → USD: × 0.01
            ("USD", "10000", "100", nil),  // a cent group labelled with the standard code
            ("EUC", "10000", "110", nil),  // euro cents → EUR → USD: × 0.01 × 1.1
            ("EUR", "10000", "110", nil),
            ("GBC", "10000", nil, "feed.rates has no GBC rate"),  // an unknown cent code is a currency without a rate
            (nil, "10000", nil, "has no currency yet"),
        ] as [(String?, String, String?, String?)])
    func centCurrencies(currency: String?, deposits: String, sent: String?, held: String?) {
        let result = DailyFeedCalculator.row(
            customerID: "BRK-2", date: "2026-03-29",
            logins: [Self.login("s", 1, group: "real\\cent", currency: currency, lots: "250", deposits: deposits)], rules: Self.rules)
        switch result {
        case .success(let row):
            #expect(row.closedLots == Self.decimal("2.5"))
            #expect(row.depositTotal == sent.map(Self.decimal))
            #expect(held == nil)
        case .failure(let hold):
            #expect(sent == nil)
            #expect(hold.reason.contains(held ?? "not held"))
        }
    }

    @Test("a euro-cent account without a EUR rate is held with a reason that names both codes; cent codes are configurable")
    func euroCentHeld() {
        let noEUR = DailyFeedRules(reportingCurrency: "USD", centGroups: ["*cent*"], centFactor: Self.decimal("0.01"))
        let euroCent = [Self.login("s", 1, group: "real\\cent", currency: "EUC", deposits: "10000")]
        guard case .failure(let hold) = DailyFeedCalculator.row(customerID: "BRK-5", date: "2026-03-29", logins: euroCent, rules: noEUR) else {
            Issue.record("a euro-cent account was summed as US cents")
            return
        }
        #expect(hold.reason.contains("EUC (EUR cents)"))
        #expect(hold.reason.contains("no EUR rate"))
        let ownCode = DailyFeedRules(reportingCurrency: "USD", centGroups: ["*cent*"], centFactor: Self.decimal("0.01"), centCurrencies: ["uSc": "usd", "CUS": "USD"])
        let row = try? DailyFeedCalculator.row(
            customerID: "BRK-5", date: "2026-03-29", logins: [Self.login("s", 1, group: "real\\cent", currency: "CUS", deposits: "10000")], rules: ownCode).get()
        #expect(row?.depositTotal == Self.decimal("100"))
    }

    @Test("another currency goes through the configured rate, rounded to cents once after the sum")
    func convertedCurrency() throws {
        let row = try DailyFeedCalculator.row(
            customerID: "BRK-3", date: "2026-03-29",
            logins: [Self.login("s", 1, currency: "EUR", deposits: "0.005"), Self.login("s", 2, currency: "eur", deposits: "0.005")],
            rules: Self.rules).get()
        // 0.0055 + 0.0055 = 0.011 → 0.01; rounding each login first would give 0.02.
        #expect(row.depositTotal == Self.decimal("0.01"))
    }

    @Test("a currency with no rate, or an unknown one, holds the whole day with a reason: never summed raw", arguments: [("GBP", "feed.rates has no GBP rate"), (nil, "has no currency yet")] as [(String?, String)])
    func heldForCurrency(currency: String?, reason: String) {
        let result = DailyFeedCalculator.row(
            customerID: "BRK-4", date: "2026-03-29",
            logins: [Self.login("s", 1, lots: "1"), Self.login("s", 2, currency: currency, deposits: "5")], rules: Self.rules)
        guard case .failure(let hold) = result else {
            Issue.record("expected the day to be held")
            return
        }
        #expect(hold.reason.contains(reason))
        #expect(hold.reason.contains("s:2"))
    }

    @Test("money is rounded half away from zero", arguments: [("1.005", "1.01"), ("-1.005", "-1.01"), ("1.004", "1"), ("2.5", "2.5"), ("0.125", "0.13")])
    func rounding(value: String, expected: String) {
        #expect(Self.decimal(value).rounded(scale: 2) == Self.decimal(expected))
    }

    @Test("the sent hash changes with a sent figure only; the stored figures keep the rest")
    func hashCoversSentFigures() throws {
        let base = try DailyFeedCalculator.row(customerID: "C", date: "2026-01-02", logins: [Self.login("s", 1, lots: "1", withdrawals: "3")], rules: Self.rules).get()
        var keptOnly = base
        keptOnly.withdrawalTotal = Self.decimal("4")
        var sent = base
        sent.closedLots = Self.decimal("1.01")
        #expect(base.sentHash == keptOnly.sentHash)
        #expect(base.sentHash != sent.sentHash)
        #expect(base.figuresJSON.contains("\"withdrawal_total\":\"3.00\""))
    }
}

@Suite("Packing daily rows: the platform's message shape, ≤ 256 KB, deterministic batch ids, CSV for the file ingest")
struct DailyFeedPackerTests {
    static let envelope = DailyFeedEnvelope(triggerID: "65f0c1e2a9b8c7d6e5f4a3b2", source: "mtsync-test")

    static func entry(_ customer: String, _ date: String = "2026-03-29", deposit: String = "250", lots: String = "3.5", revision: Int = 1) -> DailyFeedPacker.Entry {
        .init(row: DailyFeedRow(
            customerID: customer, date: date, closedLots: ExactDecimal(parsing: lots)!, depositTotal: ExactDecimal(parsing: deposit)!,
            withdrawalTotal: .zero, tradingNet: .zero, closingTrades: 1, logins: ["s:1"]), revision: revision)
    }

    @Test("a message is the documented shape, snake_case, numbers written exactly")
    func messageShape() throws {
        let batch = try #require(DailyFeedPacker.messages([Self.entry("BRK-100234")], envelope: Self.envelope, maximumRows: 500, maximumBytes: 256_000).first)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(batch.body)) as? [String: Any])
        #expect(json["trigger_id"] as? String == "65f0c1e2a9b8c7d6e5f4a3b2")
        let metadata = try #require(json["metadata"] as? [String: Any])
        #expect(metadata["source"] as? String == "mtsync-test")
        #expect(metadata["batch_id"] as? String == batch.batchID)
        let text = String(decoding: batch.body, as: UTF8.self)
        #expect(text.contains(#"{"user_id":"BRK-100234","date":"2026-03-29","deposit_total":250.00,"closed_lots":3.5}"#))
    }

    @Test("the same rows at the same revisions make the same batch id; a new revision makes a new one even with the old figures")
    func batchIDs() {
        let first = DailyFeedPacker.messages([Self.entry("A"), Self.entry("B")], envelope: Self.envelope, maximumRows: 500, maximumBytes: 256_000)
        let again = DailyFeedPacker.messages([Self.entry("A"), Self.entry("B")], envelope: Self.envelope, maximumRows: 500, maximumBytes: 256_000)
        let revised = DailyFeedPacker.messages([Self.entry("A", revision: 3), Self.entry("B")], envelope: Self.envelope, maximumRows: 500, maximumBytes: 256_000)
        #expect(first == again)
        #expect(first[0].batchID != revised[0].batchID)
        #expect(first[0].batchID.hasPrefix("mtsync-") && first[0].batchID.count == 39)
    }

    @Test("messages keep under the byte and row limits, every row in exactly one", arguments: [(1_000, 500, 262_144), (1_000, 7, 262_144), (3_000, 500, 4_096)])
    func limits(rows: Int, maximumRows: Int, maximumBytes: Int) throws {
        let entries = (0..<rows).map { Self.entry("customer-\($0)", deposit: "\($0).25") }
        let batches = DailyFeedPacker.messages(entries, envelope: Self.envelope, maximumRows: maximumRows, maximumBytes: maximumBytes)
        #expect(batches.allSatisfy { $0.body.count <= maximumBytes && $0.rows.count <= maximumRows })
        #expect(batches.flatMap(\.rows) == entries)
        #expect(Set(batches.map(\.batchID)).count == batches.count)
        for batch in batches {
            let json = try #require(try JSONSerialization.jsonObject(with: Data(batch.body)) as? [String: Any])
            #expect((json["data"] as? [Any])?.count == batch.rows.count)
        }
    }

    @Test("a file is CSV with the same column names, quoted where needed, chunked by rows")
    func csvFiles() {
        let entries = [Self.entry("plain"), Self.entry("with,comma"), Self.entry("with \"quote\"")]
        let files = DailyFeedPacker.files(entries, envelope: Self.envelope, maximumRows: 2)
        #expect(files.count == 2)
        #expect(files.allSatisfy { $0.transport == .file })
        let text = String(decoding: files[0].body, as: UTF8.self)
        #expect(text == "user_id,date,deposit_total,closed_lots\r\nplain,2026-03-29,250.00,3.5\r\n\"with,comma\",2026-03-29,250.00,3.5\r\n")
        #expect(String(decoding: files[1].body, as: UTF8.self).contains("\"with \"\"quote\"\"\",2026-03-29"))
        #expect(files[0].batchID != DailyFeedPacker.messages(Array(entries.prefix(2)), envelope: Self.envelope, maximumRows: 9, maximumBytes: 9_999)[0].batchID)
    }
}

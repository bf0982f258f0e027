import Foundation
import MTSyncCore
@testable import MTSyncStore
import Testing

@Suite("Queries, COPY encoding and secret handling (pure)")
struct PostgresValueTests {
    @Test("interpolated values become numbered parameters, never SQL text")
    func interpolationBinds() {
        let server = "live'; DROP TABLE servers; --"
        let login: Int64 = 12345
        let missing: String? = nil
        let query: PostgresQuery = "SELECT * FROM trading_facts WHERE server_id = \(server) AND login = \(login) AND comment = \(missing)"
        #expect(query.sql == "SELECT * FROM trading_facts WHERE server_id = $1 AND login = $2 AND comment = $3")
        #expect(query.parameters == [server, "12345", nil])
        #expect(!query.description.contains("DROP"), "descriptions show SQL, never parameter values")
    }

    @Test("identifiers are double-quoted with embedded quotes doubled")
    func identifiersQuoted() {
        let query: PostgresQuery = "SELECT count(*) FROM \(identifier: #"odd"name"#)"
        #expect(query.sql == #"SELECT count(*) FROM "odd""name""#)
        #expect(query.parameters.isEmpty)
    }

    @Test("bytea parameters use the hex form, and decode back")
    func byteaRoundTrip() throws {
        let bytes = Data([0x00, 0x0A, 0xFF, 0x5C])
        #expect(bytes.postgresText == #"\x000aff5c"#)
        #expect(Data(postgresText: #"\x000aff5c"#) == bytes)
        #expect(Data(postgresText: #"\x0"#) == nil)
        #expect(Data(postgresText: "00ff") == nil)
    }

    @Test("COPY text format escapes backslash, tab, newline and CR, and writes NULL as \\N")
    func copyEncoding() throws {
        var sent: [[UInt8]] = []
        var writer = CopyInWriter(flushThreshold: 1 << 20) { sent.append($0) }
        writer.append("plain")
        writer.append("tab\there\nnew\rcr\\slash")
        writer.append(nil as String?)
        writer.append(Int64(-9_223_372_036_854_775_807))
        writer.append(Int64(0))
        try writer.endRow()
        writer.append("ünïcödé €")
        try writer.endRow()
        #expect(String(decoding: writer.pendingBytes, as: UTF8.self)
            == "plain\ttab\\there\\nnew\\rcr\\\\slash\t\\N\t-9223372036854775807\t0\nünïcödé €\n")
        #expect(writer.rowCount == 2)
        #expect(sent.isEmpty, "nothing is sent before the threshold")
    }

    @Test("COPY columns written without a String between: decimals, UTC timestamps, optional integers, and text written into the buffer, escaped only where it must be")
    func copyTypedColumns() throws {
        var writer = CopyInWriter(flushThreshold: 1 << 20) { _ in }
        writer.append(ExactDecimal(parsing: "-12.50"))
        writer.append(nil as ExactDecimal?)
        writer.append(utcMilliseconds: 1_735_725_600_123)
        writer.append(utcMilliseconds: -1)
        writer.append(Int64?.some(-7))
        writer.append(nil as Int64?)
        writer.append { $0 += Array(#"{"comment":"a\"b\\c"}"#.utf8) }
        writer.append { $0 += Array("plain".utf8) }
        try writer.endRow()
        #expect(String(decoding: writer.pendingBytes, as: UTF8.self)
            == "-12.5\t\\N\t2025-01-01T10:00:00.123+00\t1969-12-31T23:59:59.999+00\t-7\t\\N\t"
            + #"{"comment":"a\\"b\\\\c"}"# + "\tplain\n")
    }

    @Test("COPY flushes whenever the buffer passes its threshold, so memory stays bounded")
    func copyFlushes() throws {
        var sentBytes = 0
        var flushes = 0
        var writer = CopyInWriter(flushThreshold: 100) { bytes in sentBytes += bytes.count; flushes += 1 }
        for row in 0..<1000 {
            writer.append(Int64(row))
            writer.append("some text")
            try writer.endRow()
            #expect(writer.pendingBytes.count < 100)
        }
        #expect(flushes > 100)
        // Each row: the digits, a tab, "some text" and a newline.
        let expectedBytes: Int = (0..<1000).map { String($0).count + 11 }.reduce(0, +)
        #expect(sentBytes + writer.pendingBytes.count == expectedBytes)
    }

    @Test("a connection's description never shows its password", arguments: [
        "postgresql://mtsync:s3cr3t-Pa55@db.example:5432/mtsync?sslmode=require",
        "host=db.example port=5432 dbname=mtsync user=mtsync password=s3cr3t-Pa55",
    ])
    func descriptionHidesPassword(connectionString: String) {
        let configuration = PostgresConfiguration(connectionString: connectionString)
        #expect(!configuration.description.contains("s3cr3t-Pa55"))
        #expect(configuration.description.contains("host=db.example"))
        #expect(configuration.secrets.contains("s3cr3t-Pa55"))
    }

    @Test("an unparseable connection string still never shows its password")
    func unparseableHidesPassword() {
        let configuration = PostgresConfiguration(connectionString: "postgresql://mtsync:s3cr3t-Pa55@db.example:5432/mtsync?bogus_option=1")
        #expect(!configuration.description.contains("s3cr3t-Pa55"))
        #expect(configuration.secrets.contains("s3cr3t-Pa55"))
        #expect(PostgresConfiguration.passwordsGuessed(fromUnparseable: "host=x password=abc&def dbname=y") == ["abc"])
    }

    @Test("error texts are scrubbed of secrets, plain and percent-encoded")
    func scrubbing() {
        let scrubbed = PostgresError.scrub("auth for p@ss:w/rd and p%40ss%3Aw%2Frd failed", secrets: ["p@ss:w/rd"])
        #expect(scrubbed == "auth for *** and *** failed")
    }

    @Test("transient failures are told apart from permanent ones", arguments: [
        ("40001", true), ("40P01", true), ("55P03", true), ("57P01", true), ("08006", true), ("53300", true),
        ("23505", false), ("42P01", false), ("22P02", false),
    ])
    func transientSQLStates(sqlState: String, transient: Bool) {
        #expect(PostgresError(code: .statementFailed, message: "x", sqlState: sqlState).isTransient == transient)
    }
}

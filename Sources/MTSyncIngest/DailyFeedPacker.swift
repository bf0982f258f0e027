import Crypto
import Foundation
import MTSyncCore

/// What every batch of the daily feed carries besides its rows: the platform's fixed `trigger_id` for this
/// integration and the sender's name (`metadata.source`).
public struct DailyFeedEnvelope: Sendable, Hashable {
    public var triggerID: String
    public var source: String

    public init(triggerID: String, source: String) {
        self.triggerID = triggerID
        self.source = source
    }
}

/// One batch of daily rows, ready to send: the exact body bytes and the id derived from what it holds.
public struct DailyFeedBatch: Sendable, Hashable {
    public enum Transport: String, Sendable, Hashable {
        /// One SQS message: `{"trigger_id", "metadata": {"source", "batch_id"}, "data": [rows]}`.
        case sqs
        /// One file-ingest upload: a CSV with a header row; `metadata` travels beside it.
        case file
    }

    public var batchID: String
    public var transport: Transport
    /// (customer, date) of each row, in body order.
    public var rows: [DailyFeedPacker.Entry]
    public var body: [UInt8]

    public var sha256: String { Hex.encode(SHA256.hash(data: body)) }
}

/// Packs changed rows into batches (docs/ingest.md, "The daily feed"). The `batch_id` is a hash of the transport,
/// the trigger id and each row's customer, date and revision: the same rows at the same revisions always make the
/// same id (a resend after a crash is recognisably the same batch), and a changed row — a new revision — always
/// makes a new one, even when its figures go back to an earlier value.
public enum DailyFeedPacker {
    public struct Entry: Sendable, Hashable {
        public var row: DailyFeedRow
        public var revision: Int

        public init(row: DailyFeedRow, revision: Int) {
            self.row = row
            self.revision = revision
        }
    }

    /// SQS messages of at most `maximumRows` rows and `maximumBytes` bytes each, rows in the given order.
    public static func messages(_ entries: [Entry], envelope: DailyFeedEnvelope, maximumRows: Int, maximumBytes: Int) -> [DailyFeedBatch] {
        // The id has a fixed length, so a message's size is known before its id is.
        let overhead = messageBody(rows: [], envelope: envelope, batchID: String(repeating: "0", count: idLength)).count
        var batches: [DailyFeedBatch] = []
        var current: [Entry] = [], currentRows: [String] = [], size = overhead
        func flush() {
            guard !current.isEmpty else { return }
            let id = batchID(.sqs, envelope: envelope, entries: current)
            batches.append(DailyFeedBatch(batchID: id, transport: .sqs, rows: current, body: messageBody(rows: currentRows, envelope: envelope, batchID: id)))
            current = []; currentRows = []; size = overhead
        }
        for entry in entries {
            let json = rowJSON(entry.row)
            let added = json.utf8.count + (current.isEmpty ? 0 : 1)
            if !current.isEmpty, current.count >= maximumRows || size + added > maximumBytes { flush() }
            size += json.utf8.count + (current.isEmpty ? 0 : 1)
            current.append(entry)
            currentRows.append(json)
        }
        flush()
        return batches
    }

    /// File-ingest uploads of at most `maximumRows` rows each.
    public static func files(_ entries: [Entry], envelope: DailyFeedEnvelope, maximumRows: Int) -> [DailyFeedBatch] {
        stride(from: 0, to: entries.count, by: max(1, maximumRows)).map { start in
            let chunk = Array(entries[start..<min(entries.count, start + max(1, maximumRows))])
            return DailyFeedBatch(batchID: batchID(.file, envelope: envelope, entries: chunk), transport: .file, rows: chunk, body: csv(chunk.map(\.row)))
        }
    }

    /// `mtsync-` and 32 hex digits (128 bits of SHA-256).
    static let idLength = 7 + 32

    static func batchID(_ transport: DailyFeedBatch.Transport, envelope: DailyFeedEnvelope, entries: [Entry]) -> String {
        var hasher = SHA256()
        hasher.update(data: Array("mtsync-daily-feed-v1\n\(transport.rawValue)\n\(envelope.triggerID)\n".utf8))
        for entry in entries {
            hasher.update(data: Array("\(entry.row.customerID.utf8.count):\(entry.row.customerID)|\(entry.row.date)|\(entry.revision)\n".utf8))
        }
        return "mtsync-" + String(Hex.encode(hasher.finalize()).prefix(32))
    }

    /// One row as the platform documents it: snake_case, money with two decimals, lots exact; numbers as JSON
    /// numbers written from exact decimals (never through binary floating point).
    public static func rowJSON(_ row: DailyFeedRow) -> String {
        "{\"user_id\":\(IngestEnvelope.quoted(row.customerID)),\"date\":\"\(row.date)\",\"deposit_total\":\(DailyFeedRow.money(row.depositTotal)),\"closed_lots\":\(row.closedLots)}"
    }

    static func messageBody(rows: [String], envelope: DailyFeedEnvelope, batchID: String) -> [UInt8] {
        let text = "{\"trigger_id\":\(IngestEnvelope.quoted(envelope.triggerID)),\"metadata\":{\"source\":\(IngestEnvelope.quoted(envelope.source)),\"batch_id\":\"\(batchID)\"},\"data\":[" + rows.joined(separator: ",") + "]}"
        return Array(text.utf8)
    }

    /// RFC 4180 CSV: a header row with the same column names as the JSON rows, CRLF line ends, a field quoted when
    /// it holds a comma, quote or line break.
    public static func csv(_ rows: [DailyFeedRow]) -> [UInt8] {
        var text = DailyFeedRow.sentColumns.joined(separator: ",") + "\r\n"
        for row in rows {
            text += [csvField(row.customerID), row.date, DailyFeedRow.money(row.depositTotal), row.closedLots.description].joined(separator: ",") + "\r\n"
        }
        return Array(text.utf8)
    }

    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

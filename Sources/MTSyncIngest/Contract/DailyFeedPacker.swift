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
    /// One row at one revision, as the packer needs it, whichever of the platform's feeds it belongs to.
    public struct Entry: Sendable, Hashable {
        public var customerID: String
        public var date: String
        public var revision: Int
        public var rowJSON: String
        public var csvFields: [String]
        public var columns: [String]
        public var sentHash: String
        public var figuresJSON: String
        public var feedName: String

        public init<Row: PlatformRow>(row: Row, revision: Int) {
            customerID = row.customerID
            date = row.date
            self.revision = revision
            rowJSON = row.rowJSON
            csvFields = row.csvFields
            columns = Row.sentColumns
            sentHash = row.sentHash
            figuresJSON = row.figuresJSON
            feedName = Row.feedName
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
            let json = entry.rowJSON
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
            return DailyFeedBatch(batchID: batchID(.file, envelope: envelope, entries: chunk), transport: .file, rows: chunk, body: csv(chunk))
        }
    }

    /// `mtsync-` and 32 hex digits (128 bits of SHA-256).
    static let idLength = 7 + 32

    static func batchID(_ transport: DailyFeedBatch.Transport, envelope: DailyFeedEnvelope, entries: [Entry]) -> String {
        var hasher = SHA256()
        hasher.update(data: Array("mtsync-\(entries.first?.feedName ?? DailyFeedRow.feedName)-v1\n\(transport.rawValue)\n\(envelope.triggerID)\n".utf8))
        for entry in entries {
            hasher.update(data: Array("\(entry.customerID.utf8.count):\(entry.customerID)|\(entry.date)|\(entry.revision)\n".utf8))
        }
        return "mtsync-" + String(Hex.encode(hasher.finalize()).prefix(32))
    }

    static func messageBody(rows: [String], envelope: DailyFeedEnvelope, batchID: String) -> [UInt8] {
        let text = "{\"trigger_id\":\(JSONText.quoted(envelope.triggerID)),\"metadata\":{\"source\":\(JSONText.quoted(envelope.source)),\"batch_id\":\"\(batchID)\"},\"data\":[" + rows.joined(separator: ",") + "]}"
        return Array(text.utf8)
    }

    /// RFC 4180 CSV: a header row with the same column names as the JSON rows, CRLF line ends, a field quoted when
    /// it holds a comma, quote or line break.
    public static func csv(_ entries: [Entry]) -> [UInt8] {
        var text = (entries.first?.columns ?? DailyFeedRow.sentColumns).joined(separator: ",") + "\r\n"
        for entry in entries {
            text += entry.csvFields.map(csvField).joined(separator: ",") + "\r\n"
        }
        return Array(text.utf8)
    }

    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// A row of one of the loyalty platform's feeds (the daily rows, the tier snapshots): what the packer sends of it and
/// what the store keeps. Rows are upserted by the platform by `user_id` + `date`.
public protocol PlatformRow: Sendable, Hashable {
    var customerID: String { get }
    /// `YYYY-MM-DD`.
    var date: String { get }
    /// The JSON object a message's `data` carries: snake_case, numbers written from exact decimals.
    var rowJSON: String { get }
    /// The CSV fields of a file upload, in `sentColumns` order, unquoted (the packer quotes).
    var csvFields: [String] { get }
    /// SHA-256 of what is sent: equal hashes mean nothing to send again.
    var sentHash: String { get }
    /// Every figure, sent or kept, as the store keeps it.
    var figuresJSON: String { get }
    static var sentColumns: [String] { get }
    /// The feed's name in its batch ids, so rows of two feeds never share one.
    static var feedName: String { get }
}

import Crypto
import Foundation
import MTSyncBridge
import MTSyncCore

/// Writes a dataset as a CSV drop, exactly as bridge-protocol/README.md §7 asks a real export job to: one file
/// per server day under `<root>/<server>/incoming/`, each written under a temporary name, fsync'ed and renamed,
/// then its manifest published the same way. Tests and the demo use it as the reference writer.
public struct DropFolderWriter: Sendable {
    public let root: URL

    public init(root: String) {
        self.root = URL(fileURLWithPath: root)
    }

    /// Publishes the dataset's accounts file (with `accounts`; its name sorts first, so it is taken before the
    /// days it decides), then one file per day of `dataset` (deals for MT5, closed trades for MT4), and returns the
    /// names.
    @discardableResult
    public func publish(_ dataset: SimulatedDataset, generation: Int = 0, sequence: Int = 1, accounts: Bool = true, daily: Bool = false) throws -> [String] {
        let incoming = root.appending(path: "\(dataset.configuration.serverID)/incoming")
        try FileManager.default.createDirectory(at: incoming, withIntermediateDirectories: true)
        var names: [String] = accounts ? [try publishAccounts(dataset, generation: generation, sequence: sequence)] : []
        let firstDay = dataset.configuration.firstDay
        for day in firstDay..<firstDay + Int64(dataset.configuration.days) {
            let from = day * 86_400_000, to = from + 86_400_000
            let stream: DropStream
            let csv: [UInt8]
            switch dataset.configuration.platform {
            case .mt5:
                stream = .deals
                csv = DropCSVWriter.file(dataset.deals(onDay: day, generation: generation))
            case .mt4:
                stream = .trades
                csv = DropCSVWriter.file(dataset.closedTrades(onDay: day, generation: generation).map(\.record))
            }
            names.append(try publish(csv, stream: stream, from: from, to: to, sequence: sequence, server: dataset.configuration.serverID))
        }
        if daily { names += try publishDaily(dataset, generation: generation, sequence: sequence) }
        return names
    }

    /// Publishes the dataset's end-of-day records (§4.8) at `generation`, one `daily` file per server day.
    @discardableResult
    public func publishDaily(_ dataset: SimulatedDataset, generation: Int = 0, sequence: Int = 1) throws -> [String] {
        let records = Dictionary(grouping: dataset.dailyRecords(generation: generation)) { $0.day ?? "" }
        return try records.keys.sorted().compactMap { day in
            guard let number = CivilDate.days(parsing: day) else { return nil }
            let from = number * 86_400_000
            return try publish(DropCSVWriter.file(records[day]!), stream: .daily, from: from, to: from + 86_400_000, sequence: sequence, server: dataset.configuration.serverID)
        }
    }

    /// Publishes generation 1's edits and deletions (what the `changes` method serves) as one `changes` file (§7.1).
    @discardableResult
    public func publishChanges(_ dataset: SimulatedDataset, sequence: Int = 1) throws -> String {
        let changes = dataset.changes()
        var csv = Array(("seq,op," + MT5DealRecord.fieldNames.joined(separator: ",") + "\n").utf8)
        for change in changes {
            let row = DropCSVWriter.file([change.record]).split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)[1]
            csv += Array("\(change.seq),\(change.op),".utf8) + row + [UInt8(ascii: "\n")]
        }
        let at = dataset.range.lowerBound
        return try publish(csv, stream: .changes, from: at, to: dataset.range.upperBound, sequence: sequence, server: dataset.configuration.serverID)
    }

    /// Publishes the dataset's accounts at `generation` as one `accounts` file (a snapshot: its range is the dataset's
    /// start twice) and returns its name.
    @discardableResult
    public func publishAccounts(_ dataset: SimulatedDataset, generation: Int = 0, sequence: Int = 1) throws -> String {
        let at = dataset.range.lowerBound
        return try publish(DropCSVWriter.file(dataset.accountRecords(generation: generation)), stream: .accounts, from: at, to: at, sequence: sequence, server: dataset.configuration.serverID)
    }

    /// Writes one file and its manifest, atomically each (§7.3).
    public func publish(_ csv: [UInt8], stream: DropStream, from: Int64, to: Int64, sequence: Int, server: String) throws -> String {
        let incoming = root.appending(path: "\(server)/incoming")
        try FileManager.default.createDirectory(at: incoming, withIntermediateDirectories: true)
        let name = "\(stream.rawValue)-\(Self.stamp(from))-\(Self.stamp(to))-\(String(format: "%04d", sequence)).csv"
        try Self.writeAtomically(Data(csv), to: incoming.appending(path: name))
        let rows = csv.reduce(0) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 } - 1
        let manifest = DropManifest(
            file: name, serverID: server, stream: stream, fromMilliseconds: from, toMilliseconds: to,
            rows: rows, sha256: Hex.encode(SHA256.hash(data: csv)), createdUTC: ISO8601DateFormatter().string(from: Date()))
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        try Self.writeAtomically(try encoder.encode(manifest), to: incoming.appending(path: name + ".manifest.json"))
        return name
    }

    /// `YYYYMMDDTHHMMSS` of a server-time millisecond count.
    static func stamp(_ milliseconds: Int64) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: Date(timeIntervalSince1970: TimeInterval(milliseconds / 1000)))
        return String(format: "%04d%02d%02dT%02d%02d%02d", parts.year!, parts.month!, parts.day!, parts.hour!, parts.minute!, parts.second!)
    }

    /// Temporary name (not ending in `.csv`), fsync, rename: a reader never sees a half-written file.
    static func writeAtomically(_ data: Data, to url: URL) throws {
        let temporary = url.deletingLastPathComponent().appending(path: url.lastPathComponent + ".tmp")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: temporary.path])
        }
        let handle = try FileHandle(forWritingTo: temporary)
        try handle.write(contentsOf: data)
        try handle.synchronize()
        try handle.close()
        guard rename(temporary.path, url.path) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path])
        }
    }
}

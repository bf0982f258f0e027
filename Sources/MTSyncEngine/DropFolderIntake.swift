import MTSyncBridge
import MTSyncCore
import MTSyncStore

/// Takes the files of one server's CSV drop (bridge-protocol/README.md §7.4), each exactly once.
///
/// Per file: verify it against its manifest (nothing is stored from a file that fails); then, in **one
/// transaction**, look it up in the ledger, hand its records to the caller's sink in batches, quarantine its
/// bad rows with line number, reason and raw bytes, and record it as taken. Only after COMMIT is the file moved
/// to `processed/`. A crash anywhere leaves either nothing stored (the file is read again) or everything stored
/// and the file in the ledger (found again, it is a duplicate and only moved). A database error leaves the file
/// in `incoming/` for the next pass.
public struct DropFolderIntake: Sendable {
    public let folder: DropFolder
    public let connection: PostgresConnection
    /// Records handed to the sink at a time: bounds memory whatever the file's size.
    public var batchSize: Int

    public init(folder: DropFolder, connection: PostgresConnection, batchSize: Int = 1_000) {
        self.folder = folder
        self.connection = connection
        self.batchSize = batchSize
    }

    /// Stores one batch of a file's records inside the file's transaction (later: normalize and merge facts).
    public typealias RecordSink = @Sendable (_ records: [DropRecord], _ file: VerifiedDropFile, _ connection: isolated PostgresConnection) throws -> Void

    public enum Outcome: Sendable, Hashable {
        /// Stored: `records` went to the sink, `quarantined` rows to quarantine.
        case stored(records: Int, quarantined: Int)
        /// Taken before with the same content: moved to `processed/`, nothing stored again.
        case duplicate
        /// Moved to `rejected/` with `<file>.reason.txt`.
        case rejected(DropFileProblem)
    }

    public struct FileReport: Sendable, Hashable {
        public let name: String
        public let outcome: Outcome
    }

    /// Takes every ready file in name order (of `only` those streams, when given) and says what became of each.
    public func takeReadyFiles(only streams: Set<DropStream>? = nil, _ sink: @escaping RecordSink) async throws -> [FileReport] {
        var reports: [FileReport] = []
        for name in try folder.readyFiles() {
            if let streams, let stream = try? DropFileName(name).stream, !streams.contains(stream) { continue }
            try Task.checkCancellation()
            reports.append(FileReport(name: name, outcome: try await take(name, sink)))
        }
        return reports
    }

    private enum Taken: Sendable {
        case stored(records: Int, quarantined: Int)
        case duplicate
        case changed(DropFileProblem)
    }

    /// Takes one file.
    public func take(_ name: String, _ sink: @escaping RecordSink) async throws -> Outcome {
        let file: VerifiedDropFile
        do {
            file = try folder.verify(name)
        } catch {
            try folder.reject(name, because: error)
            return .rejected(error)
        }
        let folder = self.folder, batchSize = self.batchSize, fence = ServerLease.fence
        let taken: Taken
        do {
            taken = try await connection.transaction(name: "take drop file") { connection in
                try ServerLease.assertFenced(fence, on: connection)
                switch try DropFileLedger.entry(serverID: folder.serverID, fileName: file.name, on: connection) {
                case .taken(let sha256) where sha256 == file.sha256:
                    return .duplicate
                case .taken:
                    return .changed(DropFileProblem(code: .changedContent, "a file of this name with other content was taken before; a changed export must be published under a new name (bridge-protocol/README.md §7.4)"))
                case .new:
                    break
                }
                var stored = 0, quarantined = 0
                try folder.readRecords(file, batchSize: batchSize) { batch in
                    var records: [DropRecord] = []
                    records.reserveCapacity(batch.count)
                    for result in batch {
                        switch result {
                        case .success(let record): records.append(record)
                        case .failure(let problem):
                            try QuarantineEntry(
                                serverID: folder.serverID, stream: file.stream.rawValue, source: "csv:\(file.name)", lineNumber: problem.lineNumber,
                                reasonCode: problem.code, reason: problem.reason, raw: problem.raw
                            ).insert(on: connection)
                            quarantined += 1
                        }
                    }
                    if !records.isEmpty { try sink(records, file, connection) }
                    stored += records.count
                }
                try DropFileLedger.recordTaken(
                    serverID: folder.serverID, fileName: file.name, sha256: file.sha256, stream: file.stream.rawValue,
                    rows: stored + quarantined, quarantined: quarantined, on: connection)
                return .stored(records: stored, quarantined: quarantined)
            }
        } catch let problem as DropFileProblem {
            // The file changed under us after it was verified: nothing was stored (the transaction rolled back).
            try folder.reject(name, because: problem)
            return .rejected(problem)
        }
        switch taken {
        case .stored(let records, let quarantined):
            try folder.moveToProcessed(name)
            return .stored(records: records, quarantined: quarantined)
        case .duplicate:
            try folder.moveToProcessed(name)
            return .duplicate
        case .changed(let problem):
            try folder.reject(name, because: problem)
            return .rejected(problem)
        }
    }
}

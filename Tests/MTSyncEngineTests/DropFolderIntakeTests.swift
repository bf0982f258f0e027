import Crypto
import Foundation
import MTBridgeSimulator
import MTSyncBridge
import MTSyncCore
import MTSyncEngine
import MTSyncStore
import MTSyncTestSupport
import Testing

/// A drop folder in a temporary directory, published to the way bridge-protocol/README.md §7.3 says a writer
/// must: the CSV first, then its manifest.
struct TestDrop {
    static let serverID = "drop-mt5"
    let root: URL

    init() throws {
        root = FileManager.default.temporaryDirectory.appending(path: "mtsync-drop-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root.appending(path: "\(Self.serverID)/incoming"), withIntermediateDirectories: true)
    }

    var incoming: URL { root.appending(path: "\(Self.serverID)/incoming") }
    func path(_ folder: String, _ name: String) -> String { root.appending(path: "\(Self.serverID)/\(folder)/\(name)").path }
    func exists(_ folder: String, _ name: String) -> Bool { FileManager.default.fileExists(atPath: path(folder, name)) }

    @discardableResult
    func publish(_ name: String, csv: String, rows: Int? = nil, sha256: String? = nil, serverID: String = TestDrop.serverID, stream: String = "deals") throws -> Data {
        let bytes = Data(csv.utf8)
        try bytes.write(to: incoming.appending(path: name))
        let dataRows = rows ?? csv.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true).count - 1
        let manifest: [String: Any] = [
            "file": name, "server_id": serverID, "stream": stream, "from_ms": 1_735_689_600_000, "to_ms": 1_735_776_000_000,
            "rows": dataRows, "sha256": sha256 ?? Hex.encode(SHA256.hash(data: bytes)), "created_utc": "2025-01-02T00:05:00Z",
        ]
        try JSONSerialization.data(withJSONObject: manifest).write(to: incoming.appending(path: name + ".manifest.json"))
        return bytes
    }

    static let header = "Deal,Login,Action,Entry,TimeMsc,Symbol,VolumeExt,Price,Profit,Comment"
    static func dealLine(_ deal: Int, comment: String = "") -> String {
        "\(deal),1001,0,0,\(1_735_725_600_000 + deal),EURUSD.pro,100000000,1.0342,0,\(comment)"
    }
}

@Suite("CSV drop intake against a real PostgreSQL")
struct DropFolderIntakeTests {
    /// A migrated database with the drop server registered and a table standing in for the fact store.
    static func database() async throws -> PostgresConnection {
        let (_, connection) = try await TestDatabase.migrated()
        try await connection.query("INSERT INTO servers (server_id, platform, time_zone) VALUES (\(TestDrop.serverID), 'mt5', 'ny-close')")
        try await connection.execute(script: "CREATE TABLE stored_deals (deal bigint PRIMARY KEY, comment text)")
        return connection
    }

    /// Stores each deal in `stored_deals`; a PRIMARY KEY violation would expose a deal stored twice.
    static let sink: DropFolderIntake.RecordSink = { records, _, connection in
        for case .deal(let deal) in records {
            try connection.query("INSERT INTO stored_deals (deal, comment) VALUES (\(deal.deal ?? ""), \(deal.comment))")
        }
    }

    static func storedDeals(_ connection: PostgresConnection) async throws -> [Int64] {
        try await connection.query("SELECT deal FROM stored_deals ORDER BY deal").map { try $0.decode(Int64.self, 0) }
    }

    static func intake(_ drop: TestDrop, _ connection: PostgresConnection, batchSize: Int = 1_000) throws -> DropFolderIntake {
        DropFolderIntake(folder: try DropFolder(root: drop.root.path, serverID: TestDrop.serverID), connection: connection, batchSize: batchSize)
    }

    static let fileName = "deals-20250101T000000-20250102T000000-0001.csv"

    @Test("a file is stored once: records to the store, bad rows to quarantine with line and raw bytes, then moved to processed/")
    func storesAndQuarantines() async throws {
        let drop = try TestDrop()
        let connection = try await Self.database()
        let csv = [TestDrop.header, TestDrop.dealLine(1, comment: "\"quoted, with comma\""), "x2,1001,0,0,1735725600002,EURUSD,1,1,0,", TestDrop.dealLine(3), "4,1001", TestDrop.dealLine(5)]
            .joined(separator: "\r\n") + "\r\n"
        try drop.publish(Self.fileName, csv: csv)
        let reports = try await Self.intake(drop, connection, batchSize: 2).takeReadyFiles(Self.sink)
        #expect(reports.map(\.outcome) == [.stored(records: 3, quarantined: 2)])
        #expect(try await Self.storedDeals(connection) == [1, 3, 5])
        let comment = try await connection.query("SELECT comment FROM stored_deals WHERE deal = 1")[0].decode(String.self, 0)
        #expect(comment == "quoted, with comma")

        let quarantined = try await QuarantineEntry.open(serverID: TestDrop.serverID, on: connection).sorted { ($0.lineNumber ?? 0) < ($1.lineNumber ?? 0) }
        #expect(quarantined.map(\.lineNumber) == [3, 5])
        #expect(quarantined.map(\.reasonCode) == ["bad_identity", "column_count"])
        #expect(quarantined.first?.raw == Array("x2,1001,0,0,1735725600002,EURUSD,1,1,0,".utf8))
        #expect(quarantined.allSatisfy { $0.source == "csv:\(Self.fileName)" && $0.stream == "deals" })

        let ledger = try await connection.query("SELECT rows, quarantined FROM drop_files WHERE file_name = \(Self.fileName)")
        #expect(try ledger[0].decode(Int.self, 0) == 5 && ledger[0].decode(Int.self, 1) == 2)
        #expect(drop.exists("processed", Self.fileName) && drop.exists("processed", Self.fileName + ".manifest.json"))
        #expect(!drop.exists("incoming", Self.fileName))
    }

    @Test("the same file published again is a duplicate: moved aside, nothing stored twice")
    func duplicate() async throws {
        let drop = try TestDrop()
        let connection = try await Self.database()
        let csv = [TestDrop.header, TestDrop.dealLine(1), TestDrop.dealLine(2)].joined(separator: "\n") + "\n"
        try drop.publish(Self.fileName, csv: csv)
        _ = try await Self.intake(drop, connection).takeReadyFiles(Self.sink)
        try drop.publish(Self.fileName, csv: csv)
        let again = try await Self.intake(drop, connection).takeReadyFiles(Self.sink)
        #expect(again.map(\.outcome) == [.duplicate])
        #expect(try await Self.storedDeals(connection) == [1, 2])
        #expect(!drop.exists("incoming", Self.fileName))
    }

    @Test("the same name with other content is refused with a reason file; the first content stays")
    func changedContent() async throws {
        let drop = try TestDrop()
        let connection = try await Self.database()
        try drop.publish(Self.fileName, csv: [TestDrop.header, TestDrop.dealLine(1)].joined(separator: "\n") + "\n")
        _ = try await Self.intake(drop, connection).takeReadyFiles(Self.sink)
        try drop.publish(Self.fileName, csv: [TestDrop.header, TestDrop.dealLine(1), TestDrop.dealLine(9)].joined(separator: "\n") + "\n")
        let reports = try await Self.intake(drop, connection).takeReadyFiles(Self.sink)
        guard case .rejected(let problem) = reports.first?.outcome else {
            Issue.record("expected a rejection, got \(reports)")
            return
        }
        #expect(problem.code == .changedContent)
        #expect(try await Self.storedDeals(connection) == [1])
        let reason = try String(contentsOfFile: drop.path("rejected", Self.fileName + ".reason.txt"), encoding: .utf8)
        #expect(reason.hasPrefix("changed_content:"))
    }

    @Test("a file that does not match its manifest is rejected before anything is stored", arguments: [
        ("checksum", DropFileProblem.Code.checksumMismatch),
        ("rows", DropFileProblem.Code.rowCountMismatch),
        ("server", DropFileProblem.Code.badManifest),
        ("stream", DropFileProblem.Code.badManifest),
        ("header", DropFileProblem.Code.noHeader),
        ("empty", DropFileProblem.Code.noHeader),
    ])
    func manifestMismatch(kind: String, code: DropFileProblem.Code) async throws {
        let drop = try TestDrop()
        let connection = try await Self.database()
        let csv = [TestDrop.header, TestDrop.dealLine(1)].joined(separator: "\n") + "\n"
        switch kind {
        case "checksum": try drop.publish(Self.fileName, csv: csv, sha256: String(repeating: "0", count: 64))
        case "rows": try drop.publish(Self.fileName, csv: csv, rows: 7)
        case "server": try drop.publish(Self.fileName, csv: csv, serverID: "another-server")
        case "stream": try drop.publish(Self.fileName, csv: csv, stream: "trades")
        case "header": try drop.publish(Self.fileName, csv: "Deal,Login\n1,1001\n")
        default: try drop.publish(Self.fileName, csv: "", rows: 0)
        }
        let reports = try await Self.intake(drop, connection).takeReadyFiles(Self.sink)
        guard case .rejected(let problem) = reports.first?.outcome else {
            Issue.record("expected a rejection, got \(reports)")
            return
        }
        #expect(problem.code == code, "\(problem)")
        #expect(try await Self.storedDeals(connection).isEmpty)
        #expect(drop.exists("rejected", Self.fileName) && drop.exists("rejected", Self.fileName + ".reason.txt"))
        let taken = try await connection.query("SELECT count(*) FROM drop_files")[0].decode(Int.self, 0)
        #expect(taken == 0)
    }

    @Test("files without a manifest yet, and temporary files, are left alone")
    func notReady() async throws {
        let drop = try TestDrop()
        let connection = try await Self.database()
        try Data("Deal\n".utf8).write(to: drop.incoming.appending(path: Self.fileName))
        try Data("Deal\n".utf8).write(to: drop.incoming.appending(path: "deals-20250102T000000-20250103T000000-0001.csv.tmp"))
        #expect(try await Self.intake(drop, connection).takeReadyFiles(Self.sink).isEmpty)
        #expect(drop.exists("incoming", Self.fileName))
    }

    @Test("a symbolic link in incoming/ is refused, not followed; an incoming/ that leads outside the drop is refused")
    func symlinks() async throws {
        let drop = try TestDrop()
        let connection = try await Self.database()
        let outside = FileManager.default.temporaryDirectory.appending(path: "mtsync-outside-\(UUID().uuidString).csv")
        let csv = [TestDrop.header, TestDrop.dealLine(1)].joined(separator: "\n") + "\n"
        try Data(csv.utf8).write(to: outside)
        try FileManager.default.createSymbolicLink(at: drop.incoming.appending(path: Self.fileName), withDestinationURL: outside)
        let bytes = Data(csv.utf8)
        let manifest: [String: Any] = ["file": Self.fileName, "server_id": TestDrop.serverID, "stream": "deals", "from_ms": 0, "to_ms": 1, "rows": 1, "sha256": Hex.encode(SHA256.hash(data: bytes))]
        try JSONSerialization.data(withJSONObject: manifest).write(to: drop.incoming.appending(path: Self.fileName + ".manifest.json"))
        let reports = try await Self.intake(drop, connection).takeReadyFiles(Self.sink)
        guard case .rejected(let problem) = reports.first?.outcome else {
            Issue.record("expected a rejection, got \(reports)")
            return
        }
        #expect(problem.code == .outsideDropFolder)
        #expect(try await Self.storedDeals(connection).isEmpty)
        #expect(FileManager.default.fileExists(atPath: outside.path), "the link's target is never touched")

        let escapeRoot = FileManager.default.temporaryDirectory.appending(path: "mtsync-drop-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: escapeRoot.appending(path: "srv"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: escapeRoot.appending(path: "srv/incoming"), withDestinationURL: FileManager.default.temporaryDirectory)
        #expect(throws: DropFileProblem.self) { try DropFolder(root: escapeRoot.path, serverID: "srv") }
        #expect(throws: DropFileProblem.self) { try DropFolder(root: escapeRoot.path, serverID: "../etc") }
    }

    /// Issue 20, finding 7: a hard link in incoming/ gave mtsync the bytes of a file that lives elsewhere (a
    /// second name needs no permission on the folder that holds the first), and moved that name into processed/.
    @Test("a hard link in incoming/ (the file or its manifest) is rejected with hard_link; the other name is never touched", arguments: ["csv", "manifest"])
    func hardLinks(which: String) async throws {
        let drop = try TestDrop()
        let connection = try await Self.database()
        let csv = [TestDrop.header, TestDrop.dealLine(1)].joined(separator: "\n") + "\n"
        try drop.publish(Self.fileName, csv: csv)
        let linked = drop.incoming.appending(path: which == "csv" ? Self.fileName : Self.fileName + ".manifest.json")
        let elsewhere = FileManager.default.temporaryDirectory.appending(path: "mtsync-elsewhere-\(UUID().uuidString)")
        #expect(link(linked.path, elsewhere.path) == 0, "cannot make the hard link: \(String(cString: strerror(errno)))")
        defer { try? FileManager.default.removeItem(at: elsewhere) }

        let reports = try await Self.intake(drop, connection).takeReadyFiles(Self.sink)
        guard case .rejected(let problem) = reports.first?.outcome else {
            Issue.record("expected a rejection, got \(reports)")
            return
        }
        #expect(problem.code == .hardLink, "\(problem)")
        #expect(problem.reason.contains("2 names"), "\(problem)")
        #expect(try await Self.storedDeals(connection).isEmpty)
        #expect(drop.exists("rejected", Self.fileName + ".reason.txt"))
        #expect(FileManager.default.fileExists(atPath: elsewhere.path), "the other name stays where it was")
    }

    @Test("a file over the folder's max_file_size is rejected with too_large before a byte of it is stored; at the cap it is taken")
    func sizeCap() async throws {
        let drop = try TestDrop()
        let connection = try await Self.database()
        let csv = ([TestDrop.header] + (1...50).map { TestDrop.dealLine($0) }).joined(separator: "\n") + "\n"
        let size = Int64(csv.utf8.count)
        try drop.publish(Self.fileName, csv: csv)
        let small = DropFolderIntake(folder: try DropFolder(root: drop.root.path, serverID: TestDrop.serverID, maxFileBytes: size - 1), connection: connection)
        let reports = try await small.takeReadyFiles(Self.sink)
        guard case .rejected(let problem) = reports.first?.outcome else {
            Issue.record("expected a rejection, got \(reports)")
            return
        }
        #expect(problem.code == .tooLarge, "\(problem)")
        #expect(problem.reason.contains("max_file_size"), "\(problem)")
        #expect(try await Self.storedDeals(connection).isEmpty)

        let secondName = "deals-20250101T000000-20250102T000000-0002.csv"
        try drop.publish(secondName, csv: csv)
        let exact = DropFolderIntake(folder: try DropFolder(root: drop.root.path, serverID: TestDrop.serverID, maxFileBytes: size), connection: connection)
        let taken = try await exact.takeReadyFiles(Self.sink)
        #expect(taken.first?.outcome == .stored(records: 50, quarantined: 0))
    }

    @Test("a FIFO named like a drop file or its manifest is refused at once, never waited on (security.md G5)", arguments: ["csv", "manifest"])
    func fifo(which: String) async throws {
        let drop = try TestDrop()
        let connection = try await Self.database()
        let csv = [TestDrop.header, TestDrop.dealLine(1)].joined(separator: "\n") + "\n"
        try drop.publish(Self.fileName, csv: csv)
        let fifo = drop.incoming.appending(path: which == "csv" ? Self.fileName : Self.fileName + ".manifest.json")
        try FileManager.default.removeItem(at: fifo)
        #expect(mkfifo(fifo.path, 0o600) == 0)
        // Should the intake wait on the FIFO after all, a writer opens it after 20 s so the test ends and fails
        // on the time it took instead of hanging the suite.
        let unblocker = Thread {
            Thread.sleep(forTimeInterval: 20)
            let descriptor = open(fifo.path, O_WRONLY | O_NONBLOCK)
            if descriptor >= 0 { close(descriptor) }
        }
        unblocker.start()
        let started = ContinuousClock.now
        let reports = try await Self.intake(drop, connection).takeReadyFiles(Self.sink)
        #expect(ContinuousClock.now - started < .seconds(15), "the intake waited on the FIFO")
        guard case .rejected(let problem) = reports.first?.outcome else {
            Issue.record("expected a rejection, got \(reports)")
            return
        }
        #expect(problem.code == .outsideDropFolder && problem.reason.contains("not a regular file"), "\(problem)")
        #expect(try await Self.storedDeals(connection).isEmpty)
    }

    @Test("a failure while storing rolls the whole file back and leaves it in incoming/; the next pass stores it once")
    func failureMidFile() async throws {
        struct StoreFailed: Error {}
        let drop = try TestDrop()
        let connection = try await Self.database()
        let csv = ([TestDrop.header] + (1...10).map { TestDrop.dealLine($0) }).joined(separator: "\n") + "\n"
        try drop.publish(Self.fileName, csv: csv)
        let failing: DropFolderIntake.RecordSink = { records, file, connection in
            try Self.sink(records, file, connection)
            if case .deal(let last) = records.last, last.deal == "6" { throw StoreFailed() }
        }
        await #expect(throws: StoreFailed.self) { try await Self.intake(drop, connection, batchSize: 3).takeReadyFiles(failing) }
        #expect(try await Self.storedDeals(connection).isEmpty)
        #expect(drop.exists("incoming", Self.fileName))

        let reports = try await Self.intake(drop, connection, batchSize: 3).takeReadyFiles(Self.sink)
        #expect(reports.map(\.outcome) == [.stored(records: 10, quarantined: 0)])
        #expect(try await Self.storedDeals(connection) == Array(1...10))
    }

    @Test("stored but not yet moved (a crash between COMMIT and rename): found again, it is a duplicate")
    func crashBeforeMove() async throws {
        let drop = try TestDrop()
        let connection = try await Self.database()
        let csv = [TestDrop.header, TestDrop.dealLine(1)].joined(separator: "\n") + "\n"
        let bytes = try drop.publish(Self.fileName, csv: csv)
        let file = try DropFolder(root: drop.root.path, serverID: TestDrop.serverID).verify(Self.fileName)
        try await connection.transaction { connection in
            try connection.query("INSERT INTO stored_deals (deal) VALUES (1)")
            try DropFileLedger.recordTaken(
                serverID: TestDrop.serverID, fileName: Self.fileName, sha256: Array(SHA256.hash(data: bytes)), stream: "deals", rows: 1, quarantined: 0,
                on: connection)
        }
        #expect(file.sha256 == Array(SHA256.hash(data: bytes)))
        let reports = try await Self.intake(drop, connection).takeReadyFiles(Self.sink)
        #expect(reports.map(\.outcome) == [.duplicate])
        #expect(try await Self.storedDeals(connection) == [1])
    }
}

@Suite("The simulator's CSV drop, read back through the intake")
struct SimulatorDropRoundTripTests {
    @Test("every deal the reference writer publishes is stored exactly once, with nothing quarantined", arguments: [Platform.mt5, Platform.mt4])
    func roundTrip(platform: Platform) async throws {
        let root = FileManager.default.temporaryDirectory.appending(path: "mtsync-simdrop-\(UUID().uuidString)")
        let serverID = "sim-\(platform.rawValue)"
        let dataset = SimulatedDataset(.init(seed: 7, serverID: serverID, days: 3, dealsPerDay: 150, logins: 12, platform: platform))
        let names = try DropFolderWriter(root: root.path).publish(dataset)
        #expect(names.count == 4, "the accounts file and one file a day")
        #expect(names.first?.hasPrefix("accounts-") == true)

        let (_, connection) = try await TestDatabase.migrated()
        try await connection.query("INSERT INTO servers (server_id, platform, time_zone) VALUES (\(serverID), \(platform.rawValue), 'ny-close')")
        try await connection.execute(script: "CREATE TABLE stored (ticket numeric PRIMARY KEY)")
        let intake = DropFolderIntake(folder: try DropFolder(root: root.path, serverID: serverID), connection: connection, batchSize: 64)
        let reports = try await intake.takeReadyFiles { records, _, connection in
            for record in records {
                switch record {
                case .deal(let deal): try connection.query("INSERT INTO stored VALUES (\(deal.deal ?? "")::numeric)")
                case .trade(let trade): try connection.query("INSERT INTO stored VALUES (\(trade.order ?? "")::numeric)")
                default: break
                }
            }
        }
        let expected = (dataset.configuration.firstDay..<dataset.configuration.firstDay + 3).reduce(0) { total, day in
            total + (platform == .mt5 ? dataset.deals(onDay: day).count : dataset.closedTrades(onDay: day).count)
        }
        #expect(reports.count == 4)
        #expect(reports.allSatisfy { if case .stored(_, 0) = $0.outcome { true } else { false } }, "\(reports)")
        let stored = try await connection.query("SELECT count(*) FROM stored")[0].decode(Int.self, 0)
        #expect(stored == expected && expected > 0)
    }
}

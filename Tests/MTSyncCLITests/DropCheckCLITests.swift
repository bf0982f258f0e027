import Crypto
import Foundation
import Testing

@Suite("mtsync drop check")
struct DropCheckCLITests {
    /// Publishes `csv` with a correct manifest under `<root>/srv/incoming/`.
    static func drop(_ csv: String, rows: Int) throws -> URL {
        let root = FileManager.default.temporaryDirectory.appending(path: "mtsync-dropcheck-\(UUID().uuidString)")
        let incoming = root.appending(path: "srv/incoming")
        try FileManager.default.createDirectory(at: incoming, withIntermediateDirectories: true)
        let name = "deals-20250101T000000-20250102T000000-0001.csv"
        let bytes = Data(csv.utf8)
        try bytes.write(to: incoming.appending(path: name))
        let sha = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
        let manifest = #"{"file":"\#(name)","server_id":"srv","stream":"deals","from_ms":0,"to_ms":86400000,"rows":\#(rows),"sha256":"\#(sha)"}"#
        try Data(manifest.utf8).write(to: incoming.appending(path: name + ".manifest.json"))
        return root
    }

    @Test("a clean file: exit 0, nothing moved")
    func clean() async throws {
        let root = try Self.drop("Deal,Login,TimeMsc\n1,1001,1735725600000\n", rows: 1)
        let result = try await CLI.launch(["drop", "check", "--server", "srv", root.path])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("1 record(s), 0 bad row(s)"))
        #expect(FileManager.default.fileExists(atPath: root.appending(path: "srv/incoming/deals-20250101T000000-20250102T000000-0001.csv").path))
    }

    @Test("bad rows and rejected files are listed with line numbers and reasons; exit 65")
    func problems() async throws {
        let root = try Self.drop("Deal,Login,TimeMsc\n1,1001,1735725600000\n\"x\",1001,5\n", rows: 2)
        let result = try await CLI.launch(["drop", "check", "--server", "srv", "--json", root.path])
        #expect(result.status == 65)
        let report = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let file = (report?["files"] as? [[String: Any]])?.first
        #expect(file?["bad_rows"] as? [String] == [#"line 3: bad_identity: Deal "x" is not an unsigned integer"#])

        let wrongCount = try Self.drop("Deal,Login,TimeMsc\n1,1001,1735725600000\n", rows: 5)
        let rejected = try await CLI.launch(["drop", "check", "--server", "srv", wrongCount.path])
        #expect(rejected.status == 65)
        #expect(rejected.stdout.contains("rejected — row_count_mismatch"))
    }
}

@Suite("mtsync bridge check")
struct BridgeCheckCLITests {
    @Test("without a key, or with a malformed address, it is a configuration error (78) and says how to give the key")
    func configuration() async throws {
        let noKey = try await CLI.launch(["bridge", "check", "--address", "127.0.0.1:1", "--key-id", "k"], environment: ["MTSYNC_BRIDGE_KEY": ""])
        #expect(noKey.status == 78, "\(noKey.stderr)")
        #expect(noKey.stderr.contains("--key-file"))
        let badAddress = try await CLI.launch(["bridge", "check", "--address", "nowhere", "--key-id", "k"], environment: ["MTSYNC_BRIDGE_KEY": String(repeating: "ab", count: 32)])
        #expect(badAddress.status == 78)
        #expect(badAddress.stderr.contains("host:port"))
    }

    @Test("an unreachable bridge exits 69 and never prints the key")
    func unreachable() async throws {
        let key = String(repeating: "c3", count: 32)
        let result = try await CLI.launch(["bridge", "check", "--address", "127.0.0.1:1", "--key-id", "k"], environment: ["MTSYNC_BRIDGE_KEY": key])
        #expect(result.status == 69, "\(result.stderr)")
        #expect(!result.stderr.contains(key) && !result.stdout.contains(key))
    }
}

import Foundation
import MTSyncBridge
import MTSyncCore

/// Where fuzzing starts from: real examples of each format. `fromRepository` builds them from the repository's
/// own examples (the bridge protocol's golden transcripts and checksum vectors, docs/examples, the CSV drop
/// test fixtures); `mtsync-fuzz corpus` writes them to fuzz/corpus/<target>/, which is committed, and from
/// where both the seeded loop and libFuzzer read them. A few built-in seeds stand in when no corpus is found.
public enum SeedCorpus {
    public struct Seed: Sendable, Hashable {
        public let name: String
        public let bytes: [UInt8]

        public init(name: String, bytes: [UInt8]) {
            self.name = name
            self.bytes = bytes
        }

        init(_ name: String, _ text: String) { self.init(name: name, bytes: Array(text.utf8)) }
    }

    /// The files of `directory`, by name (so runs reproduce); empty when it does not exist.
    public static func load(directory: URL) -> [Seed] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().compactMap { name in
            FileManager.default.contents(atPath: directory.appending(path: name).path).map { Seed(name: name, bytes: Array($0)) }
        }
    }

    /// Writes the seeds of every target under `directory/<target>/`, replacing what was there.
    public static func write(_ corpus: [FuzzTarget: [Seed]], to directory: URL) throws {
        for (target, seeds) in corpus {
            let folder = directory.appending(path: target.rawValue)
            try? FileManager.default.removeItem(at: folder)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for seed in seeds { try Data(seed.bytes).write(to: folder.appending(path: seed.name)) }
        }
    }

    // MARK: - From the repository's examples

    public static func fromRepository(_ root: URL) throws -> [FuzzTarget: [Seed]] {
        let transcripts = root.appending(path: "bridge-protocol/transcripts")
        let names = try FileManager.default.contentsOfDirectory(atPath: transcripts.path).filter { $0.hasSuffix(".jsonl") }.sorted()
        var bridge: [Seed] = []
        var firstOfType: [String: [UInt8]] = [:]
        var vectorRecords: [(platform: String, record: JSONValue)] = []
        for name in names {
            let entries = try lines(of: transcripts.appending(path: name)).compactMap { try? JSONValue(parsing: $0) }
            // What the bridge sent, one line each, as it was on the wire (members in order).
            let sent = entries.compactMap { entry -> [UInt8]? in
                guard entry["from"] == .string("bridge"), let line = entry["line"] else { return nil }
                return line.serialized()
            }
            if !sent.isEmpty {
                bridge.append(Seed(name: "transcript-" + name.dropLast(6), bytes: Array(sent.prefix(12).joined(separator: [0x0A]))))
            }
            for line in sent {
                if case .string(let type)? = (try? JSONValue(parsing: line))?["type"], firstOfType[type] == nil { firstOfType[type] = line }
            }
            for entry in entries {
                if let vector = entry["vector"], case .string(let platform)? = vector["platform"], let record = vector["record"] {
                    vectorRecords.append((platform, record))
                }
            }
        }
        for (type, line) in firstOfType.sorted(by: { $0.key < $1.key }) { bridge.append(Seed(name: "line-\(type)", bytes: line)) }
        for (index, vector) in vectorRecords.enumerated() {
            let type = vector.platform == "mt4" ? "trade" : "deal"
            let line = JSONValue.object([("type", .string(type)), ("id", "r1"), ("data", vector.record)]).serialized()
            bridge.append(Seed(name: "vector-\(index + 1)-\(type)", bytes: line))
        }
        let examples = root.appending(path: "docs/examples")
        let flatDeals = try lines(of: examples.appending(path: "mt5-deals.ndjson"))
        for (index, line) in flatDeals.enumerated() { bridge.append(Seed(name: "mt5-deals-\(index + 1)", bytes: line)) }

        var csv = builtInCSV
        let deals = flatDeals.compactMap { try? RawRecordDecoder.mt5Deal(fromLine: $0) }
        csv.append(Seed(name: "example-deals.csv", bytes: DropCSVWriter.file(deals)))
        let trades = vectorRecords.filter { $0.platform == "mt4" }.compactMap { try? RawRecordDecoder.mt4Trade(fromLine: $0.record.serialized()) }
        if !trades.isEmpty { csv.append(Seed(name: "vector-trades.csv", bytes: DropCSVWriter.file(trades))) }

        let example = try String(contentsOf: examples.appending(path: "mtsync.yaml"), encoding: .utf8)
        var configuration = builtInConfiguration
        configuration.append(Seed("example.yaml", sandboxed(example)))
        return [.bridgeLine: bridge, .csvDrop: csv, .configuration: configuration]
    }

    static func lines(of file: URL) throws -> [[UInt8]] {
        try Data(contentsOf: file).split(separator: 0x0A).map { Array($0) }.filter { !$0.isEmpty }
    }

    /// The example configuration with its paths moved into the fuzzing sandbox, without whole-line comments.
    static func sandboxed(_ yaml: String) -> String {
        yaml.replacingOccurrences(of: "/etc/mtsync/", with: "").replacingOccurrences(of: "/srv/mtsync-drop", with: "drop")
            .split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("#") }
            .joined(separator: "\n")
    }

    // MARK: - Built in

    public static func builtIn(for target: FuzzTarget) -> [Seed] {
        switch target {
        case .bridgeLine: builtInBridgeLines
        case .csvDrop: builtInCSV
        case .configuration: builtInConfiguration
        }
    }

    static let builtInBridgeLines = [
        Seed("hello-welcome", """
            {"type":"hello","protocol":"mtbridge","versions":[1],"bridge":"acme-mt5-bridge/2.3.0","nonce":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8","time_ms":1735725600123}
            {"type":"welcome","version":1,"server_id":"live-mt5","platform":"mt5","capabilities":["deals","accounts"],"mac":"3feb383a6b2afabb6bedce6b45728849ba8419339b56c830325add39b3e1c4ca"}
            {"type":"deal","id":"r1","data":{"Deal":"700001","Login":1001,"Action":0,"Entry":0,"TimeMsc":"1735725600100","Symbol":"EURUSD.pro","VolumeExt":"105000000","Price":1.03420,"Profit":"0","Commission":"-3.50","ApiData":[{"a":1}]}}
            {"type":"end","id":"r1","count":1,"more":true,"next":{"time_ms":1735725600100,"deal":700001}}
            """),
        Seed("trade", #"{"type":"trade","id":"r1","data":{"order":88001,"login":2001,"symbol":"XAUUSD","cmd":1,"volume":150,"open_time":1735725600,"close_time":1735732800,"open_price":"2650.10","close_price":"2640.05","profit":"1507.5","storage":-3.2,"commission":0,"taxes":0,"comment":"so: 32.5%/40.0%/2500.00"}}"#),
        Seed("account", #"{"type":"account","id":"r1","data":{"login":1001,"group":"real\\A","currency":"USD","leverage":100,"client_id":"C-55012","updated_ms":1735725600000}}"#),
        Seed("bucket", #"{"type":"bucket","id":"r1","data":{"from_ms":1735689600000,"to_ms":1735693200000,"count":2,"volume":"210000000","checksum":"0f1e2d3c4b5a6978"}}"#),
        Seed("change", #"{"type":"change","id":"r1","data":{"seq":7,"op":"update","record":{"Deal":"700002","Login":"1001","Action":"1","Entry":"1","TimeMsc":"1735725600250","Profit":"96.60"}}}"#),
        Seed("error", #"{"type":"error","id":null,"code":"auth_failed","retryable":false,"message":"authentication failed \u00e9\ud83d\ude00"}"#),
        Seed("flat-deal", #"{"Deal":700003,"Login":1001,"Action":2,"Entry":0,"Time":1735729200,"TimeMsc":1735729200000,"Profit":1000.00,"Comment":"Deposit via card #4411"}"#),
        // Issue 20's extremes: times past Int64's milliseconds, a bridge clock at Int64.max, money at 38 digits.
        Seed("extreme-times", """
            {"type":"deal","id":"r1","data":{"Deal":"9223372036854775807","Login":1,"Action":0,"Entry":0,"TimeMsc":9223372036854775807,"VolumeExt":"18446744073709551615","Price":-0,"Profit":"99999999999999999999999999999999999999"}}
            {"type":"deal","id":"r1","data":{"Deal":2,"Login":1,"Action":2,"Time":9223372036854775,"Profit":"-1234567890123456789.123456789"}}
            {"type":"trade","id":"r1","data":{"order":1,"login":1,"cmd":0,"volume":18446744073709551615,"open_time":946684799,"close_time":253402300799}}
            {"type":"server_info","id":"r1","data":{"server_time_ms":9223372036854775807,"utc_time_ms":-9223372036854775808,"platform":"mt5"}}
            """),
    ]

    static let builtInCSV = [
        Seed("deals.csv", "\u{FEFF}Deal,Login,Action,Entry,TimeMsc,Symbol,VolumeExt,Price,Profit,Comment\r\n700001,1001,0,0,1735725600100,EURUSD.pro,105000000,1.0342,0,\"hi, \"\"there\"\"\"\r\n700002,1001,1,1,1735725600250,EURUSD.pro,105000000,1.03512,96.60,\"two\nlines\"\r\n"),
        Seed("trades.csv", "order,login,symbol,cmd,volume,open_time,close_time,open_price,close_price,profit,storage,commission,taxes,comment\n88001,2001,XAUUSD,1,150,1735725600,1735732800,2650.10,2640.05,1507.5,-3.2,0,0,\n88002,2001,,6,0,1735732800,1735732800,0,0,500,0,0,0,deposit\n"),
        Seed("open-trades.csv", "order,login,symbol,cmd,volume,open_time,open_price\n88003,2002,EURUSD,0,100,1735725600,1.0342\n"),
        Seed("accounts.csv", "login,group,currency,leverage,client_id,updated_ms\n1001,real\\A,USD,100,C-55012,1735725600000\n1002,,EUR,,,\n"),
        Seed("symbols.csv", "symbol,digits,contract_size,currency_profit\nEURUSD.pro,5,100000,USD\n"),
        Seed("malformed.csv", "Deal,Login,TimeMsc\nok,1,2\nab\"c,2,3\n\"ab\"c,2,3\na\rb,2,3\n\"open,c\n"),
        Seed("manifest.json", #"{"file":"deals-20250101T000000-20250102T000000-0001.csv","server_id":"live-mt5","stream":"deals","from_ms":1735689600000,"to_ms":1735776000000,"rows":2,"sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","created_utc":"2025-01-02T00:05:00Z"}"#),
        Seed("file-name", "open-trades-20250101T120000-20250101T120000-00042.csv\n"),
        Seed("extreme-deals.csv", "Deal,Login,Action,Entry,Time,TimeMsc,VolumeExt,Profit\n1,1,0,0,,9223372036854775807,18446744073709551615,-0\n2,1,2,0,9223372036854775,253402300800000,,99999999999999999999999999999999999999\n3,1,0,0,,946684799999,1,1234567890123456789\n"),
        Seed("extreme-trades.csv", "order,login,cmd,volume,open_time,close_time,profit\n1,1,0,100,9223372036854775,9223372036854775807,1\n2,1,6,0,946684799,253402300799,-0.0\n"),
    ]

    static let builtInConfiguration = [
        Seed("drop.yaml", """
            servers:
              - id: srv
                platform: mt5
                time_zone: UTC
                start: 2025-01-01
                drop: { folder: drop }
            """),
        Seed("bridge.yaml", """
            database:
              url: postgresql://mtsync@db.internal/mtsync?sslmode=verify-full
            instance: { id: mtsync-a, lease_ttl: 30s }
            defaults: { poll_interval: 10s, lookback: 2h, page_size: 5000, poll_jitter: 10%, reconcile: { every: 24h, window: 3d } }
            servers:
              - id: live-mt5
                platform: mt5
                time_zone: ny-close
                start: 2025-01-01T10:00
                bridge:
                  address: bridge.internal:7465
                  key_id: mtsync-1
                  key_env: MTSYNC_KEY_LIVE_MT5
                  tls: { ca_file: bridge-ca.pem, cert_file: client.pem, key_file: client-key.pem, server_name: bridge.internal }
                rules:
                  ambiguous_time: earlier
                  symbols: { map: { GOLD.x: XAUUSD }, suffixes: [".x"], table: { US30: { asset_class: index, contract_size: "10" } } }
                  filters: { groups: ['real\\*'], exclude_logins: [1000, "90000-90999"], unknown_group: include }
              - id: live-mt4
                platform: mt4
                time_zone: Europe/Athens
                start: 2025-01-01
                bridge: { address: "[::1]:7465", key_id: mtsync-2, key_file: live-mt5.key }
                rules_file: live-mt4-rules.json
            """),
        Seed("ingest-http.yaml", """
            servers:
              - id: srv
                platform: mt4
                time_zone: +02:00
                start: 2025-01-01
                drop: { folder: drop }
            ingest:
              http:
                url: https://ingest.example.com/v1/trading-facts
                secret_env: FUZZ_INGEST_SECRET
                bearer_token_file: ingest.secret
                timeout: 15s
              relay: { batch_size: 2000, max_attempts: 20, claim_for: 30s }
              aggregates: { grace: 10m, every: 1m }
            monitoring: { listen: ":9464", refresh: 15s }
            logging: { format: json, level: info, levels: { relay: debug } }
            """),
        Seed("feed.yaml", """
            servers:
              - id: srv
                platform: mt5
                time_zone: UTC
                start: 2025-01-01
                bridge: { address: b:1, key_id: k, key_env: FUZZ_BAD_KEY }
            ingest:
              sqs: { queue_url: "https://sqs.eu-west-1.amazonaws.com/123456789012/q.fifo", region: eu-west-1 }
            feed:
              trigger_id: 65f0c1e2a9b8c7d6e5f4a3b2
              day: { zone: Asia/Dubai, starts_at: "00:00" }
              cent: { groups: ["*cent*"], factor: "0.01" }
              rates: { EUR: "1.08" }
              file_ingest: { url: "https://files.example.com/ingest", api_key_env: FUZZ_API_KEY, above_rows: 2000 }
            """),
    ]
}

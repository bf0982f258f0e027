import MTSyncBridge
import MTSyncCore
import Testing

/// Expected MACs and checksums were computed independently with Python's hmac and hashlib (see the values'
/// comments), following bridge-protocol/README.md §2 and §4.7.
@Suite("Handshake MACs, digest checksums and the client session")
struct HandshakeAndDigestTests {
    static let keyHex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
    static let key = try! BridgeKey(id: "mtsync-1", hex: keyHex)
    static let nonce = String(repeating: "A", count: 43)
    static let clientNonce = String(repeating: "B", count: 43)

    @Test("auth and welcome MACs match an independent HMAC-SHA256")
    func macs() {
        // python3: hmac.new(key, b"mtbridge-v1 auth\n" + n + b"\n" + c + b"\nmtsync-1\n1735725600456", sha256)
        #expect(Self.key.authMAC(nonce: Self.nonce, clientNonce: Self.clientNonce, timeMilliseconds: 1_735_725_600_456)
            == "0548a34e5caa74b7b750eca2f53f6f3d9674345c92ab7fa97bb3b26d3732a57b")
        #expect(Self.key.welcomeMAC(nonce: Self.nonce, clientNonce: Self.clientNonce)
            == "b1e4a598e4afbe43f4d91ecb6539f6a9b1b566d43b9ee2fc997b2579f5719331")
        #expect(Self.key.isValidWelcome(mac: "b1e4a598e4afbe43f4d91ecb6539f6a9b1b566d43b9ee2fc997b2579f5719331", nonce: Self.nonce, clientNonce: Self.clientNonce))
        #expect(!Self.key.isValidWelcome(mac: "b1e4a598e4afbe43f4d91ecb6539f6a9b1b566d43b9ee2fc997b2579f5719330", nonce: Self.nonce, clientNonce: Self.clientNonce))
        #expect(!Self.key.isValidWelcome(mac: "not hex", nonce: Self.nonce, clientNonce: Self.clientNonce))
    }

    @Test("keys: at least 32 bytes of hex, never shown", arguments: ["", "abc", String(repeating: "z", count: 64), String(repeating: "a", count: 62)])
    func badKeys(hex: String) {
        #expect(throws: BridgeKeyError.self) { try BridgeKey(id: "k", hex: hex) }
    }

    @Test("a key's description names it but never shows it")
    func keyDescription() {
        #expect(!"\(Self.key)".contains(Self.keyHex))
        #expect("\(Self.key)".contains("mtsync-1"))
    }

    @Test("digest checksum: the spec's example and an order-independent sum")
    func digest() throws {
        var deal = MT5DealRecord(fields: [
            "Deal": "700001", "Login": "1001", "Action": "0", "Entry": "0", "TimeMsc": "1735725600100", "Symbol": "EURUSD.pro",
            "VolumeExt": "105000000", "Price": "1.03420", "Profit": "0.00", "Storage": "0", "Commission": "-3.50", "Fee": "0",
        ])
        #expect(DigestChecksum.canonicalLine(deal) == "700001|1001|0|0|1735725600100|EURUSD.pro|105000000|1.0342|0|0|-3.5|0")
        var single = DigestChecksum()
        single.add(canonicalLine: try #require(DigestChecksum.canonicalLine(deal)))
        #expect(single.description == "bd124b3ced8ea88b")

        // A balance deal: no Entry, no Symbol; absent numbers count as 0.
        let balance = MT5DealRecord(fields: ["Deal": "700003", "Login": "1001", "Action": "2", "Entry": "0", "TimeMsc": "1735729200000", "Profit": "1000.00"])
        #expect(DigestChecksum.canonicalLine(balance) == "700003|1001|2||1735729200000||0|0|1000|0|0|0")
        var forward = DigestChecksum(), backward = DigestChecksum()
        for record in [deal, balance] { forward.add(canonicalLine: DigestChecksum.canonicalLine(record)!) }
        for record in [balance, deal] { backward.add(canonicalLine: DigestChecksum.canonicalLine(record)!) }
        #expect(forward == backward)
        #expect(forward.description == "34c8b6de82c328f4")  // python3: sum of both prefixes mod 2^64

        deal.set("Profit", "abc")
        #expect(DigestChecksum.canonicalLine(deal) == nil, "a malformed record is quarantined, not digested")
    }

    static func message(_ text: String) throws -> BridgeMessage {
        try BridgeMessage(line: Array(text.utf8))
    }

    @Test("the client session: hello → auth, welcome checked, one request at a time, counts verified")
    func session() throws {
        var session = BridgeClientSession(key: Self.key)
        let hello = try Self.message(#"{"type":"hello","protocol":"mtbridge","versions":[1],"bridge":"sim/1","nonce":"\#(Self.nonce)","time_ms":1735725600123}"#)
        guard case .send(let auth) = try session.receive(hello, clientNonce: Self.clientNonce, nowMilliseconds: 1_735_725_600_456) else {
            Issue.record("hello must be answered with auth")
            return
        }
        let authMessage = try JSONValue(parsing: auth)
        #expect(authMessage["type"] == "auth" && authMessage["key_id"] == "mtsync-1" && authMessage["time_ms"]?.text == "1735725600456")
        #expect(authMessage["mac"]?.text == "0548a34e5caa74b7b750eca2f53f6f3d9674345c92ab7fa97bb3b26d3732a57b")
        #expect(!String(decoding: auth, as: UTF8.self).contains(Self.keyHex))

        let welcome = try Self.message(#"{"type":"welcome","version":1,"server_id":"live-mt5","platform":"mt5","capabilities":["deals"],"mac":"b1e4a598e4afbe43f4d91ecb6539f6a9b1b566d43b9ee2fc997b2579f5719331"}"#)
        guard case .ready(let info) = try session.receive(welcome, clientNonce: "", nowMilliseconds: 0) else { Issue.record("expected ready"); return }
        #expect(info.serverID == "live-mt5" && info.platform == .mt5)

        let request = try session.request(id: "r1", method: "deals", params: ["from_ms": .integer(0), "to_ms": .integer(10), "limit": .integer(2)])
        #expect(String(decoding: request, as: UTF8.self) == #"{"type":"request","id":"r1","method":"deals","params":{"from_ms":0,"to_ms":10,"limit":2}}"#)
        #expect(throws: BridgeProtocolError.self) { try session.request(id: "r2", method: "deals", params: [:]) }

        #expect(try session.receive(Self.message(#"{"type":"deal","id":"r1","data":{"Deal":"1"}}"#), clientNonce: "", nowMilliseconds: 0) == .deal(MT5DealRecord(fields: ["Deal": "1"])))
        #expect(try session.receive(Self.message(#"{"type":"progress","id":"r1"}"#), clientNonce: "", nowMilliseconds: 0) == .progress)
        guard case .finished(let end) = try session.receive(Self.message(#"{"type":"end","id":"r1","count":1,"more":false,"next":null}"#), clientNonce: "", nowMilliseconds: 0) else {
            Issue.record("expected the end")
            return
        }
        #expect(end.count == 1 && !end.more && end.next == nil)
        _ = try session.request(id: "r2", method: "deals", params: [:])
        // A line of the finished request is dropped and reported, not mistaken for r2's.
        #expect(try session.receive(Self.message(#"{"type":"deal","id":"r1","data":{"Deal":"1"}}"#), clientNonce: "", nowMilliseconds: 0) == .stray("a deal for request r1 arrived while waiting for request r2"))
        // The count is the connection's to compare (it also counts the lines it could not read): the end ends r2.
        guard case .finished(let second) = try session.receive(Self.message(#"{"type":"end","id":"r2","count":5,"more":false,"next":null}"#), clientNonce: "", nowMilliseconds: 0) else {
            Issue.record("expected the end of r2")
            return
        }
        #expect(second.count == 5)
    }

    @Test("a welcome with the wrong MAC fails: the bridge does not hold the key")
    func fakeBridge() throws {
        var session = BridgeClientSession(key: Self.key)
        _ = try session.receive(Self.message(#"{"type":"hello","versions":[1],"bridge":"x","nonce":"\#(Self.nonce)"}"#), clientNonce: Self.clientNonce, nowMilliseconds: 1)
        let error = #expect(throws: BridgeProtocolError.self) {
            try session.receive(Self.message(#"{"type":"welcome","version":1,"server_id":"s","platform":"mt4","capabilities":[],"mac":"\#(String(repeating: "0", count: 64))"}"#), clientNonce: "", nowMilliseconds: 0)
        }
        #expect(error?.code == .bridgeNotAuthenticated && error?.retryable == false)
        #expect(throws: BridgeProtocolError.self, "a failed session stays failed") { try session.request(id: "r", method: "deals", params: [:]) }
    }

    @Test("a genuine welcome recorded from another session is refused: the MAC binds both nonces (a replay by a man in the middle)")
    func replayedWelcome() throws {
        // A welcome the real bridge sent to a client whose nonce was A…
        let otherClientNonce = String(repeating: "C", count: 43)
        let recorded = Self.key.welcomeMAC(nonce: Self.nonce, clientNonce: otherClientNonce)
        // …replayed to a session whose nonce is B, after the same hello (or a fresh one).
        for bridgeNonce in [Self.nonce, String(repeating: "D", count: 43)] {
            var session = BridgeClientSession(key: Self.key)
            _ = try session.receive(Self.message(#"{"type":"hello","versions":[1],"bridge":"x","nonce":"\#(bridgeNonce)"}"#), clientNonce: Self.clientNonce, nowMilliseconds: 1)
            let error = #expect(throws: BridgeProtocolError.self) {
                try session.receive(Self.message(#"{"type":"welcome","version":1,"server_id":"s","platform":"mt5","capabilities":[],"mac":"\#(recorded)"}"#), clientNonce: "", nowMilliseconds: 0)
            }
            #expect(error?.code == .bridgeNotAuthenticated && error?.retryable == false)
        }
        // The same MAC is accepted only by the session it was made for.
        var genuine = BridgeClientSession(key: Self.key)
        _ = try genuine.receive(Self.message(#"{"type":"hello","versions":[1],"bridge":"x","nonce":"\#(Self.nonce)"}"#), clientNonce: otherClientNonce, nowMilliseconds: 1)
        guard case .ready = try genuine.receive(Self.message(#"{"type":"welcome","version":1,"server_id":"s","platform":"mt5","capabilities":[],"mac":"\#(recorded)"}"#), clientNonce: "", nowMilliseconds: 0) else {
            Issue.record("the welcome made for this session must be accepted")
            return
        }
    }

    @Test("bridge errors and version mismatches are typed, with retryability")
    func errors() throws {
        var session = BridgeClientSession(key: Self.key)
        let versions = #expect(throws: BridgeProtocolError.self) {
            try session.receive(Self.message(#"{"type":"hello","versions":[2,3],"bridge":"x","nonce":"n"}"#), clientNonce: "c", nowMilliseconds: 1)
        }
        #expect(versions?.code == .unsupportedVersion)
        var other = BridgeClientSession(key: Self.key)
        let remote = #expect(throws: BridgeProtocolError.self) {
            try other.receive(Self.message(#"{"type":"error","id":null,"code":"auth_failed","retryable":false,"message":"authentication failed"}"#), clientNonce: "c", nowMilliseconds: 1)
        }
        #expect(remote?.code == .remote("auth_failed") && remote?.retryable == false)
        #expect(throws: BridgeProtocolError.self) { try Self.message(#"{"type":"bogus","id":"x"}"#) }
    }
}

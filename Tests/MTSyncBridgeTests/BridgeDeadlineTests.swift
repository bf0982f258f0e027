import MTBridgeSimulator
import MTSyncBridge
import MTSyncTestSupport
import Testing

/// bridge-protocol §5: the handshake, every line and every request have deadlines that no byte pattern from the
/// bridge can stretch. Bytes that never form a line do not count as activity. Each test makes one deadline short
/// and the others far longer than its bound on the elapsed time, so the error can only be that deadline's (the bound
/// is loose: the suite shares two cores with everything else `scripts/test` runs).
@Suite("Deadlines a slow or stuck bridge cannot defeat")
struct BridgeDeadlineTests {
    typealias Harness = ClientSimulatorTests

    static func failure(_ misbehaviour: Misbehaviour, handshake: Duration = .seconds(60), read: Duration = .seconds(60), request: Duration = .seconds(120)) async throws -> (BridgeClientError?, Duration) {
        var faults = SimulatorFaults()
        faults.misbehaviour = misbehaviour
        let simulator = BridgeSimulator(dataset: Harness.dataset, key: Harness.key, faults: faults)
        let range = Harness.dataset.range
        let started = ContinuousClock.now
        let error = try await SimulatorHarness.run(simulator) { port -> BridgeClientError? in
            var endpoint = Harness.endpoint(port)
            endpoint.handshakeTimeout = handshake
            endpoint.readTimeout = read
            endpoint.requestTimeout = request
            let client = BridgeClient(endpoint: endpoint, retryPolicy: .init(maximumAttempts: 1))
            return await #expect(throws: BridgeClientError.self) {
                for try await _ in client.deals(fromMilliseconds: range.lowerBound, toMilliseconds: range.upperBound) {}
            }
        }
        return (error, ContinuousClock.now - started)
    }

    @Test("a hello sent one byte a second never completes the handshake: given up after handshake_timeout, though bytes keep coming")
    func trickledHello() async throws {
        let (error, elapsed) = try await Self.failure(.trickleHandshake, handshake: .seconds(2))
        #expect(error?.kind == .timeout && error?.reason.contains("handshake") == true, "\(String(describing: error))")
        #expect(elapsed < .seconds(40))
    }

    @Test("a peer that accepts and never says hello: given up after the read timeout, well within the handshake's")
    func silentPeer() async throws {
        let (error, elapsed) = try await Self.failure(.silentHandshake, read: .seconds(2))
        #expect(error?.kind == .timeout && error?.reason.contains("read_timeout") == true, "\(String(describing: error))")
        #expect(elapsed < .seconds(40))
    }

    @Test("something else on the port (an SSH banner): a protocol violation naming what it said and asking whether the port is right")
    func notABridge() async throws {
        let (error, elapsed) = try await Self.failure(.sshBanner)
        #expect(error?.kind == .protocolViolation && error?.reason.contains("SSH-2.0") == true && error?.reason.contains("bridge.port") == true, "\(String(describing: error))")
        #expect(elapsed < .seconds(40))
    }

    @Test("an answer sent one byte a second never forms a line: given up after read_timeout, not kept alive by the bytes")
    func trickledAnswer() async throws {
        let (error, elapsed) = try await Self.failure(.trickleResponse, read: .seconds(2))
        #expect(error?.kind == .timeout && error?.reason.contains("read_timeout") == true, "\(String(describing: error))")
        #expect(elapsed < .seconds(40))
    }

    @Test("half a page, then silence: given up after read_timeout")
    func stalledPage() async throws {
        let (error, elapsed) = try await Self.failure(.stallMidPage, read: .seconds(2))
        #expect(error?.kind == .timeout, "\(String(describing: error))")
        #expect(elapsed < .seconds(40))
    }

    @Test("an error message with the key and a password in it is scrubbed before anyone sees it")
    func secretsScrubbed() async throws {
        var faults = SimulatorFaults()
        faults.misbehaviour = .secretError
        let hex = String(repeating: "5a", count: 32)
        faults.leakedSecret = hex.uppercased()
        let key = try BridgeKey(id: Harness.key.id, hex: hex)
        let simulator = BridgeSimulator(dataset: Harness.dataset, key: key, faults: faults)
        let range = Harness.dataset.range
        let error = try await SimulatorHarness.run(simulator) { port -> BridgeClientError? in
            let client = BridgeClient(endpoint: Harness.endpoint(port, key: key), retryPolicy: .init(maximumAttempts: 1))
            return await #expect(throws: BridgeClientError.self) {
                for try await _ in client.deals(fromMilliseconds: range.lowerBound, toMilliseconds: range.upperBound) {}
            }
        }
        let text = String(describing: error)
        #expect(!text.lowercased().contains(hex) && !text.contains("hunter2"), "\(text)")
        #expect(text.contains("password=[redacted]"))
    }
}

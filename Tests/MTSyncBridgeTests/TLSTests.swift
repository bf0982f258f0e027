import Foundation
import MTBridgeSimulator
import MTSyncBridge
import MTSyncTestSupport
import Testing

/// A throwaway PKI made with the real `openssl` command: a test CA, a server certificate for the name
/// `localhost` only (no IP address, so that the name check is what decides), a client certificate, and an unrelated CA for the negative cases.
struct TestPKI {
    let folder: URL

    /// Awaited, not blocked on: five RSA keys take a second or two.
    static func make() async throws -> TestPKI {
        let folder = FileManager.default.temporaryDirectory.appending(path: "mtsync-pki-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let script = """
            set -e
            cd "$1"
            openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=mtsync test CA" 2>/dev/null
            openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.pem -days 2 -subj "/CN=unrelated CA" 2>/dev/null
            openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
            printf 'subjectAltName=DNS:localhost\\n' > server.ext
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile server.ext 2>/dev/null
            openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj "/CN=mtsync" 2>/dev/null
            openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2 2>/dev/null
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script, "pki", folder.path]
        guard await (try process.runWatched()).wait() == 0 else { throw PKIError() }
        return TestPKI(folder: folder)
    }

    struct PKIError: Error, CustomStringConvertible {
        var description: String { "openssl could not make the test certificates (is the openssl command installed?)" }
    }

    func path(_ name: String) -> String { folder.appending(path: name).path }
}

@Suite("TLS between client and bridge")
struct TLSTests {
    typealias Harness = ClientSimulatorTests

    static func withTLSSimulator<Result: Sendable>(_ tls: ServerTLS, _ body: @Sendable (Int) async throws -> Result) async throws -> Result {
        try await SimulatorHarness.run(BridgeSimulator(dataset: Harness.dataset, key: Harness.key, tls: tls), body)
    }

    /// A read timeout far above a TLS handshake's, so a loaded CI machine cannot fail the good cases (10 s once did,
    /// the suite taking 3 minutes beside the others); the refused cases fail at the handshake, well before it.
    static func endpoint(_ port: Int, _ tls: BridgeTLS) -> BridgeEndpoint {
        BridgeEndpoint(host: "127.0.0.1", port: port, key: Harness.key, tls: tls, connectTimeout: .seconds(5), readTimeout: .seconds(45))
    }

    @Test("TLS with the test CA: the bridge is verified and the session works; a wrong CA or name is refused, not retried")
    func serverAuthentication() async throws {
        let pki = try await TestPKI.make()
        try await Self.withTLSSimulator(ServerTLS(certificateFile: pki.path("server.pem"), keyFile: pki.path("server.key"))) { port in
            let serverID = try await BridgeConnection.withConnection(to: Self.endpoint(port, BridgeTLS(caFile: pki.path("ca.pem"), serverName: "localhost"))) { connection in
                _ = try await connection.dealsPage(fromMilliseconds: Harness.dataset.range.lowerBound, toMilliseconds: Harness.dataset.range.upperBound, after: nil, limit: 10)
                return connection.welcome?.serverID
            }
            #expect(serverID == "sim-mt5")

            let wrongCA = await #expect(throws: BridgeClientError.self) {
                try await BridgeConnection.withConnection(to: Self.endpoint(port, BridgeTLS(caFile: pki.path("other-ca.pem"), serverName: "localhost"))) { _ in 0 }
            }
            #expect(wrongCA?.retryable == false, "\(String(describing: wrongCA))")

            let wrongName = await #expect(throws: BridgeClientError.self) {
                try await BridgeConnection.withConnection(to: Self.endpoint(port, BridgeTLS(caFile: pki.path("ca.pem"), serverName: "bridge.example.com"))) { _ in 0 }
            }
            #expect(wrongName?.retryable == false)
        }
    }

    @Test("mutual TLS: a bridge requiring client certificates accepts ours and refuses a client without one")
    func clientCertificates() async throws {
        let pki = try await TestPKI.make()
        try await Self.withTLSSimulator(ServerTLS(certificateFile: pki.path("server.pem"), keyFile: pki.path("server.key"), clientCAFile: pki.path("ca.pem"))) { port in
            let withCertificate = BridgeTLS(caFile: pki.path("ca.pem"), clientCertificateFile: pki.path("client.pem"), clientKeyFile: pki.path("client.key"), serverName: "localhost")
            let serverID = try await BridgeConnection.withConnection(to: Self.endpoint(port, withCertificate)) { connection in connection.welcome?.serverID }
            #expect(serverID == "sim-mt5")
            await #expect(throws: BridgeClientError.self) {
                try await BridgeConnection.withConnection(to: Self.endpoint(port, BridgeTLS(caFile: pki.path("ca.pem"), serverName: "localhost"))) { _ in 0 }
            }
        }
    }
}

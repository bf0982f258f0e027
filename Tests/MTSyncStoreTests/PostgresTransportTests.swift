import Foundation
import MTSyncStore
import MTSyncTestSupport
import Testing

@Suite("How a session reaches PostgreSQL, and when that deserves a warning (security.md G2)")
struct PostgresTransportTests {
    @Test("the test cluster over loopback TCP without TLS: plain TCP, but loopback never leaves the host")
    func loopback() async throws {
        let connection = try await TestDatabase.create().connect()
        let transport = try #require(await connection.transport)
        #expect(transport == .plainTCP(host: "127.0.0.1"))
        #expect(transport.description == "plain TCP, not encrypted")
        #expect(!transport.exposesTraffic)
    }

    @Test("plain TCP to another host exposes the traffic; TLS, sockets and loopback do not", arguments: [
        (PostgresTransport.plainTCP(host: "db.internal"), true),
        (.plainTCP(host: "10.0.0.5"), true),
        (.plainTCP(host: "127.example.com"), true),
        (.plainTCP(host: "127.0.0.1"), false),
        (.plainTCP(host: "localhost"), false),
        (.plainTCP(host: "::1"), false),
        (.tls(host: "db.internal", protocolVersion: "TLSv1.3"), false),
        (.localSocket, false),
    ])
    func exposure(transport: PostgresTransport, exposes: Bool) {
        #expect(transport.exposesTraffic == exposes)
    }
}

import MTSyncBridge
@testable import MTSyncBridge
import MTSyncEngine
import Testing

/// `mtsync_bridge_errors_total{code}` takes its label from what a bridge sent: the label set must stay bounded
/// whatever a hostile bridge writes (docs/security.md §8.2, docs/operations.md).
@Suite("The bridge error code label: bounded, whatever the bridge sends")
struct BridgeErrorCodeTests {
    static func error(code: String? = nil, reason: String = "the bridge said no") -> BridgeClientError {
        BridgeClientError(
            endpoint: "bridge.internal:7465", retryable: true, reason: reason,
            protocolError: code.map { BridgeProtocolError(code: .remote($0), retryable: true, message: "") })
    }

    @Test("the protocol's own codes are kept", arguments: ["mt_unavailable", "auth_failed", "rate_limited", "busy", "malformed"])
    func known(code: String) {
        #expect(BridgeErrorCode.of(Self.error(code: code)) == code)
    }

    @Test("anything else a bridge sends is `other`: new lines, quotes, label syntax, long or empty codes", arguments: [
        "x\ny", "bad\"code", "a=\"b\"}", String(repeating: "x", count: 10_000), "", "MT_UNAVAILABLE", "mt_unavailable\u{0}",
    ])
    func unknown(code: String) {
        #expect(BridgeErrorCode.of(Self.error(code: code)) == "other")
    }

    @Test("transport failures are named by kind", arguments: [
        ("cannot connect: connection refused", "connect_failed"), ("TLS handshake failed (check the CA file)", "tls"),
        ("the read timed out", "timeout"), ("the bridge closed the connection", "connection_closed"), ("something odd", "transport"),
    ])
    func transport(reason: String, label: String) {
        #expect(BridgeErrorCode.of(Self.error(reason: reason)) == label)
    }
}

import MTSyncBridge
@testable import MTSyncBridge
import MTSyncEngine
import Foundation
import NIOCore
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

    @Test("transport failures are named by the cause set where they failed, never read from their text", arguments: [
        (BridgeClientError.Transport.connectFailed, "connect_failed"), (.tls, "tls"), (.timeout, "timeout"),
        (.connectionClosed, "connection_closed"), (.other, "transport"),
    ])
    func transport(cause: BridgeClientError.Transport, label: String) {
        let error = BridgeClientError(endpoint: "bridge.internal:7465", kind: .unreachable, transport: cause, retryable: true, reason: "timed out, closed, tls: words that decide nothing", protocolError: nil)
        #expect(BridgeErrorCode.of(error) == label)
    }

    @Test("a dropped or reset connection is `connection_closed`; a deadline is `timeout` whatever its text")
    func causes() {
        #expect(BridgeClientError.Transport.of(ChannelError.ioOnClosedChannel) == .connectionClosed)
        #expect(BridgeClientError.Transport.of(ChannelError.eof) == .connectionClosed)
        #expect(BridgeClientError.Transport.of(IOError(errnoCode: ECONNRESET, reason: "read")) == .connectionClosed)
        #expect(BridgeClientError.Transport.of(IOError(errnoCode: EINVAL, reason: "read")) == .other)
        let deadline = BridgeClientError(endpoint: "b:1", kind: .timeout, retryable: true, reason: "the handshake did not finish", protocolError: nil)
        #expect(BridgeErrorCode.of(deadline) == "timeout")
    }
}

import MTSyncBridge
import Foundation
import MTSyncCore
import Yams

/// A server's source: its `bridge` (address, key, TLS, deadlines) or its `drop` folder.
extension ConfigurationReader {
    static let bridgeKeys = ["address", "key_id", "key_file", "key_env", "tls", "connect_timeout", "read_timeout", "request_timeout", "handshake_timeout", "give_up_after"]

    mutating func readSource(_ server: Mapping) -> ServerConfiguration.Source? {
        let bridgeNode = server["bridge"].flatMap { $0.isNull ? nil : $0 }
        let dropNode = server["drop"].flatMap { $0.isNull ? nil : $0 }
        switch (bridgeNode, dropNode) {
        case (nil, nil):
            report(server.path, server.mark, "needs a source: a `bridge:` section (TCP export bridge) or a `drop:` section (CSV drop folder)")
            return nil
        case (.some, .some(let drop)):
            report(server.child("drop"), server.keyMark("drop") ?? drop.mark, "a server has one source: keep either `bridge:` or `drop:`, not both")
            return nil
        case (.some(let node), nil):
            guard let bridge = mapping(node, path: server.child("bridge"), keys: Self.bridgeKeys) else { return nil }
            return readBridge(bridge).map { .bridge($0) }
        case (nil, .some(let node)):
            guard let drop = mapping(node, path: server.child("drop"), keys: ["folder", "max_file_size"]) else { return nil }
            guard let (text, mark) = required(drop, "folder", hint: "give the drop root, the folder holding <server id>/incoming/") else { return nil }
            let folder = resolve(text)
            if let problem = FileAccess.problem(at: folder, wanted: .directory) {
                report(drop.child("folder"), mark, "cannot use the drop folder: \(problem); create it or fix the path")
                return nil
            }
            var source = ServerConfiguration.DropSource(folder: folder)
            if let (text, mark) = scalar(drop, "max_file_size") {
                guard let bytes = ByteSizeText.parse(text), bytes >= 1 << 10 else {
                    report(drop.child("max_file_size"), mark, "must be a size of at least 1KiB, like 512MiB or 4GiB (binary units: B, KiB, MiB, GiB, TiB)")
                    return nil
                }
                source.maxFileBytes = bytes
            }
            return .drop(source)
        }
    }

    mutating func readBridge(_ bridge: Mapping) -> BridgeSettings? {
        var endpoint: (host: String, port: Int)?
        if let (text, mark) = required(bridge, "address", hint: "give the bridge's host:port, e.g. bridge.internal:7465") {
            endpoint = Self.hostAndPort(text)
            if endpoint == nil { report(bridge.child("address"), mark, "must be host:port (port 1–65535; IPv6 as [::1]:7465), not \(String(reflecting: text))") }
        }
        var keyID: String?
        if let (text, mark) = required(bridge, "key_id", hint: "give the id the bridge knows the key by") {
            if Self.looksLikeKey(text) {
                report(bridge.child("key_id"), mark, "looks like a key, not a key id: the key belongs in the file named by key_file or the variable named by key_env")
            } else if text.isEmpty || text.count > 64 {
                report(bridge.child("key_id"), mark, "must be 1 to 64 characters")
            } else {
                keyID = text
            }
        }
        let key = readKey(bridge)
        var tls: TLSFiles?
        var tlsValid = true
        if let node = bridge["tls"], !node.isNull {
            tls = readTLS(node, path: bridge.child("tls"))
            tlsValid = tls != nil
        }
        let connectTimeout = bridge["connect_timeout"] == nil ? BridgeEndpoint.defaultConnectTimeout : duration(bridge, "connect_timeout", minimum: .milliseconds(1))
        let readTimeout = bridge["read_timeout"] == nil ? BridgeEndpoint.defaultReadTimeout : duration(bridge, "read_timeout", minimum: .milliseconds(1))
        let requestTimeout = bridge["request_timeout"] == nil ? BridgeEndpoint.defaultRequestTimeout : duration(bridge, "request_timeout", minimum: .seconds(1))
        let handshakeTimeout = bridge["handshake_timeout"] == nil ? BridgeEndpoint.defaultHandshakeTimeout : duration(bridge, "handshake_timeout", minimum: .milliseconds(1))
        let giveUpAfter = bridge["give_up_after"] == nil ? BridgeClient.RetryPolicy.standardGiveUpAfter : duration(bridge, "give_up_after", minimum: .seconds(1))
        guard let endpoint, let keyID, let key, tlsValid, let connectTimeout, let readTimeout, let requestTimeout, let handshakeTimeout, let giveUpAfter else { return nil }
        var source = BridgeSettings(
            host: endpoint.host, port: endpoint.port, keyID: keyID, key: key, tls: tls, connectTimeout: connectTimeout, readTimeout: readTimeout,
            requestTimeout: requestTimeout)
        source.handshakeTimeout = handshakeTimeout
        source.giveUpAfter = giveUpAfter
        return source
    }

    static let keyHint = "it must hold the key as hex, at least 64 hex digits (32 bytes), and nothing else"

    mutating func readKey(_ bridge: Mapping) -> BridgeSecret? {
        let file = scalar(bridge, "key_file")
        let variable = scalar(bridge, "key_env")
        switch (file, variable) {
        case (nil, nil):
            report(bridge.child("key_file"), bridge.mark, "the bridge key is missing: set key_file (a file holding the key as hex) or key_env (an environment variable holding it); the key itself never goes in this file")
            return nil
        case (.some, .some(let (_, mark))):
            report(bridge.child("key_env"), mark, "set only one of key_file and key_env")
            return nil
        case (.some(let (text, mark)), nil):
            if Self.looksLikeKey(text) {
                report(bridge.child("key_file"), mark, "holds what looks like the key itself: put the key in a file (readable only by mtsync) and name that file here")
                return nil
            }
            let path = resolve(text)
            if let problem = FileAccess.problem(at: path, wanted: .file) {
                report(bridge.child("key_file"), mark, "cannot read the key file: \(problem); check the path and its permissions")
                return nil
            }
            guard let data = FileManager.default.contents(atPath: path) else {
                report(bridge.child("key_file"), mark, "cannot read the key file \(path); check its permissions")
                return nil
            }
            guard let key = BridgeSecret(hex: String(decoding: data, as: UTF8.self)) else {
                report(bridge.child("key_file"), mark, "the key file \(path) does not hold a valid key: \(Self.keyHint)")
                return nil
            }
            warnIfOthersCanAccess(secretFile: path, at: bridge.child("key_file"), mark)
            return key
        case (nil, .some(let (name, mark))):
            if Self.looksLikeKey(name) {
                report(bridge.child("key_env"), mark, "holds what looks like the key itself: name an environment variable here and put the key in it")
                return nil
            }
            guard let value = environment[name], !value.trimmingASCIIWhitespace().isEmpty else {
                report(bridge.child("key_env"), mark, "the environment variable \(name) is not set or empty: export the bridge key (hex) in it before starting mtsync")
                return nil
            }
            guard let key = BridgeSecret(hex: value) else {
                report(bridge.child("key_env"), mark, "the environment variable \(name) does not hold a valid key: \(Self.keyHint)")
                return nil
            }
            return key
        }
    }

    mutating func readTLS(_ node: Node, path: String) -> TLSFiles? {
        guard let tls = mapping(node, path: path, keys: ["ca_file", "cert_file", "key_file", "server_name"]) else { return nil }
        var files = TLSFiles()
        var valid = true
        func file(_ reader: inout ConfigurationReader, _ key: String) -> String? {
            guard let (text, mark) = reader.scalar(tls, key) else { return nil }
            let resolved = reader.resolve(text)
            if let problem = FileAccess.problem(at: resolved, wanted: .file) {
                reader.report(tls.child(key), mark, "cannot read the TLS file: \(problem); check the path and its permissions")
                valid = false
            }
            return resolved
        }
        files.caFile = file(&self, "ca_file")
        files.certFile = file(&self, "cert_file")
        files.keyFile = file(&self, "key_file")
        if let keyFile = files.keyFile, valid { warnIfOthersCanAccess(secretFile: keyFile, at: tls.child("key_file"), tls.mark) }
        if (files.certFile == nil) != (files.keyFile == nil) {
            let missing = files.certFile == nil ? "cert_file" : "key_file"
            report(tls.child(missing), tls.mark, "a client certificate needs both cert_file and key_file: add \(missing) or remove the other")
            valid = false
        }
        if let (text, mark) = scalar(tls, "server_name") {
            if text.isEmpty || text.contains(where: { $0 == " " || $0 == "/" }) {
                report(tls.child("server_name"), mark, "must be a host name, the one the bridge's certificate carries")
                valid = false
            } else {
                files.serverName = text
            }
        }
        return valid ? files : nil
    }

    /// `host:port` or `[v6]:port`.
    static func hostAndPort(_ text: String) -> (host: String, port: Int)? {
        let host: Substring, portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            guard !host.contains(":") else { return nil }
        }
        guard !host.isEmpty, !host.contains(where: { $0 == " " || $0 == "/" || $0 == "@" }),
            portText.allSatisfy({ $0.isASCII && $0.isNumber }), let port = Int(portText), (1...65535).contains(port)
        else { return nil }
        return (String(host), port)
    }

    /// A value an operator may have pasted the key into by mistake: 64 or more hex digits. Such values are
    /// never echoed in a message.
    static func looksLikeKey(_ text: String) -> Bool {
        let trimmed = text.trimmingASCIIWhitespace()
        return trimmed.utf8.count >= 64 && trimmed.allSatisfy(\.isHexDigit)
    }
}

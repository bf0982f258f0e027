import Foundation
import MTSyncApp

/// A throwaway folder with what configurations point at: key files, TLS files, rules files, a drop root.
struct ConfigurationFixture {
    static let key = String(repeating: "5e", count: 32)
    static let exampleURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appending(path: "docs/examples/mtsync.yaml")

    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appending(path: "mtsync-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder.appending(path: "drop"), withIntermediateDirectories: true)
        try write("bridge.key", Self.key + "\n")
        for name in ["bridge-ca.pem", "client.pem", "client-key.pem"] { try write(name, "-----BEGIN CERTIFICATE-----\n") }
        try write("returning-ai-key", "example-feed-api-key\n")
        try write("live-mt4-rules.json", #"{"symbols": {"suffixes": [".m4"]}, "filters": {"exclude_logins": ["90000-90999"]}}"#)
    }

    func path(_ name: String) -> String { folder.appending(path: name).path }

    func write(_ name: String, _ text: String) throws {
        try Data(text.utf8).write(to: folder.appending(path: name))
    }

    /// The example file with its /etc/mtsync and /srv paths moved into this folder.
    func exampleText() throws -> String {
        try String(contentsOf: Self.exampleURL, encoding: .utf8)
            .replacingOccurrences(of: "/etc/mtsync/", with: folder.path + "/")
            .replacingOccurrences(of: "/srv/mtsync-drop", with: path("drop"))
    }

    /// Writes `text` as mtsync.yaml here and loads it.
    func load(_ text: String, environment: [String: String] = [:]) throws(ConfigurationErrors) -> MTSyncConfiguration {
        let file = folder.appending(path: "mtsync.yaml")
        try? Data(text.utf8).write(to: file)
        return try MTSyncConfiguration.load(path: file.path, environment: environment)
    }

    /// The problems loading `text` reports (empty when it loads).
    func problems(_ text: String, environment: [String: String] = [:]) -> [ConfigurationProblem] {
        do {
            _ = try load(text, environment: environment)
            return []
        } catch {
            return error.problems
        }
    }

    /// A valid file of one drop server; `server` lines are added to the server, `top` lines at the top.
    static func minimal(server: String = "", top: String = "") -> String {
        """
        \(top)
        servers:
          - id: srv
            platform: mt5
            time_zone: UTC
            start: 2025-01-01
            drop: { folder: drop }
        \(server.split(separator: "\n", omittingEmptySubsequences: false).map { "    \($0)" }.joined(separator: "\n"))
        """
    }
}

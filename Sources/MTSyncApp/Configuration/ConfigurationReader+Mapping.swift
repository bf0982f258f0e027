import Foundation
import MTSyncCore
import Yams

/// Mappings checked against the keys they may have, and scalar access with a problem per bad value.
extension ConfigurationReader {
    /// A YAML mapping checked against the keys it may have; values by key.
    struct Mapping {
        let path: String
        let mark: Mark?
        var values: [String: Node] = [:]
        fileprivate var keyMarks: [String: Mark] = [:]

        subscript(key: String) -> Node? { values[key] }
        func child(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
        func keyMark(_ key: String) -> Mark? { keyMarks[key] }
    }

    mutating func mapping(_ node: Node, path: String, keys: [String]) -> Mapping? {
        guard case .mapping(let map) = node else {
            report(path, node.mark, "must be a mapping of keys (\(keys.joined(separator: ", "))), found \(node.kindName)")
            return nil
        }
        var result = Mapping(path: path, mark: node.mark)
        for (keyNode, value) in map {
            guard case .scalar(let scalar) = keyNode else {
                report(path, keyNode.mark, "keys must be plain names, found \(keyNode.kindName)")
                continue
            }
            let key = scalar.string
            // A key pasted as a mapping key must not be echoed in the path or the message.
            let child = result.child(Self.looksLikeKey(key) ? "(hidden)" : key)
            if Self.looksLikeKey(key) {
                report(child, keyNode.mark, "this key looks like a secret (64 or more hex digits): secrets never go in this file; give the bridge key with key_file or key_env")
            } else if result.values[key] != nil {
                report(child, keyNode.mark, "\(String(reflecting: key)) appears twice here: keep one")
            } else if !keys.contains(key) {
                report(child, keyNode.mark, Self.unknownKeyMessage(key, known: keys))
            } else {
                result.values[key] = value
                if let mark = keyNode.mark { result.keyMarks[key] = mark }
            }
        }
        return result
    }

    static func unknownKeyMessage(_ key: String, known: [String]) -> String {
        if ["key", "secret", "key_hex", "password"].contains(key.lowercased()) {
            return "unknown key \(String(reflecting: key)): secrets never go in this file; give the bridge key with key_file or key_env and the database password through PGPASSWORD or ~/.pgpass"
        }
        let best = known.map { ($0, editDistance($0, key)) }.min { $0.1 < $1.1 }
        if let best, best.1 <= max(2, key.count / 3) {
            return "unknown key \(String(reflecting: key)): did you mean \(String(reflecting: best.0))?"
        }
        return "unknown key \(String(reflecting: key)): the keys allowed here are \(known.joined(separator: ", "))"
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for (i, ca) in a.enumerated() {
            var current = [i + 1] + Array(repeating: 0, count: b.count)
            for (j, cb) in b.enumerated() {
                current[j + 1] = min(previous[j + 1] + 1, current[j] + 1, previous[j] + (ca == cb ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    /// A single value under `key`, as text; nil when absent or null. A list or mapping there is reported.
    mutating func scalar(_ map: Mapping, _ key: String) -> (String, Mark?)? {
        guard let node = map[key], !node.isNull else { return nil }
        guard case .scalar(let scalar) = node else {
            report(map.child(key), node.mark, "must be a single value, found \(node.kindName)")
            return nil
        }
        return (scalar.string.trimmingASCIIWhitespace(), node.mark)
    }

    mutating func required(_ map: Mapping, _ key: String, hint: String) -> (String, Mark?)? {
        guard map[key].map({ !$0.isNull }) ?? false else {
            report(map.child(key), map.mark, "is required: \(hint)")
            return nil
        }
        return scalar(map, key)
    }

    mutating func duration(_ map: Mapping, _ key: String, minimum: Duration) -> Duration? {
        guard let (text, mark) = scalar(map, key) else {
            if map[key]?.isNull == true { report(map.child(key), map[key]?.mark, "is empty: give a duration like 10s, or remove the key for the default") }
            return nil
        }
        return checkedDuration(text, at: map.child(key), mark, minimum: minimum, hint: nil)
    }

    mutating func checkedDuration(_ text: String, at path: String, _ mark: Mark?, minimum: Duration, hint: String?) -> Duration? {
        guard let value = DurationText.parse(text) else {
            let bare = !text.isEmpty && text.allSatisfy({ $0.isASCII && $0.isNumber }) ? " (a bare number has no unit: write \(text)s for seconds)" : ""
            report(path, mark, "must be a duration: a number and a unit (ms, s, m, h, d) such as 500ms, 10s, 5m, 1h, 3d\(hint.map { ", \($0)" } ?? ""); \(String(reflecting: text)) is not one\(bare)")
            return nil
        }
        guard value >= minimum else {
            report(path, mark, "must be at least \(DurationText.format(minimum)), not \(text)")
            return nil
        }
        return value
    }

    /// Absolute paths as they are; `~/` from HOME; anything else relative to the configuration file's folder.
    func resolve(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        if path.hasPrefix("~/"), let home = environment["HOME"] { return URL(fileURLWithPath: home).appending(path: String(path.dropFirst(2))).standardizedFileURL.path }
        return URL(fileURLWithPath: baseDirectory).appending(path: path).standardizedFileURL.path
    }

    /// A file holding a secret that any user of the host may read (or change) is a leak waiting to happen. It still
    /// works, so it is a warning rather than a problem (docs/security.md, G11). Group access is left alone: the
    /// documented layout is `0640 root:mtsync`.
    mutating func warnIfOthersCanAccess(secretFile file: String, at path: String, _ mark: Mark?) {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: file),
              let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue, mode & 0o006 != 0
        else { return }
        let access = mode & 0o002 != 0 ? "change" : "read"
        warn(path, mark, "\(file) holds a secret and every user of this host can \(access) it (mode \(String(mode & 0o777, radix: 8))): chmod 600 it, or 640 with mtsync's group")
    }
}

extension Node {
    var isNull: Bool {
        guard case .scalar(let scalar) = self else { return false }
        return scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    var kindName: String {
        switch self {
        case .scalar: "a single value"
        case .mapping: "a mapping"
        case .sequence: "a list"
        }
    }
}

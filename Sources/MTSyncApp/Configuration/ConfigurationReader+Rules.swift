import Foundation
import MTSyncCore
import Yams

/// A server's normalization `rules`, inline or from `rules_file`, with every unknown key named.
extension ConfigurationReader {
    mutating func readRules(_ server: Mapping, id: ServerID?, platform: Platform?) -> NormalizationRules? {
        let inline = server["rules"].flatMap { $0.isNull ? nil : $0 }
        let file = scalar(server, "rules_file")
        let rules: NormalizationRules?
        switch (inline, file) {
        case (nil, nil):
            return NormalizationRules()
        case (.some, .some(let (_, mark))):
            report(server.child("rules_file"), mark, "set either rules_file or rules (inline), not both")
            return nil
        case (.some(let node), nil):
            rules = readInlineRules(node, path: server.child("rules"))
        case (nil, .some(let (text, mark))):
            rules = readRulesFile(resolve(text), path: server.child("rules_file"), mark: mark)
        }
        guard let rules else { return nil }
        // Apply them once now, so a bad entry (an empty canonical symbol, a login that is not a number) stops
        // the daemon at start-up instead of at the first record.
        var settings = ServerSettings(server: id ?? (try! ServerID("placeholder")), platform: platform ?? .mt5, zone: ServerTimeZone("UTC")!)
        do {
            try rules.apply(to: &settings)
        } catch {
            let path = file == nil ? "\(server.child("rules")).\(error.path)" : server.child("rules_file")
            let mark = file == nil ? inline.flatMap { Self.node(at: error.path.split(separator: ".").map(String.init), in: $0)?.mark ?? $0.mark } : file?.1
            report(path, mark, file == nil ? "\(error.message)" : "in \(resolve(file!.0)): \(error.path): \(error.message)")
            return nil
        }
        return rules
    }

    mutating func readInlineRules(_ node: Node, path: String) -> NormalizationRules? {
        let before = problems.count
        checkKeys(node, shape: RulesShape.root, path: path)
        guard problems.count == before else { return nil }
        do {
            let text = try Yams.serialize(node: node)
            return try YAMLDecoder().decode(NormalizationRules.self, from: text)
        } catch let error as DecodingError {
            let (codingPath, message) = Self.describe(error)
            let target = Self.node(at: codingPath, in: node)
            report(([path] + codingPath).joined(separator: "."), target?.mark ?? node.mark, message)
        } catch {
            report(path, node.mark, "could not be read: \(error)")
        }
        return nil
    }

    mutating func readRulesFile(_ file: String, path: String, mark: Mark?) -> NormalizationRules? {
        if let problem = FileAccess.problem(at: file, wanted: .file) {
            report(path, mark, "cannot read the rules file: \(problem); check the path and its permissions")
            return nil
        }
        guard let data = FileManager.default.contents(atPath: file) else {
            report(path, mark, "cannot read the rules file \(file); check its permissions")
            return nil
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) else {
            report(path, mark, "the rules file \(file) is not valid JSON: it uses the format of `mtsync normalize --rules` (see docs/configuration.md)")
            return nil
        }
        var unknown: [String] = []
        Self.unknownKeys(object, shape: RulesShape.root, path: [], into: &unknown)
        for key in unknown {
            report(path, mark, "in \(file): unknown key \(key): check its spelling against the rules format (docs/configuration.md)")
        }
        guard unknown.isEmpty else { return nil }
        do {
            return try JSONDecoder().decode(NormalizationRules.self, from: data)
        } catch let error as DecodingError {
            let (codingPath, message) = Self.describe(error)
            report(path, mark, "in \(file): \(codingPath.isEmpty ? "" : codingPath.joined(separator: ".") + ": ")\(message)")
        } catch {
            report(path, mark, "in \(file): \(error)")
        }
        return nil
    }

    /// Which keys the rules format has (NormalizationRules' coding keys); maps under `*` take any key.
    indirect enum RulesShape: Sendable {
        case keys([String: RulesShape])
        case anyKey(RulesShape)
        case value

        static let root = RulesShape.keys([
            "ambiguous_time": .value,
            "symbols": .keys([
                "map": .value, "suffixes": .value, "prefixes": .value, "default_decorations": .value,
                "table": .anyKey(.keys(["asset_class": .value, "contract_size": .value])),
            ]),
            "filters": .keys(["groups": .value, "include_logins": .value, "exclude_logins": .value, "unknown_group": .value]),
            "accounts": .anyKey(.keys(["group": .value, "currency": .value])),
        ])
    }

    mutating func checkKeys(_ node: Node, shape: RulesShape, path: String) {
        guard case .mapping(let map) = node else { return }  // type errors are the decoder's to report
        for (keyNode, value) in map {
            let key = keyNode.scalar?.string ?? "?"
            let child = "\(path).\(key)"
            switch shape {
            case .value: return
            case .anyKey(let inner): checkKeys(value, shape: inner, path: child)
            case .keys(let known):
                if let inner = known[key] {
                    checkKeys(value, shape: inner, path: child)
                } else {
                    report(child, keyNode.mark, Self.unknownKeyMessage(key, known: known.keys.sorted()))
                }
            }
        }
    }

    static func unknownKeys(_ object: Any, shape: RulesShape, path: [String], into unknown: inout [String]) {
        guard let dictionary = object as? [String: Any] else { return }
        for (key, value) in dictionary.sorted(by: { $0.key < $1.key }) {
            switch shape {
            case .value: return
            case .anyKey(let inner): unknownKeys(value, shape: inner, path: path + [key], into: &unknown)
            case .keys(let known):
                if let inner = known[key] {
                    unknownKeys(value, shape: inner, path: path + [key], into: &unknown)
                } else {
                    unknown.append((path + [key]).joined(separator: "."))
                }
            }
        }
    }

    /// The path (as keys and `[n]` indexes) and a sentence for a decoding error of the rules.
    static func describe(_ error: DecodingError) -> (path: [String], message: String) {
        func names(_ path: [any CodingKey]) -> [String] {
            path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
        }
        switch error {
        case .typeMismatch(let type, let context):
            return (names(context.codingPath), "has the wrong type: expected \(typeName(type))")
        case .valueNotFound(let type, let context):
            return (names(context.codingPath), "is empty: expected \(typeName(type))")
        case .keyNotFound(let key, let context):
            return (names(context.codingPath + [key]), "is required")
        case .dataCorrupted(let context):
            return (names(context.codingPath), context.debugDescription)
        @unknown default:
            return ([], "\(error)")
        }
    }

    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "text"
        case is Bool.Type: "true or false"
        case is UInt64.Type, is Int.Type: "a whole number"
        case is [Any].Type: "a list"
        case is [String: Any].Type: "a mapping"
        default: "\(type)"
        }
    }

    /// The node at a coding path (`["symbols", "suffixes", "[0]"]`), for its line.
    static func node(at path: [String], in root: Node) -> Node? {
        var current = root
        for component in path {
            if component.hasPrefix("["), let index = Int(component.dropFirst().dropLast()), case .sequence(let list) = current, index < list.count {
                current = list[list.index(list.startIndex, offsetBy: index)]
            } else if case .mapping(let map) = current, let value = map.first(where: { $0.key.scalar?.string == component })?.value {
                current = value
            } else {
                return current
            }
        }
        return current
    }
}

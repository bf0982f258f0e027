import Foundation

/// What a CSV drop file is, as its writer published it in `<file>.manifest.json` (bridge-protocol/README.md
/// §7.3). mtsync takes a CSV only once its manifest exists, and checks the file against it before storing
/// anything.
public struct DropManifest: Sendable, Hashable, Codable {
    public var file: String
    public var serverID: String
    public var stream: DropStream
    public var fromMilliseconds: Int64
    public var toMilliseconds: Int64
    /// Data rows, the header excluded.
    public var rows: Int
    /// Lower-case hex SHA-256 of the CSV file's bytes.
    public var sha256: String
    public var createdUTC: String?

    enum CodingKeys: String, CodingKey {
        case file
        case serverID = "server_id"
        case stream
        case fromMilliseconds = "from_ms"
        case toMilliseconds = "to_ms"
        case rows, sha256
        case createdUTC = "created_utc"
    }

    public init(file: String, serverID: String, stream: DropStream, fromMilliseconds: Int64, toMilliseconds: Int64, rows: Int, sha256: String, createdUTC: String? = nil) {
        self.file = file
        self.serverID = serverID
        self.stream = stream
        self.fromMilliseconds = fromMilliseconds
        self.toMilliseconds = toMilliseconds
        self.rows = rows
        self.sha256 = sha256
        self.createdUTC = createdUTC
    }

    /// Decodes and checks a manifest: it must name `csvName`, belong to `serverID`, and say what the file name
    /// says. Throws a sentence an operator can act on.
    public static func decode(_ data: Data, csvName: String, serverID: String) throws(DropFileProblem) -> DropManifest {
        let manifest: DropManifest
        do {
            manifest = try JSONDecoder().decode(DropManifest.self, from: data)
        } catch {
            throw DropFileProblem(code: .badManifest, "the manifest is not valid JSON of the documented shape (bridge-protocol/README.md §7.3): \(Self.explain(error))")
        }
        guard manifest.file == csvName else {
            throw DropFileProblem(code: .badManifest, "the manifest names \(String(reflecting: manifest.file)), not this file")
        }
        guard manifest.serverID == serverID else {
            throw DropFileProblem(code: .badManifest, "the manifest is for server \(String(reflecting: manifest.serverID)) but the file is in the folder of \(serverID)")
        }
        guard manifest.rows >= 0 else { throw DropFileProblem(code: .badManifest, "the manifest's rows is negative") }
        guard manifest.sha256.utf8.count == 64, manifest.sha256.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
            throw DropFileProblem(code: .badManifest, "the manifest's sha256 must be 64 lower-case hex digits")
        }
        guard manifest.fromMilliseconds <= manifest.toMilliseconds else {
            throw DropFileProblem(code: .badManifest, "the manifest's from_ms is after its to_ms")
        }
        let name = try DropFileName(csvName)
        guard name.stream == manifest.stream else {
            throw DropFileProblem(code: .badManifest, "the file name says stream \(name.stream.rawValue) but the manifest says \(manifest.stream.rawValue)")
        }
        return manifest
    }

    private static func explain(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "missing \(key.stringValue)"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context), DecodingError.dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? context.debugDescription : "\(path): \(context.debugDescription)"
        default: return "\(error)"
        }
    }
}

/// The kinds of file a drop carries (§7.1), named as in file names and manifests.
public enum DropStream: String, Sendable, Hashable, Codable, CaseIterable {
    case deals
    case trades
    case openTrades = "open-trades"
    case accounts
    case symbols
    /// End-of-day account records (§4.8).
    case daily
    /// Edits and deletions of history records (§7.1, like §4.6).
    case changes
}

/// A drop file name, `<stream>-<from>-<to>-<seq>.csv` (§7.1), e.g. `deals-20250101T000000-20250102T000000-0001.csv`.
public struct DropFileName: Sendable, Hashable {
    public let stream: DropStream
    public let from: String
    public let to: String
    public let sequence: String

    public init(_ name: String) throws(DropFileProblem) {
        guard name.hasSuffix(".csv") else { throw DropFileProblem(code: .badName, "a drop file name ends in .csv") }
        let stem = name.dropLast(4)
        // The stream may itself contain a dash (open-trades): take the last three parts from the right.
        let parts = stem.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 4, let stream = DropStream(rawValue: parts.dropLast(3).joined(separator: "-")) else {
            throw DropFileProblem(code: .badName, "\(String(reflecting: name)) is not <stream>-<from>-<to>-<seq>.csv with stream one of \(DropStream.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let from = String(parts[parts.count - 3]), to = String(parts[parts.count - 2]), sequence = String(parts[parts.count - 1])
        guard Self.isTimestamp(from), Self.isTimestamp(to) else {
            throw DropFileProblem(code: .badName, "\(String(reflecting: name)): from and to must be YYYYMMDDTHHMMSS")
        }
        guard sequence.utf8.count >= 4, sequence.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else {
            throw DropFileProblem(code: .badName, "\(String(reflecting: name)): the sequence must be 4 or more digits")
        }
        self.stream = stream
        self.from = from
        self.to = to
        self.sequence = sequence
    }

    private static func isTimestamp(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.count == 15 && bytes[8] == UInt8(ascii: "T")
            && bytes.enumerated().allSatisfy { $0.offset == 8 || (0x30...0x39).contains($0.element) }
    }
}

/// Why a drop file was not taken whole: it moves to `rejected/` with this reason beside it.
public struct DropFileProblem: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let badName = Code(rawValue: "bad_name")
        public static let badManifest = Code(rawValue: "bad_manifest")
        public static let checksumMismatch = Code(rawValue: "checksum_mismatch")
        public static let rowCountMismatch = Code(rawValue: "row_count_mismatch")
        public static let noHeader = Code(rawValue: "no_header")
        public static let outsideDropFolder = Code(rawValue: "outside_drop_folder")
        public static let changedContent = Code(rawValue: "changed_content")
        public static let unreadable = Code(rawValue: "unreadable")
        /// The file has more than one name (a hard link): another name, maybe outside the drop, shares its bytes.
        public static let hardLink = Code(rawValue: "hard_link")
        /// The file is larger than the folder's `max_file_size`.
        public static let tooLarge = Code(rawValue: "too_large")
    }

    public let code: Code
    public let reason: String

    public init(code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(code): \(reason)" }
}

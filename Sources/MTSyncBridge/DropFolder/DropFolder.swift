import Crypto
import Foundation
import MTSyncCore

/// One server's CSV drop folder (bridge-protocol/README.md §7): `<root>/<server>/incoming/` where the writer
/// publishes, `processed/` and `rejected/` where mtsync moves what it took or refused.
///
/// Only plain files directly inside `incoming/` are read, opened with `O_NOFOLLOW`: a symbolic link, a name
/// with a slash or `..`, or an `incoming/` that resolves outside the drop root is refused, so a writer cannot
/// make mtsync read (or move) anything outside the drop folder. A hard link (a file with a second name, which
/// may be anywhere on the file system) is refused for the same reason, and a file larger than `maxFileBytes`
/// is refused before it is read (§7.5).
///
/// Files are read in fixed-size chunks, twice: once to check the manifest's SHA-256, row count and header
/// before anything is stored, and once to stream the records. Memory stays bounded by one chunk and one row.
public struct DropFolder: Sendable {
    public let root: URL
    public let serverID: String
    public let incoming: URL
    public let processed: URL
    public let rejected: URL
    /// The largest drop file taken; a larger one is rejected with `too_large`.
    public let maxFileBytes: Int64
    static let chunkSize = 1 << 16
    /// The cap when the configuration gives none (`drop.max_file_size`): 4 GiB.
    public static let defaultMaxFileBytes: Int64 = 4 << 30

    /// Opens the folder of `serverID` under `root`, creating `incoming/`, `processed/` and `rejected/` when
    /// missing.
    public init(root: String, serverID: String, maxFileBytes: Int64 = Self.defaultMaxFileBytes) throws(DropFileProblem) {
        let rootURL = URL(fileURLWithPath: root).standardizedFileURL
        let base = rootURL.appending(path: serverID, directoryHint: .isDirectory)
        self.root = rootURL
        self.serverID = serverID
        self.maxFileBytes = max(1, maxFileBytes)
        incoming = base.appending(path: "incoming", directoryHint: .isDirectory)
        processed = base.appending(path: "processed", directoryHint: .isDirectory)
        rejected = base.appending(path: "rejected", directoryHint: .isDirectory)
        guard Self.isPlainName(serverID) else {
            throw DropFileProblem(code: .outsideDropFolder, "the server id \(String(reflecting: serverID)) cannot name a folder")
        }
        for folder in [incoming, processed, rejected] {
            do {
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            } catch {
                throw DropFileProblem(code: .unreadable, "cannot create \(folder.path): \(error.localizedDescription)")
            }
            // A folder that is (or passes through) a symbolic link leading elsewhere is refused.
            let resolved = folder.resolvingSymlinksInPath().path
            let resolvedRoot = rootURL.resolvingSymlinksInPath().path
            guard resolved.hasPrefix(resolvedRoot + "/") else {
                throw DropFileProblem(code: .outsideDropFolder, "\(folder.path) resolves to \(resolved), outside the drop folder \(resolvedRoot)")
            }
        }
    }

    static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("\0")
    }

    static func manifestName(of csvName: String) -> String { csvName + ".manifest.json" }

    /// The CSV files in `incoming/` whose manifest has been published, oldest name first. Temporary files
    /// (not ending in `.csv`) and CSVs still waiting for their manifest are left alone.
    public func readyFiles() throws(DropFileProblem) -> [String] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: incoming.path)
        } catch {
            throw DropFileProblem(code: .unreadable, "cannot list \(incoming.path): \(error.localizedDescription)")
        }
        let present = Set(names)
        return names.filter { $0.hasSuffix(".csv") && present.contains(Self.manifestName(of: $0)) }.sorted()
    }

    /// Checks a ready file against its manifest before anything is stored: the name, the manifest, that the
    /// file is a plain file inside the folder, its SHA-256, its row count and its header.
    public func verify(_ name: String) throws(DropFileProblem) -> VerifiedDropFile {
        guard Self.isPlainName(name) else { throw DropFileProblem(code: .outsideDropFolder, "\(String(reflecting: name)) is not a plain file name") }
        let fileName = try DropFileName(name)
        let manifestData = try readSmallFile(Self.manifestName(of: name), limit: 1 << 16)
        let manifest = try DropManifest.decode(manifestData, csvName: name, serverID: serverID)

        var hasher = SHA256()
        var parser = CSVParser()
        var header: CSVParser.Row?
        var headerProblem: DropFileProblem?
        var rows = 0
        do {
            try readChunks(of: name) { chunk in
                hasher.update(data: chunk)
                parser.feed(chunk) { output in Self.count(output, header: &header, headerProblem: &headerProblem, rows: &rows) }
            }
        } catch {
            throw Self.problem(error, reading: name)
        }
        parser.finish { output in Self.count(output, header: &header, headerProblem: &headerProblem, rows: &rows) }
        let digest = Hex.encode(hasher.finalize())
        guard digest == manifest.sha256 else {
            throw DropFileProblem(code: .checksumMismatch, "the file's SHA-256 is \(digest) but the manifest says \(manifest.sha256) (was it changed or published before it was complete?)")
        }
        if let headerProblem { throw headerProblem }
        guard let header else { throw DropFileProblem(code: .noHeader, "the file is empty: the first line must be the header") }
        let decoder = try DropRowDecoder(stream: fileName.stream, header: header)
        guard rows == manifest.rows else {
            throw DropFileProblem(code: .rowCountMismatch, "the file has \(rows) data rows but the manifest says \(manifest.rows)")
        }
        return VerifiedDropFile(name: name, manifest: manifest, decoder: decoder)
    }

    private static func count(_ output: CSVParser.Output, header: inout CSVParser.Row?, headerProblem: inout DropFileProblem?, rows: inout Int) {
        if header == nil && headerProblem == nil {
            switch output {
            case .row(let row): header = row
            case .malformed(let problem): headerProblem = DropFileProblem(code: .noHeader, "the header (line \(problem.lineNumber)) is not valid CSV: \(problem.reason)")
            }
        } else {
            rows += 1
        }
    }

    /// Streams a verified file's records in batches of at most `batchSize`, each row either a record or the
    /// reason it is not one. Throws `checksumMismatch` at the end if the file changed since `verify` (the
    /// caller's transaction must then roll back).
    public func readRecords(
        _ file: VerifiedDropFile, batchSize: Int = 1_000, _ body: ([Result<DropRecord, DropRowProblem>]) throws -> Void
    ) throws {
        var hasher = SHA256()
        var parser = CSVParser()
        var batch: [Result<DropRecord, DropRowProblem>] = []
        batch.reserveCapacity(batchSize)
        var seenHeader = false
        func take(_ output: CSVParser.Output) throws {
            guard seenHeader else {
                seenHeader = true
                return
            }
            switch output {
            case .row(let row): batch.append(file.decoder.decode(row))
            case .malformed(let problem):
                batch.append(.failure(DropRowProblem(lineNumber: problem.lineNumber, code: "csv_syntax", reason: problem.reason, raw: problem.raw)))
            }
            if batch.count >= batchSize {
                try body(batch)
                batch.removeAll(keepingCapacity: true)
            }
        }
        // The parser's rows are collected per chunk and taken after it: a callback that captures `file` and
        // the batch, handed to the parser's per-byte loop, copied the file's description at every byte.
        var rows: [CSVParser.Output] = []
        try readChunks(of: file.name) { chunk in
            hasher.update(data: chunk)
            parser.feed(chunk) { rows.append($0) }
            for row in rows { try take(row) }
            rows.removeAll(keepingCapacity: true)
        }
        parser.finish { rows.append($0) }
        for row in rows { try take(row) }
        if !batch.isEmpty { try body(batch) }
        let digest = Hex.encode(hasher.finalize())
        guard digest == file.manifest.sha256 else {
            throw DropFileProblem(code: .checksumMismatch, "the file changed while it was being read (SHA-256 now \(digest)); it will be read again")
        }
    }

    /// Moves a file and its manifest to `processed/`.
    public func moveToProcessed(_ name: String) throws(DropFileProblem) {
        try move(name, to: processed)
    }

    /// Moves a file and its manifest to `rejected/`, with `<file>.reason.txt` saying why.
    public func reject(_ name: String, because problem: DropFileProblem) throws(DropFileProblem) {
        guard Self.isPlainName(name) else { return }
        let reason = "\(problem.code): \(problem.reason)\n"
        do {
            try Data(reason.utf8).write(to: rejected.appending(path: name + ".reason.txt"), options: .atomic)
        } catch {
            throw DropFileProblem(code: .unreadable, "cannot write the reason file in \(rejected.path): \(error.localizedDescription)")
        }
        try move(name, to: rejected)
    }

    private func move(_ name: String, to folder: URL) throws(DropFileProblem) {
        guard Self.isPlainName(name) else { return }
        for file in [name, Self.manifestName(of: name)] {
            let source = incoming.appending(path: file).path
            // rename(2) moves the entry itself (a symbolic link stays a link) and replaces an older copy.
            if rename(source, folder.appending(path: file).path) != 0, errno != ENOENT {
                throw DropFileProblem(code: .unreadable, "cannot move \(source) to \(folder.path): \(String(cString: strerror(errno)))")
            }
        }
    }

    // MARK: - Reading files safely

    /// Opens `incoming/<name>` for reading, refusing symbolic links, anything but a regular file, hard links and
    /// files over `maxFileBytes`. The checks are made on the opened descriptor (`fstat`), so a name swapped
    /// between the check and the read cannot slip past them.
    /// `O_NONBLOCK` so that a FIFO named like a drop file is refused at once: without it, `open` waits for a writer
    /// that may never come, holding the intake (and a thread) forever. It changes nothing for a regular file.
    private func open(_ name: String) throws(DropFileProblem) -> Int32 {
        let path = incoming.appending(path: name).path
        let descriptor = Foundation.open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else {
            if errno == ELOOP {
                throw DropFileProblem(code: .outsideDropFolder, "\(name) is a symbolic link; drop files must be plain files inside the drop folder")
            }
            throw DropFileProblem(code: .unreadable, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        var status = stat()
        guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
            close(descriptor)
            throw DropFileProblem(code: .outsideDropFolder, "\(name) is not a regular file (a FIFO, device or folder); drop files must be plain files")
        }
        guard status.st_nlink <= 1 else {
            close(descriptor)
            throw DropFileProblem(code: .hardLink, "\(name) has \(status.st_nlink) names (a hard link): its bytes may belong to a file outside the drop folder; publish a copy by rename(2), not a link (bridge-protocol/README.md §7.5)")
        }
        guard Int64(status.st_size) <= maxFileBytes else {
            close(descriptor)
            throw DropFileProblem(code: .tooLarge, "\(name) is \(status.st_size) bytes, over this folder's max_file_size of \(maxFileBytes) bytes: split the export into smaller files, or raise drop.max_file_size")
        }
        return descriptor
    }

    private func readChunks(of name: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let descriptor = try open(name)
        defer { close(descriptor) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.chunkSize, alignment: 1)
        defer { buffer.deallocate() }
        var total: Int64 = 0
        while true {
            let count = read(descriptor, buffer.baseAddress, Self.chunkSize)
            if count < 0 {
                if errno == EINTR { continue }
                throw DropFileProblem(code: .unreadable, "cannot read \(name): \(String(cString: strerror(errno)))")
            }
            if count == 0 { return }
            // A file still being written after it was published can outgrow the size checked at open.
            total += Int64(count)
            guard total <= maxFileBytes else {
                throw DropFileProblem(code: .tooLarge, "\(name) grew past this folder's max_file_size of \(maxFileBytes) bytes while it was read: publish files complete, by rename(2)")
            }
            try body(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
        }
    }

    private func readSmallFile(_ name: String, limit: Int) throws(DropFileProblem) -> Data {
        var data = Data()
        do {
            try readChunks(of: name) { chunk in
                data.append(contentsOf: chunk)
                if data.count > limit { throw DropFileProblem(code: .badManifest, "\(name) is larger than \(limit) bytes") }
            }
        } catch {
            throw Self.problem(error, reading: name)
        }
        return data
    }

    private static func problem(_ error: any Error, reading name: String) -> DropFileProblem {
        error as? DropFileProblem ?? DropFileProblem(code: .unreadable, "cannot read \(name): \(error)")
    }
}

/// A drop file whose manifest, checksum, row count and header have been checked.
public struct VerifiedDropFile: Sendable {
    public let name: String
    public let manifest: DropManifest
    let decoder: DropRowDecoder

    public var stream: DropStream { decoder.stream }
    /// The SHA-256 the file was verified against, as bytes.
    public var sha256: [UInt8] { Hex.decode(manifest.sha256) ?? [] }
}

import ArgumentParser
import Foundation
import MTSyncBridge
import MTSyncApp

/// `mtsync drop …`: the CSV drop (bridge-protocol/README.md §7).
struct DropCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drop",
        abstract: "Work with a CSV drop folder.",
        subcommands: [DropCheckCommand.self]
    )
}

/// Checks what mtsync would make of a drop without storing or moving anything, so a broker's engineers can
/// test their export job against the spec before going live.
struct DropCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check the ready files of a server's drop folder against their manifests and the CSV rules; stores and moves nothing.",
        discussion: "Exit status 0 when every ready file would be taken with no bad row, 65 when a file would be rejected or a row quarantined."
    )

    @Argument(help: "The drop root: the folder holding <server>/incoming/.") var root: String
    @Option(help: "The server id (the folder under the drop root).") var server: String
    @Option(help: "Bad rows listed per file.") var maxRows = 20
    @Option(help: "Files larger than this are rejected, as drop.max_file_size in the configuration (e.g. 512MiB, 4GiB).")
    var maxFileSize = ByteSizeText.format(DropFolder.defaultMaxFileBytes)
    @Flag(help: "Print a JSON report instead of text.") var json = false

    struct FileCheck: Encodable {
        var file: String
        var status: String
        var problem: String?
        var records = 0
        var badRows: [String] = []
        var badRowCount = 0
    }

    struct Report: Encodable {
        var server: String
        var files: [FileCheck]
        var waitingForManifest: [String]
    }

    func validate() throws {
        guard let bytes = ByteSizeText.parse(maxFileSize), bytes > 0 else {
            throw ValidationError("--max-file-size must be a size like 512MiB or 4GiB, not \(String(reflecting: maxFileSize))")
        }
    }

    func run() throws {
        let report: Report
        do {
            report = try check()
        } catch {
            throw CommandFailure.report(error, json: json)
        }
        if json {
            JSONOutput.print(report)
        } else {
            for file in report.files {
                print("\(file.file): \(file.status)\(file.problem.map { " — \($0)" } ?? "")")
                if file.status != "rejected" { print("  \(file.records) record(s), \(file.badRowCount) bad row(s)") }
                for row in file.badRows { print("  \(row)") }
            }
            for name in report.waitingForManifest { print("\(name): waiting for its manifest (not taken yet)") }
            if report.files.isEmpty { print("no ready files in \(root)/\(server)/incoming") }
        }
        if report.files.contains(where: { $0.status != "ok" }) { throw ExitCode(CommandFailure.Status.dataError.rawValue) }
    }

    private func check() throws -> Report {
        let folder = try DropFolder(root: root, serverID: server, maxFileBytes: ByteSizeText.parse(maxFileSize) ?? DropFolder.defaultMaxFileBytes)
        let ready = try folder.readyFiles()
        var files: [FileCheck] = []
        for name in ready {
            var check = FileCheck(file: name, status: "ok")
            do {
                let file = try folder.verify(name)
                try folder.readRecords(file) { batch in
                    for result in batch {
                        switch result {
                        case .success: check.records += 1
                        case .failure(let problem):
                            check.badRowCount += 1
                            if check.badRows.count < maxRows { check.badRows.append("line \(problem.lineNumber): \(problem.code): \(problem.reason)") }
                        }
                    }
                }
                if check.badRowCount > 0 { check.status = "bad rows" }
            } catch let problem as DropFileProblem {
                check.status = "rejected"
                check.problem = problem.description
            }
            files.append(check)
        }
        let all = (try? FileManager.default.contentsOfDirectory(atPath: folder.incoming.path)) ?? []
        let waiting = all.filter { $0.hasSuffix(".csv") && !ready.contains($0) }.sorted()
        return Report(server: server, files: files, waitingForManifest: waiting)
    }
}

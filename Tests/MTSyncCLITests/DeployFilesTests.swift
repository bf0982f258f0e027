import Foundation
import Testing

/// The files an operator installs from `deploy/` (docs/operations.md): the systemd unit and the cron jobs. They are
/// read by systemd and cron, not by mtsync, so nothing else would notice a typo, a missing hardening line, or a
/// cron job calling an option a release renamed — until it failed in production at 2 a.m.
@Suite("The deploy files: systemd unit and cron jobs")
struct DeployFilesTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let installedBinary = "/usr/local/bin/mtsync"
    static let productionConfiguration = "/etc/mtsync/mtsync.yaml"

    static func contents(_ path: String) throws -> String {
        try String(contentsOf: repository.appending(path: path), encoding: .utf8)
    }

    // MARK: - The systemd unit

    static func unit() throws -> SystemdUnit { SystemdUnit(parsing: try contents("deploy/mtsync.service")) }

    @Test("the unit runs `mtsync run` with the production configuration, as the mtsync user, secrets from an optional environment file")
    func unitStartsTheDaemon() throws {
        let unit = try Self.unit()
        #expect(unit.value("Type", in: "Service") == "exec")
        #expect(unit.value("ExecStart", in: "Service") == "\(Self.installedBinary) run --config \(Self.productionConfiguration)")
        #expect(unit.value("User", in: "Service") == "mtsync")
        #expect(unit.value("Group", in: "Service") == "mtsync")
        // The "-" makes the file optional: secrets may all live in files instead.
        #expect(unit.value("EnvironmentFile", in: "Service") == "-/etc/mtsync/mtsync.env")
        #expect(unit.value("StateDirectory", in: "Service") == "mtsync")
        #expect(unit.value("ConfigurationDirectory", in: "Service") == "mtsync")
        #expect(unit.value("WantedBy", in: "Install") == "multi-user.target")
    }

    @Test("the unit restarts a failed daemon but not one stopped by a bad configuration (78), and lets the page in flight finish on stop")
    func unitRestartsAndStops() throws {
        let unit = try Self.unit()
        #expect(unit.value("Restart", in: "Service") == "on-failure")
        #expect(unit.value("RestartSec", in: "Service") == "5s")
        let preventing = try #require(unit.value("RestartPreventExitStatus", in: "Service")).split(separator: " ")
        #expect(preventing.contains("78"))
        #expect(!preventing.contains("75") && !preventing.contains("69"), "temporary failures and an unreachable database must be retried")
        #expect(unit.value("KillSignal", in: "Service") == "SIGTERM")
        #expect(unit.value("TimeoutStopSec", in: "Service") == "60")
    }

    @Test("the unit sandboxes the daemon", arguments: [
        ("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("ProtectHome", "yes"), ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"), ("ProtectKernelTunables", "yes"), ("ProtectKernelModules", "yes"),
        ("ProtectKernelLogs", "yes"), ("ProtectControlGroups", "yes"), ("ProtectClock", "yes"), ("ProtectHostname", "yes"),
        ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"), ("RestrictNamespaces", "yes"), ("RestrictRealtime", "yes"),
        ("RestrictSUIDSGID", "yes"), ("LockPersonality", "yes"), ("MemoryDenyWriteExecute", "yes"),
        ("SystemCallArchitectures", "native"), ("CapabilityBoundingSet", ""), ("UMask", "0077"),
    ])
    func unitHardening(key: String, expected: String) throws {
        #expect(try Self.unit().value(key, in: "Service") == expected)
    }

    @Test("the unit shows where CSV drop folders are made writable, commented out")
    func unitDropFolders() throws {
        let text = try Self.contents("deploy/mtsync.service")
        #expect(text.split(separator: "\n").contains { $0.hasPrefix("#ReadWritePaths=/") })
        #expect(try Self.unit().value("ReadWritePaths", in: "Service") == nil, "a drop root differs per site: the operator fills it in")
    }

    @Test("the unit's command line is one the built mtsync accepts")
    func unitCommandIsAccepted() async throws {
        let execStart = try #require(try Self.unit().value("ExecStart", in: "Service"))
        try await Self.expectAccepted(MTSyncInvocation(command: execStart), origin: "ExecStart")
    }

    // MARK: - The cron jobs

    static func cronFile() throws -> CronFile { CronFile(parsing: try contents("deploy/mtsync.cron")) }

    @Test("every cron job has five schedule fields, runs as mtsync, calls the installed mtsync with the production configuration, and escapes %")
    func cronSyntax() throws {
        let cron = try Self.cronFile()
        #expect(!cron.jobs.isEmpty)
        #expect(cron.malformed.isEmpty, "lines that are neither comments, assignments nor jobs: \(cron.malformed)")
        for job in cron.jobs {
            #expect(job.schedule.count == 5, "\(job.line)")
            for field in job.schedule {
                #expect(field.allSatisfy { $0.isNumber || "*/,-".contains($0) }, "schedule field \"\(field)\" in: \(job.line)")
            }
            #expect(job.user == "mtsync", "\(job.line)")
            #expect(job.command.hasPrefix(Self.installedBinary + " "), "\(job.line)")
            #expect(job.command.contains("--config \(Self.productionConfiguration)"), "\(job.line)")
            #expect(CronFile.unescapedPercent(in: job.command) == nil, "cron turns a bare % into a newline: write \\% in: \(job.line)")
        }
    }

    @Test("the cron jobs repair nightly and check a longer range monthly without repairing, so a difference exits 65 and is mailed")
    func cronJobsCoverRepairAndCheck() throws {
        let reconciles = try Self.cronFile().jobs.map { MTSyncInvocation(command: $0.command) }.filter { $0.subcommand == ["reconcile"] }
        let repairing = reconciles.filter { $0.options.contains("--repair") }
        let checking = reconciles.filter { !$0.options.contains("--repair") }
        #expect(!repairing.isEmpty)
        #expect(!checking.isEmpty && checking.allSatisfy { $0.options.contains("--from") })
        #expect(Set(repairing.compactMap { $0.value(of: "--server") }) == Set(checking.compactMap { $0.value(of: "--server") }), "every server is both repaired and checked")
    }

    @Test("the cron jobs get the service's secrets: bash reads load-env.sh, which exports the environment file")
    func cronEnvironment() throws {
        let cron = try Self.cronFile()
        #expect(cron.assignments["SHELL"] == "/bin/bash", "only bash reads BASH_ENV")
        #expect(cron.assignments["BASH_ENV"] == "/etc/mtsync/load-env.sh")
        let loader = try Self.contents("deploy/load-env.sh")
        #expect(loader.contains(". /etc/mtsync/mtsync.env") && loader.contains("set -a"))
    }

    @Test("every cron job's subcommand and options are ones the built mtsync accepts")
    func cronCommandsAreAccepted() async throws {
        for job in try Self.cronFile().jobs {
            try await Self.expectAccepted(MTSyncInvocation(command: job.command), origin: job.line)
        }
    }

    /// Runs the built binary with the invocation's subcommand and `--help`: it must exist (exit 0, its own usage line)
    /// and list every option the invocation uses.
    static func expectAccepted(_ invocation: MTSyncInvocation, origin: String) async throws {
        #expect(invocation.executable == installedBinary, "\(origin)")
        #expect(!invocation.subcommand.isEmpty, "no subcommand in: \(origin)")
        _ = try CLI.binary()  // a clear message when MTSYNC_BIN is missing (run through scripts/test)
        let help = try await CLI.launch(invocation.subcommand + ["--help"])
        #expect(help.status == 0, "mtsync \(invocation.subcommand.joined(separator: " ")) --help: \(help.stderr)")
        #expect(help.stdout.contains("USAGE: mtsync \(invocation.subcommand.joined(separator: " "))"), "not a subcommand of mtsync: \(origin)")
        for option in invocation.options {
            #expect(MTSyncInvocation.mentions(help.stdout, option: option), "mtsync \(invocation.subcommand.joined(separator: " ")) has no \(option): \(origin)")
        }
    }
}

/// A systemd unit file: `[Section]` headers and `Key=Value` lines; `#` and `;` start comments. A key may be given
/// several times; `value` is the last, as systemd reads it for single-valued settings.
struct SystemdUnit {
    private(set) var entries: [String: [(key: String, value: String)]] = [:]

    init(parsing text: String) {
        var section = ""
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                section = String(line.dropFirst().dropLast())
                continue
            }
            guard let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces), value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            entries[section, default: []].append((key, value))
        }
    }

    func value(_ key: String, in section: String) -> String? {
        entries[section]?.last { $0.key == key }?.value
    }
}

/// An /etc/cron.d file: `NAME=value` assignments and jobs of `minute hour day-of-month month day-of-week user command`.
struct CronFile {
    struct Job {
        let line: String
        let schedule: [String]
        let user: String
        let command: String
    }

    private(set) var assignments: [String: String] = [:]
    private(set) var jobs: [Job] = []
    private(set) var malformed: [String] = []

    init(parsing text: String) {
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if let equals = line.firstIndex(of: "="), equals != line.startIndex, line[..<equals].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
                assignments[String(line[..<equals])] = String(line[line.index(after: equals)...])
                continue
            }
            // Six whitespace-separated fields, then the command, which keeps its own spacing.
            var fields: [String] = [], rest = Substring(line)
            while fields.count < 6, let end = rest.firstIndex(where: \.isWhitespace) {
                fields.append(String(rest[..<end]))
                rest = rest[end...].drop(while: \.isWhitespace)
            }
            guard fields.count == 6, !rest.isEmpty else {
                malformed.append(line)
                continue
            }
            jobs.append(Job(line: line, schedule: Array(fields[0..<5]), user: fields[5], command: String(rest)))
        }
    }

    /// The first `%` not written as `\%`: cron turns it into a newline and feeds the rest to the command's stdin.
    static func unescapedPercent(in command: String) -> String.Index? {
        var escaped = false
        for index in command.indices {
            let character = command[index]
            if character == "%" && !escaped { return index }
            escaped = character == "\\" && !escaped
        }
        return nil
    }
}

/// The mtsync part of a shell command: the executable, its subcommand path (`reconcile`, `outbox list`) and the
/// `--options` it passes. Command substitutions (`"$(date …)"`) are values, and everything from the first
/// redirection, pipe or list operator on belongs to other programs.
struct MTSyncInvocation {
    let executable: String
    let subcommand: [String]
    let options: [String]
    private let words: [String]

    init(command: String) {
        var words: [String] = []
        var rest = Substring(command)
        while let start = rest.firstIndex(where: { !$0.isWhitespace }) {
            rest = rest[start...]
            if rest.hasPrefix("\"$(") || rest.hasPrefix("$(") {
                // A substitution stands for one value; its own options (date's -d) are not mtsync's.
                let close = rest.firstIndex(of: ")").map { rest.index(after: $0) } ?? rest.endIndex
                var end = close
                if rest.hasPrefix("\""), end < rest.endIndex, rest[end] == "\"" { end = rest.index(after: end) }
                words.append("<value>")
                rest = rest[end...]
                continue
            }
            let end = rest.firstIndex(where: \.isWhitespace) ?? rest.endIndex
            let word = String(rest[..<end])
            if ["|", "||", "&&", ";", "&"].contains(word) || word.first == ">" || word.first == "<" || word.hasPrefix("2>") || word.hasPrefix("1>") { break }
            words.append(word)
            rest = rest[end...]
        }
        self.words = words
        executable = words.first ?? ""
        subcommand = Array(words.dropFirst().prefix { !$0.hasPrefix("-") })
        options = words.filter { $0.hasPrefix("--") }.map { String($0.prefix { $0 != "=" }) }
    }

    /// The word after `option`, if any.
    func value(of option: String) -> String? {
        guard let index = words.firstIndex(of: option), index + 1 < words.count else { return nil }
        return words[index + 1]
    }

    /// Whether `help` names `option` as a whole word: `--from` must not be found inside `--from-file`.
    static func mentions(_ help: String, option: String) -> Bool {
        var searchFrom = help.startIndex
        while let range = help.range(of: option, range: searchFrom..<help.endIndex) {
            let after = range.upperBound < help.endIndex ? help[range.upperBound] : " "
            if !(after.isLetter || after.isNumber || after == "-" || after == "_") { return true }
            searchFrom = range.upperBound
        }
        return false
    }
}

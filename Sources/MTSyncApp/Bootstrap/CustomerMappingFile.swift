import Foundation
import MTSyncBridge
import MTSyncCore

/// The operator's file of customer ids (`mtsync accounts import`): CSV with a header naming `login`, `server` and
/// `customer_id` in any order. Read whole and checked whole: one bad row refuses the file with every reason.
public enum CustomerMappingFile {
    public typealias Row = (server: String, login: UInt64, customerID: String)

    public static func parse(file: String) throws(AccountsFileProblem) -> [Row] {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw AccountsFileProblem(problems: ["cannot read \(file): it does not exist or is not readable; check the path and its permissions"])
        }
        var parser = CSVParser()
        var outputs: [CSVParser.Output] = []
        parser.feed(data) { outputs.append($0) }
        parser.finish { outputs.append($0) }
        var problems: [String] = []
        var header: [String: Int]?
        var rows: [Row] = []
        for output in outputs {
            switch output {
            case .malformed(let bad):
                problems.append("line \(bad.lineNumber): \(bad.reason)")
            case .row(let row):
                guard let columns = header else {
                    header = try self.header(row.fields)
                    continue
                }
                switch decode(row.fields, columns: columns) {
                case .success(let decoded): rows.append(decoded)
                case .failure(let problem): problems.append("line \(row.lineNumber): \(problem.reason)")
                }
            }
        }
        guard header != nil else { throw AccountsFileProblem(problems: ["the file is empty: it needs a header row (login,server,customer_id)"]) }
        guard problems.isEmpty else { throw AccountsFileProblem(problems: problems) }
        return rows
    }

    /// The header's column of each name (trimmed, any case).
    static func header(_ fields: [String]) throws(AccountsFileProblem) -> [String: Int] {
        var index: [String: Int] = [:]
        for (position, name) in fields.enumerated() { index[name.trimmingCharacters(in: .whitespaces).lowercased()] = position }
        let missing = ["login", "server", "customer_id"].filter { index[$0] == nil }
        guard missing.isEmpty else {
            throw AccountsFileProblem(problems: ["line 1: the header must name login, server and customer_id; missing \(missing.joined(separator: ", "))"])
        }
        return index
    }

    struct RowProblem: Error { let reason: String }

    static func decode(_ fields: [String], columns: [String: Int]) -> Result<Row, RowProblem> {
        func field(_ name: String) -> String? {
            let at = columns[name]!
            return at < fields.count ? fields[at].trimmingCharacters(in: .whitespaces) : nil
        }
        guard let loginText = field("login"), let login = UInt64(loginText) else {
            return .failure(RowProblem(reason: "login \(String(reflecting: field("login") ?? "")) is not a login number"))
        }
        guard let server = field("server"), (try? ServerID(server)) != nil else {
            return .failure(RowProblem(reason: "server \(String(reflecting: field("server") ?? "")) is not a server id"))
        }
        guard let customer = field("customer_id"), customer.count <= 128, !customer.contains(where: { $0.isNewline }) else {
            return .failure(RowProblem(reason: "customer_id is missing or longer than 128 characters"))
        }
        return .success((server, login, customer))
    }
}

/// An accounts file that cannot be imported, with every reason.
public struct AccountsFileProblem: Error, CustomStringConvertible {
    public var problems: [String]
    public var description: String { "nothing imported; fix the file and run it again:\n  " + problems.joined(separator: "\n  ") }
}

/// One thing wrong with a configuration file: where it is and what to do about it.
///
/// `path` names the setting the way an operator reads the file (`servers[1].bridge.key_file`); `line` and
/// `column` (1-based) point into the file when the YAML parser could tell. Messages never contain a bridge key
/// or a database password.
public struct ConfigurationProblem: Sendable, Hashable, CustomStringConvertible {
    public let path: String
    public let line: Int?
    public let column: Int?
    /// A sentence saying what is wrong and what to do.
    public let message: String

    public init(path: String, line: Int? = nil, column: Int? = nil, message: String) {
        self.path = path
        self.line = line
        self.column = column
        self.message = message
    }

    /// `servers[1].bridge.key_file (line 14, column 17)`; just the path when no line is known; just the line for
    /// problems of the file as a whole (YAML syntax).
    public var location: String {
        let position = line.map { line in column.map { "line \(line), column \($0)" } ?? "line \(line)" }
        switch (path.isEmpty, position) {
        case (true, nil): return "(file)"
        case (true, let position?): return position
        case (false, nil): return path
        case (false, let position?): return "\(path) (\(position))"
        }
    }

    public var description: String { "\(location): \(message)" }
}

/// Everything wrong with a configuration file, all at once, so an operator fixes the file in one pass.
public struct ConfigurationErrors: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file that was read, as given.
    public let file: String
    /// In file order where lines are known; never empty.
    public let problems: [ConfigurationProblem]

    public init(file: String, problems: [ConfigurationProblem]) {
        self.file = file
        self.problems = problems
    }

    public var description: String {
        let count = problems.count == 1 ? "1 problem" : "\(problems.count) problems"
        return "configuration file \(file) has \(count); fix \(problems.count == 1 ? "it" : "them") and run `mtsync check-config \(file)`:\n"
            + problems.map { "  \($0)" }.joined(separator: "\n")
    }
}

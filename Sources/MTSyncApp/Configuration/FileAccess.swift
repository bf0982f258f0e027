import Foundation

/// Why a configured path cannot be used, in words an operator can act on.
enum FileAccess {
    enum Kind { case file, directory }

    /// Nil when `path` is a readable file (or a directory, for `.directory`).
    static func problem(at path: String, wanted kind: Kind) -> String? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return "\(path) does not exist" }
        switch kind {
        case .file where isDirectory.boolValue: return "\(path) is a folder, not a file"
        case .directory where !isDirectory.boolValue: return "\(path) is a file, not a folder"
        default: break
        }
        guard FileManager.default.isReadableFile(atPath: path) else { return "\(path) is not readable by this user" }
        return nil
    }

    static func reason(for path: String, wanted kind: Kind) -> String {
        problem(at: path, wanted: kind) ?? "\(path) could not be read"
    }
}

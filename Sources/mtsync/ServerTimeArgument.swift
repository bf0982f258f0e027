import ArgumentParser
import MTSyncCore

/// `--from`, `--to` and `--time` of every command: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM`, `…:SS` or `…:SS.mmm` (a space may
/// replace the `T`), or milliseconds since 1970 as a number; server time — a wall clock counted as if it were UTC
/// (bridge-protocol §0) — so no zone and no offset.
enum ServerTimeArgument {
    static func milliseconds(_ text: String) throws -> Int64 {
        if !text.isEmpty, text.allSatisfy(\.isASCII), let milliseconds = Int64(text), milliseconds >= 0 { return milliseconds }
        guard let milliseconds = ServerTimeText.milliseconds(parsing: text, ServerTimeText.commandLine) else {
            throw ValidationError("\(String(reflecting: text)) is not a server time: use YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS[.mmm]] or milliseconds since 1970")
        }
        return milliseconds
    }
}

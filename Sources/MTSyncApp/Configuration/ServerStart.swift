import MTSyncCore

/// The `start` setting: a server-time date `2025-01-01` or date and time `2025-01-01T10:00` (seconds optional),
/// as MetaTrader milliseconds — the server's wall clock read as if it were UTC.
enum ServerStart {
    static func parse(_ text: String) -> Int64? {
        ServerTimeText.milliseconds(parsing: text.trimmingASCIIWhitespace(), ServerTimeText.configuration)
    }
}

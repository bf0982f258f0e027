/// What an ingest's error answer adds to mtsync's own reason: its first line, at most 200 characters — enough for
/// the ingest's reason, never a whole HTML page in a log line.
enum IngestAnswer {
    /// `": <first line>"`, or nothing when the answer was empty.
    static func detail(_ answer: String) -> String {
        guard !answer.isEmpty else { return "" }
        let line = answer.prefix { $0 != "\n" && $0 != "\r" }
        return ": " + (line.count > 200 ? line.prefix(200) + "…" : String(line))
    }
}

import MTSyncCore

/// Tokens of each target's format: its syntax, the names the parsers look for, and byte sequences at the edges
/// of UTF-8. The seeded mutator inserts them; `mtsync-fuzz dictionary` writes them for libFuzzer's `-dict`.
enum FuzzDictionary {
    static func tokens(for target: FuzzTarget) -> [[UInt8]] {
        let text: [String]
        switch target {
        case .bridgeLine: text = json + bridge + recordFieldNames.map { "\"\($0)\":" } + extremes + extremes.map { "\"\($0)\"" } + timeFields.flatMap { field in extremes.map { "\"\(field)\":\($0)" } }
        case .csvDrop: text = csv + recordFieldNames + manifest + extremes
        case .configuration: text = yaml + configurationKeys.map { "\($0): " } + configurationValues
        }
        return text.map { Array($0.utf8) } + unicode
    }

    /// Every record's field names: deals, trades, accounts (with their money), symbols, end-of-day records.
    static let recordFieldNames = MT5DealRecord.fieldNames + MT4TradeRecord.fieldNames + RawAccountRecord.fieldNames
        + RawSymbolRecord.fieldNames + RawDailyRecord.fieldNames

    /// The extremes of every numeric field (issue 20): the Int64 and UInt64 limits and one past them, times at the
    /// edges of the plausible window (before 2000, 9999-12-31 in ms and s, Int64.max / 1000 around the ms/s
    /// boundary), negative zero, 19-digit and 38-digit decimals, tiny fractions.
    static let extremes = [
        "9223372036854775807", "-9223372036854775808", "9223372036854775808", "-9223372036854775809", "18446744073709551615",
        "18446744073709551616", "9223372036854775", "9223372036854776", "-9223372036854775", "253402300799999", "253402300799",
        "253402300800000", "32503680000000", "946684799999", "946684800000", "946684799", "1", "-1", "-0", "-0.0", "0e0", "-0e-0",
        "1234567890123456789", "-1234567890123456789.123456789", "9999999999999999999", "0.0000000000000000001",
        "99999999999999999999999999999999999999", "-99999999999999999999999999999999999999", "1e100", "1e-100", "4294967295",
        "4294967296", "2147483647", "-2147483648", "9999-12-31", "2000-01-01", "1969-12-31", "0000-01-01",
    ]

    /// Fields whose value is a time (server or UTC), as a bridge line's members.
    static let timeFields = ["TimeMsc", "Time", "open_time", "close_time", "timestamp", "updated_ms", "time_ms", "server_time_ms", "utc_time_ms", "from_ms", "to_ms", "seq"]

    static let unicode: [[UInt8]] = [
        [0xEF, 0xBB, 0xBF], [0xC3, 0xA9], [0xC3, 0x28], [0xE2, 0x82, 0xAC], [0xF0, 0x9F, 0x98, 0x80], [0xED, 0xA0, 0x80],
        [0xF4, 0x90, 0x80, 0x80], [0xC0, 0x80], [0xFF], [0x00], [0xCC, 0x81], [0xE2, 0x80, 0xA8],
    ]

    static let json = [
        "{", "}", "[", "]", ":", ",", "\"", "\\", "\\\"", "\\\\", "\\/", "\\b", "\\n", "\\u0000", "\\u001f", "\\ud800", "\\udc00",
        "\\ud83d\\ude00", "\\u00e9", "\\uFFFF", "true", "false", "null", "{}", "[]", "\"\"", " ", "\t", "\r\n", "\n", "-", ".", "e+",
        "E-", "0", "1e999", "-0", "{\"a\":", "[[[[", "]]]]",
    ]

    static let bridge = [
        "\"type\":", "\"id\":", "\"data\":", "\"type\":\"hello\"", "\"type\":\"welcome\"", "\"type\":\"deal\"", "\"type\":\"trade\"",
        "\"type\":\"end\"", "\"type\":\"error\"", "\"type\":\"progress\"", "\"type\":\"pong\"", "\"type\":\"account\"",
        "\"type\":\"symbol\"", "\"type\":\"daily\"", "\"type\":\"change\"", "\"type\":\"bucket\"", "\"type\":\"server_info\"", "\"versions\":[1]",
        "\"versions\":[2]", "\"nonce\":\"n\"", "\"bridge\":\"b\"", "\"time_ms\":", "\"mac\":\"\"", "\"more\":true", "\"more\":false",
        "\"next\":null", "\"next\":{\"after\":1}", "\"count\":0", "\"count\":1", "\"retryable\":false", "\"retryable\":true",
        "\"code\":\"x\"", "\"message\":\"m\"", "\"capabilities\":[]", "\"platform\":\"mt5\"", "\"platform\":\"mt4\"", "\"version\":1",
        "\"server_id\":\"s\"", "\"seq\":1", "\"op\":\"update\"", "\"op\":\"delete\"", "\"record\":{", "\"login\":1", "\"group\":\"g\"",
        "\"leverage\":100", "\"client_id\":\"c\"", "\"from_ms\":0", "\"to_ms\":1", "\"checksum\":\"0000000000000000\"", "\"volume\":\"1\"",
        "\"id\":\"r1\"", "\"id\":\"r2\"", "\"id\":null",
    ]

    static let csv = [
        ",", "\"", "\"\"", "\r\n", "\n", "\r", ",\"", "\",", "\"\"\"", ",,", "Deal,Login,TimeMsc", "order,login,close_time", "login",
        "symbol", "18446744073709551615", "18446744073709551616", "-1", " ", "\t",
    ]

    static let manifest = [
        "{", "}", "\"file\":", "\"server_id\":", "\"stream\":", "\"from_ms\":", "\"to_ms\":", "\"rows\":", "\"sha256\":",
        "\"created_utc\":", "\"deals\"", "\"trades\"", "\"open-trades\"", "\"accounts\"", "\"symbols\"", "\"daily\"", "\"changes\"", "\"live-mt5\"",
        "\"deals-20250101T000000-20250102T000000-0001.csv\"", "deals-20250101T000000-20250102T000000-0001.csv", "open-trades-",
        "T000000", "-0001.csv", ".csv", "null", "true", "1e3", "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"",
    ]

    static let yaml = [
        ": ", "- ", "\n", "\n  ", "\n    ", "\n      ", "{", "}", "[", "]", ", ", "&a ", "*a", "<<: *a", "!!str ", "!!int ", "!!binary ",
        "!!map ", "!custom ", "? ", "|", "|-", ">", "---\n", "...\n", "%YAML 1.2\n", "%TAG ! tag:x:\n", "# ", "'", "\"", "\\", "\\x41",
        "\\u263A", "\t", "~", "null", "true", "false", "~/", "../", "@", "`",
    ]

    static let configurationKeys = [
        "database", "url", "instance", "id", "lease_ttl", "defaults", "servers", "ingest", "feed", "monitoring", "logging",
        "platform", "time_zone", "start", "bridge", "drop", "folder", "rules_file", "rules", "poll_interval", "lookback",
        "page_size", "poll_jitter", "reconcile", "every", "window", "address", "key_id", "key_file", "key_env", "tls", "ca_file",
        "cert_file", "server_name", "connect_timeout", "read_timeout", "ambiguous_time", "symbols", "map", "suffixes", "prefixes",
        "default_decorations", "table", "asset_class", "contract_size", "filters", "groups", "include_logins", "exclude_logins",
        "unknown_group", "accounts", "group", "currency", "sqs", "http", "relay", "aggregates", "grace", "queue_url", "region",
        "endpoint", "profile", "group_by", "secret_env", "secret_file", "bearer_token_env", "bearer_token_file", "timeout",
        "max_message_bytes", "batch_size", "max_attempts", "claim_for", "idle_interval", "max_retry_delay", "trigger_id", "source",
        "day", "reporting_currency", "cent", "factor", "rates", "deposits", "kinds", "exclude_comments", "file_ingest",
        "api_key_env", "api_key_file", "above_rows", "max_rows", "max_rows_per_message", "accounts_every", "symbols_every",
        "daily_every", "pending_warn_after", "snapshots", "zone", "starts_at",
        "listen", "refresh", "format", "level", "levels", "password", "key", "plausible_times", "earliest", "ahead",
    ]

    static let configurationValues = [
        "mt5", "mt4", "ny-close", "UTC", "Europe/Athens", "+02:00", "-13:45", "2025-01-01", "2025-02-29", "2025-01-01T10:00:59", "1970-01-01", "2999-12-31", "1d", "0d", "9999999999999999d",
        "10s", "500ms", "1h30m", "3d", "0s", "99999999999999d", "off", "10%", "50.5%", "MTSYNC_KEY_LIVE_MT5", "FUZZ_BAD_KEY",
        "FUZZ_SHORT_KEY", "FUZZ_INGEST_SECRET", "FUZZ_BEARER_TOKEN", "FUZZ_API_KEY", "FUZZ_EMPTY", "PGPASSWORD",
        "AWS_SECRET_ACCESS_KEY", "MTSYNC_DATABASE_URL", "live-mt5.key", "bad.key", "ingest.secret", "returning-ai-key",
        "bridge-ca.pem", "client.pem", "client-key.pem", "live-mt4-rules.json", "bad-rules.json", "drop", "bridge.internal:7465",
        "[::1]:7465", "[::1]", ":9464", "127.0.0.1:0", "postgresql://mtsync@db.internal/mtsync", "postgresql://u:pw@h/db",
        "host=h password='p w' dbname=d", "https://sqs.eu-west-1.amazonaws.com/123456789012/q", "http://127.0.0.1:5000",
        "server_login", "json", "logfmt", "trace", "warning", "earlier", "later", "include", "exclude", "hold", "index", "fx",
        "'real\\*'", "\"90000-90999\"", "0.01", "1.08", "USD", "balance", "65f0c1e2a9b8c7d6e5f4a3b2",
        "0000000000000000000000000000000000000000000000000000000000000000",
    ]
}

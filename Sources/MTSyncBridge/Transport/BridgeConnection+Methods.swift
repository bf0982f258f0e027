import MTSyncCore

// The protocol's methods (§4), each one request through `perform` and its answer checked.
extension BridgeConnection {
    /// `server.info`: the bridge's own description (platform, zone rule, clocks, capabilities).
    public mutating func serverInfo() async throws -> JSONValue {
        var info: JSONValue?
        try await perform(method: "server.info", params: [:], maximumRecords: 1, rejectingUnreadable: false) { event in
            if case .record("server_info", let data) = event { info = data }
        }
        guard let info else { throw failure(kind: .protocolViolation, retryable: true, "server.info returned no record") }
        return info
    }

    /// One page of MT5 deals with `from <= TimeMsc < to` (server time), after `after`, at most `limit`.
    public mutating func dealsPage(fromMilliseconds from: Int64, toMilliseconds to: Int64, after: (timeMsc: Int64, deal: UInt64)?, limit: Int) async throws -> DealsPage {
        var params: [(String, JSONValue)] = [("from_ms", .integer(from)), ("to_ms", .integer(to))]
        if let after { params.append(("after", ["time_msc": .integer(after.timeMsc), "deal": .string(String(after.deal))])) }
        params.append(("limit", .integer(limit)))
        var records: [MT5DealRecord] = []
        records.reserveCapacity(limit)
        var (end, notes) = try await perform(method: "deals", params: .object(params), maximumRecords: limit) { event in
            if case .deal(let deal) = event { records.append(deal) }
        }
        var next: (Int64, UInt64)?
        if let position = end.next {
            if let time = position["time_msc"]?.text.flatMap({ Int64($0) }), let deal = position["deal"]?.text.flatMap({ UInt64($0) }) {
                next = (time, deal)
            } else {
                notes.anomalies.append(BridgeAnomaly(code: "unreadable_next", message: "the end of a deals page has a next position that is not (time_msc, deal): \(Self.printable(position.serialized()))"))
            }
        }
        return DealsPage(records: records, more: end.more, next: next, notes: notes)
    }

    /// One page of MT4 trade records (§4.3). `.closed`: history records with `from <= close_time × 1000 < to`
    /// (server time) in `(close_time, order)` order after `after`; `.open`: the open trades in `order` order after
    /// `after` (the range is not sent). Records are decoded on the fast path, straight into `MT4TradeRecord`.
    public mutating func tradesPage(set: TradeSet, fromMilliseconds from: Int64 = 0, toMilliseconds to: Int64 = 0, after: TradePosition?, limit: Int) async throws -> TradesPage {
        var params: [(String, JSONValue)] = [("set", .string(set.rawValue))]
        if set == .closed { params += [("from_ms", .integer(from)), ("to_ms", .integer(to))] }
        if let after {
            switch (set, after.closeTime) {
            case (.closed, let time?): params.append(("after", ["time": .integer(time), "order": .string(String(after.order))]))
            case (.closed, nil): throw failure(kind: .configuration, retryable: false, "a position in the closed trades needs close_time as well as order")
            case (.open, _): params.append(("after", ["order": .string(String(after.order))]))
            }
        }
        params.append(("limit", .integer(limit)))
        var records: [MT4TradeRecord] = []
        records.reserveCapacity(limit)
        var (end, notes) = try await perform(method: "trades", params: .object(params), maximumRecords: limit) { event in
            if case .trade(let trade) = event { records.append(trade) }
        }
        var next: TradePosition?
        if let position = end.next {
            let order = position["order"]?.text.flatMap { UInt64($0) }
            let time = position["time"]?.text.flatMap { Int64($0) }
            if let order, set == .open || time != nil {
                next = TradePosition(closeTime: set == .closed ? time : nil, order: order)
            } else {
                notes.anomalies.append(BridgeAnomaly(code: "unreadable_next", message: "the end of a \(set.rawValue) trades page has a next position that is not readable: \(Self.printable(position.serialized()))"))
            }
        }
        return TradesPage(records: records, more: end.more, next: next, notes: notes)
    }

    /// One page of accounts in ascending login order after `after`, as sent (the caller validates each, so one
    /// bad record is quarantined instead of failing the page); `next` is the page's `end.next`, the last login sent.
    public mutating func accountsPage(after: UInt64?, limit: Int) async throws -> AccountsPage {
        var params: [(String, JSONValue)] = []
        if let after { params.append(("after", .string(String(after)))) }
        params.append(("limit", .integer(limit)))
        var accounts: [RawAccountRecord] = []
        let (end, _) = try await perform(method: "accounts", params: .object(params), maximumRecords: limit, rejectingUnreadable: false) { event in
            if case .record("account", let data) = event { accounts.append(RawAccountRecord(object: data)) }
        }
        return AccountsPage(accounts: accounts, more: end.more, next: end.next?.text.flatMap { UInt64($0) })
    }

    /// One page of end-of-day records (§4.8) of the server days starting in `[from, to)` (server time), after
    /// `after` in `(day, login)` order, at most `limit`, as sent (the caller validates each); `next` is `end.next`.
    public mutating func dailyPage(
        fromMilliseconds from: Int64, toMilliseconds to: Int64, after: DailyPosition?, limit: Int
    ) async throws -> DailyPage {
        var params: [(String, JSONValue)] = [("from_ms", .integer(from)), ("to_ms", .integer(to))]
        if let after { params.append(("after", ["day": .string(after.day), "login": .string(String(after.login))])) }
        params.append(("limit", .integer(limit)))
        var records: [RawDailyRecord] = []
        let (end, _) = try await perform(method: "daily", params: .object(params), maximumRecords: limit, rejectingUnreadable: false) { event in
            if case .record("daily", let data) = event { records.append(RawDailyRecord(object: data)) }
        }
        var next: DailyPosition?
        if let position = end.next {
            guard let day = position["day"]?.text, let login = position["login"]?.text.flatMap({ UInt64($0) }) else {
                throw failure(kind: .protocolViolation, retryable: true, "the end of a daily page has an unreadable next position: \(Self.printable(position.serialized()))")
            }
            next = DailyPosition(day: day, login: login)
        }
        return DailyPage(records: records, more: end.more, next: next)
    }

    /// The bridge's symbol list (contract sizes, currencies, paths), as sent.
    public mutating func symbols() async throws -> [JSONValue] {
        var symbols: [JSONValue] = []
        try await perform(method: "symbols", params: ["limit": .integer(Self.symbolLimit)], maximumRecords: Self.symbolLimit, rejectingUnreadable: false) { event in
            if case .record("symbol", let data) = event { symbols.append(data) }
        }
        return symbols
    }

    /// Per-bucket counts, volumes and checksums over `[from, to)` (server time).
    public mutating func digest(stream: String = "deals", fromMilliseconds from: Int64, toMilliseconds to: Int64, bucketMilliseconds: Int64) async throws -> [DigestBucket] {
        var buckets: [DigestBucket] = []
        // One bucket per bucket_ms in [from, to) (§4.7: both ends are multiples of it); one more is tolerated for a
        // bridge that aligns an unaligned range outward. Anything beyond is not a digest of this range.
        let expected = bucketMilliseconds > 0 && to > from ? Int((to - from - 1) / bucketMilliseconds) + 2 : 1
        try await perform(
            method: "digest", params: ["stream": .string(stream), "from_ms": .integer(from), "to_ms": .integer(to), "bucket_ms": .integer(bucketMilliseconds)],
            maximumRecords: expected, rejectingUnreadable: false
        ) { event in
            if case .record("bucket", let data) = event { buckets.append(try DigestBucket(data)) }
        }
        // A bucket that is not one of the range's (wrong width, unaligned, outside it, repeated) would be compared
        // with the wrong part of the store and "repaired" wrongly: the whole digest is refused.
        var expectedStart = from
        for bucket in buckets {
            guard bucket.fromMilliseconds == expectedStart, bucket.toMilliseconds == min(to, expectedStart + bucketMilliseconds) || bucket.toMilliseconds == expectedStart + bucketMilliseconds else {
                throw failure(kind: .protocolViolation, retryable: true, "the digest of [\(from), \(to)) by \(bucketMilliseconds) ms has a bucket [\(bucket.fromMilliseconds), \(bucket.toMilliseconds)) where [\(expectedStart), \(expectedStart + bucketMilliseconds)) belongs: refusing it rather than comparing the wrong hours")
            }
            expectedStart += bucketMilliseconds
        }
        return buckets
    }

    /// Edits and deletions with a sequence above `since`.
    public mutating func changesPage(since: Int64, limit: Int) async throws -> ChangesPage {
        var changes: [BridgeChange] = []
        let (end, _) = try await perform(method: "changes", params: ["since": .integer(since), "limit": .integer(limit)], maximumRecords: limit, rejectingUnreadable: false) { event in
            if case .record("change", let data) = event { changes.append(try BridgeChange(data)) }
        }
        // Sequences only grow (§4.6): one at or below `since`, or not above the one before it, would move the
        // stored sequence backwards or replay edits out of order.
        var previous = since
        for change in changes {
            guard change.sequence > previous else {
                throw failure(kind: .protocolViolation, retryable: true, "the changes after \(since) hold seq \(change.sequence) after seq \(previous): sequences must grow; refusing the page")
            }
            previous = change.sequence
        }
        return ChangesPage(changes: changes, more: end.more)
    }
}

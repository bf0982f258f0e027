import MTSyncBridge
import MTSyncCore
import MTSyncStore

/// A history's pages into the store: one range or a backfill's chunks as one stream, each page one transaction,
/// the next page read, normalized and planned while one is stored.
extension ServerSync {
    /// Pulls `[from, to)` page by page. With `movingCursor`, each page advances the live cursor in its
    /// transaction; without (backfill, repair), the cursor is left alone.
    /// `backfillJobID` tags the events of the facts stored with that backfill job (their messages are flagged
    /// `"backfill": true`).
    public func pull(fromMilliseconds from: Int64, toMilliseconds to: Int64, movingCursor: Bool, backfillJobID: Int64? = nil) async throws -> SyncReport {
        try await client.withSession { client in
            try await self.with(client).pull(fromMilliseconds: from, toMilliseconds: to, movingCursor: movingCursor, backfillJobID: backfillJobID, batcher: try await currentBatcher())
        }
    }

    func pull(fromMilliseconds from: Int64, toMilliseconds to: Int64, movingCursor: Bool, backfillJobID: Int64? = nil, batcher: RecordBatcher) async throws -> SyncReport {
        try await pull(ranges: [(from, to)], movingCursor: movingCursor, backfillJobID: backfillJobID, batcher: batcher) { _, _ in }
    }

    /// Pulls `ranges` (`[from, to)` each) one after the other as one stream of pages (`RangedPages`: the next range's
    /// first page is read while the last page of the one before is stored); `rangeDone(index, records)` runs after the
    /// last page of range `index` is stored, with how many records the range had.
    func pull(
        ranges: [(from: Int64, to: Int64)], movingCursor: Bool, backfillJobID: Int64? = nil, batcher: RecordBatcher,
        rangeDone: (_ index: Int, _ records: Int) async throws -> Void
    ) async throws -> SyncReport {
        var report = SyncReport()
        let server = serverID, stream = self.stream, client = self.client, pageSize = settings.pageSize
        switch platform {
        case .mt5:
            let pages = RangedPages(count: ranges.count) { index in
                client.deals(fromMilliseconds: ranges[index].from, toMilliseconds: ranges[index].to, pageSize: pageSize)
            }
            try await storeInOrder(pages, into: &report, rangeDone: rangeDone) { page in
                let position = movingCursor ? page.position.map { CursorPosition(serverTimeMilliseconds: $0.timeMsc, ticket: $0.deal) } : nil
                var batch = batcher.batch(deals: page.records, cursor: position)
                batch.quarantine += Self.quarantine(of: page, server: server, stream: stream)
                batch.backfillJobID = backfillJobID
                return (batch, Self.duplicates(page.records.compactMap { $0.deal.flatMap { UInt64($0) } }))
            }
        case .mt4:
            let pages = RangedPages(count: ranges.count) { index in
                client.closedTrades(fromMilliseconds: ranges[index].from, toMilliseconds: ranges[index].to, pageSize: pageSize)
            }
            try await storeInOrder(pages, into: &report, rangeDone: rangeDone) { page in
                let position = movingCursor ? page.position.map { CursorPosition(serverTimeMilliseconds: ($0.closeTime ?? 0) &* 1000, ticket: $0.order) } : nil
                var batch = batcher.batch(trades: page.records, cursor: position)
                batch.quarantine += Self.quarantine(of: page, server: server, stream: stream)
                batch.backfillJobID = backfillJobID
                return (batch, Self.duplicates(page.records.compactMap { $0.order.flatMap { UInt64($0) } }))
            }
        }
        return report
    }

    /// The quarantine entries of what a page could not store: records outside the requested range, lines that
    /// could not be read (§3: one bad line costs that line, not its page).
    static func quarantine<Record: RawFieldRecord, Position>(of page: BridgePage<Record, Position>, server: ServerID, stream: SyncStream) -> [QuarantineEntry] {
        let outside = page.outsideRange.map { record in
            QuarantineEntry(
                serverID: server.rawValue, stream: stream.rawValue, source: "tcp", lineNumber: nil, reasonCode: "outside_requested_range",
                reason: "the bridge sent this record for a range that does not hold its time (bridge-protocol §4.2/§4.3): not stored, so it cannot move the cursor",
                raw: RecordBatcher.rawBytes(of: record))
        }
        let unreadable = page.notes.rejected.map { line in
            QuarantineEntry(serverID: server.rawValue, stream: stream.rawValue, source: "tcp", lineNumber: nil, reasonCode: line.code, reason: line.reason, raw: line.raw)
        }
        return outside + unreadable
    }

    /// A page that holds the same ticket twice: the last copy wins in the store (a bridge re-sending a record it
    /// changed mid-page), but two copies in one page are a bridge bug worth a word.
    static func duplicates(_ tickets: [UInt64]) -> BridgeAnomaly? {
        var seen = Set<UInt64>(minimumCapacity: tickets.count), repeated = 0
        for ticket in tickets where !seen.insert(ticket).inserted { repeated += 1 }
        guard repeated > 0 else { return nil }
        return BridgeAnomaly(code: "duplicate_in_page", message: "\(repeated) ticket(s) sent twice in one page: the last copy of each was kept")
    }

    /// Stores the pages one transaction each, in order, while the next page is read from the bridge, normalized
    /// and planned (`StagedPage`): the database, the slower side, never waits for the bridge or for mtsync's own
    /// work on a page. At most two pages are in memory (the one being stored and the next); a failure or a
    /// cancellation while storing abandons the page being read, which the next pull reads again like any page not
    /// stored. `rangeDone` runs after the last page of each range is stored.
    func storeInOrder<Record: Sendable, Position: Sendable & Hashable>(
        _ pages: RangedPages<Record, Position>, into report: inout SyncReport,
        rangeDone: (_ index: Int, _ records: Int) async throws -> Void,
        prepare: @escaping @Sendable (BridgePage<Record, Position>) -> (PageBatch, BridgeAnomaly?)
    ) async throws {
        typealias Iterator = RangedPages<Record, Position>.Iterator
        typealias ReadPage = (batch: PageBatch, staged: StagedPage?, records: Int, read: Duration, anomalies: [BridgeAnomaly])
        typealias Step = (endedBefore: [Int], page: ReadPage?, endsRange: Int?)
        let readings = storeReadings
        @Sendable func advance(_ iterator: Iterator) async throws -> (step: Step?, iterator: Iterator) {
            var iterator = iterator
            let started = ContinuousClock.now
            guard let step = try await iterator.next() else { return (nil, iterator) }
            guard let page = step.page else { return ((step.rangesEndedBefore, nil, step.endsRange), iterator) }
            let (batch, duplicates) = prepare(page)
            // Decided, hashed and rendered as COPY text here, beside the page being stored, from what its
            // transaction read: the next transaction only checks that its own reads agree (`StagedPage`).
            let staged = FactStore.stagedPage(batch, readings: readings.current)
            let read: ReadPage = (batch, staged, page.records.count + page.outsideRange.count + page.notes.rejected.count, ContinuousClock.now - started,
                                  page.notes.anomalies + (duplicates.map { [$0] } ?? []))
            return ((step.rangesEndedBefore, read, step.endsRange), iterator)
        }
        var (next, iterator) = try await advance(pages.makeAsyncIterator())
        var recordsBeforeRange = report.records
        while let current = next {
            let reading = iterator
            async let following = advance(reading)
            for range in current.endedBefore {
                try await rangeDone(range, report.records - recordsBeforeRange)
                recordsBeforeRange = report.records
            }
            if let page = current.page {
                try await store(page.batch, staged: page.staged, records: page.records, read: page.read, into: &report)
                try await reportAnomalies(page.anomalies)
            }
            if let range = current.endsRange {
                try await rangeDone(range, report.records - recordsBeforeRange)
                recordsBeforeRange = report.records
            }
            (next, iterator) = try await following
        }
    }
}

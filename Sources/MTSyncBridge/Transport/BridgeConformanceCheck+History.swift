import MTSyncCore

extension BridgeConformanceCheck {
    /// The history part of a check, the same for MT5 deals and MT4 trades: every record of the range read page by
    /// page, checked for order, bounds and identity, and digested per hour (§4.7) for the comparison that follows.
    struct HistoryCheck {
        /// What the check makes of one record.
        enum Reading {
            /// No numeric identity or time, or a key field missing: a problem, and nothing to digest.
            case unreadable(String)
            /// `order`: its (time, ticket) in the stream's order; `milliseconds`: its bucket time, nil when outside
            /// the range (then `outsideRange` is the problem); `outOfOrder`: the problem when it does not follow the
            /// previous record's ticket.
            case readable(order: (Int64, UInt64), milliseconds: Int64?, line: String, outOfOrder: (UInt64) -> String, outsideRange: String)
        }

        var report: Report
        let problemLimit: Int
        /// The digest's bucket width (an hour, as `run` compares them).
        let bucketMilliseconds: Int64
        private(set) var buckets: [Int64: DigestChecksum] = [:]
        private var orderProblems = 0, rangeProblems = 0, identityProblems = 0

        init(report: Report, problemLimit: Int, bucketMilliseconds: Int64) {
            self.report = report
            self.problemLimit = problemLimit
            self.bucketMilliseconds = bucketMilliseconds
        }

        mutating func read<Record: RawFieldRecord, Position>(
            _ pages: BridgePages<Record, Position>, stream: String, reading: (Record) -> Reading
        ) async throws {
            var previous: (Int64, UInt64)?
            for try await page in pages {
                report.pages += 1
                BridgeConformanceCheck.countMissing(page.records, stream: stream, into: &report)
                for anomaly in page.notes.anomalies where anomaly.code != "outside_range" { note(\.orderProblems, "page \(report.pages): \(anomaly)") }
                for line in page.notes.rejected { note(\.identityProblems, "page \(report.pages): a line that cannot be read (\(line.code)): \(line.reason)") }
                for _ in page.outsideRange { note(\.rangeProblems, "page \(report.pages): a record outside [from_ms, to_ms)") }
                for record in page.records {
                    report.records += 1
                    switch reading(record) {
                    case .unreadable(let problem):
                        note(\.identityProblems, problem)
                    case .readable(let order, let milliseconds, let line, let outOfOrder, let outsideRange):
                        if let last = previous, !(last < order) { note(\.orderProblems, outOfOrder(last.1)) }
                        previous = order
                        if let milliseconds {
                            buckets[BridgeConformanceCheck.floor(milliseconds, to: bucketMilliseconds), default: DigestChecksum()].add(canonicalLine: line)
                        } else {
                            note(\.rangeProblems, outsideRange)
                        }
                    }
                }
            }
        }

        /// Counts a problem of one kind and keeps its text while that kind is under the limit.
        private mutating func note(_ kind: WritableKeyPath<HistoryCheck, Int>, _ text: String) {
            self[keyPath: kind] += 1
            if self[keyPath: kind] <= problemLimit { report.problems.append(text) }
        }
    }
}

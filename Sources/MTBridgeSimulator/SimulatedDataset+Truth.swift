import MTSyncBridge
import MTSyncCore

// What a test checks against: the ground truth per login, the changes feed, the digests.
extension SimulatedDataset {
    /// What the whole dataset holds per login: the figures mtsync's store must reproduce exactly.
    public func groundTruth(generation: Int = 0) -> [UInt64: LoginTruth] {
        if configuration.platform == .mt4 { return mt4GroundTruth(generation: generation) }
        var truth: [UInt64: LoginTruth] = [:]
        for day in configuration.firstDay..<configuration.firstDay + Int64(configuration.days) {
            for deal in deals(onDay: day, generation: generation) {
                let login = UInt64(deal.login!)!
                var entry = truth[login, default: LoginTruth()]
                entry.deals += 1
                entry.volumeExt += UInt64(deal.volumeExt!)!
                entry.netCents += Self.cents(deal.profit) + Self.cents(deal.storage) + Self.cents(deal.commission) + Self.cents(deal.fee)
                truth[login] = entry
            }
        }
        return truth
    }

    /// Per-login figures. For MT4 they cover the closed history that becomes facts (trades, balance and credit
    /// records; cancelled pending orders make none): `deals` counts those records, `volumeExt` is the sum of
    /// `volume` × 10^6 (lots × 10^8, as for MT5), `netCents` the sum of profit, storage, commission and taxes.
    public struct LoginTruth: Sendable, Hashable, Codable {
        public var deals = 0
        /// Sum of `VolumeExt` (lots × 10^8).
        public var volumeExt: UInt64 = 0
        /// Sum of profit, swap, commission and fee, in cents.
        public var netCents: Int64 = 0

        public init(deals: Int = 0, volumeExt: UInt64 = 0, netCents: Int64 = 0) {
            self.deals = deals
            self.volumeExt = volumeExt
            self.netCents = netCents
        }
    }

    /// Edits and deletions of generation 1 in order, numbered from 1: what the `changes` method serves.
    public func changes() -> [(seq: Int64, op: String, record: MT5DealRecord)] {
        var changes: [(Int64, String, MT5DealRecord)] = []
        for day in configuration.firstDay..<configuration.firstDay + Int64(configuration.days) {
            let original = originalDeals(onDay: day)
            let mutations = mutations(onDay: day, original: original)
            for deal in original {
                let ticket = UInt64(deal.deal!)!
                if let edited = mutations.updated[ticket] {
                    changes.append((Int64(changes.count + 1), "update", edited))
                } else if mutations.deleted.contains(ticket) {
                    var identity = MT5DealRecord()
                    identity.deal = deal.deal
                    changes.append((Int64(changes.count + 1), "delete", identity))
                }
            }
        }
        return changes
    }

    /// Per-bucket count, volume and checksum (bridge-protocol/README.md §4.7) over `[from, to)`.
    public func digest(fromMilliseconds from: Int64, toMilliseconds to: Int64, bucketMilliseconds bucket: Int64, generation: Int = 0) -> [(from: Int64, to: Int64, count: Int, volume: UInt64, checksum: DigestChecksum)] {
        var buckets: [(Int64, Int64, Int, UInt64, DigestChecksum)] = []
        var start = from
        var dayCache: (day: Int64, deals: [MT5DealRecord])?
        while start < to {
            let end = Swift.min(start + bucket, to)
            var checksum = DigestChecksum()
            var volume: UInt64 = 0
            var day = start / Self.millisecondsPerDay
            while day * Self.millisecondsPerDay < end {
                if dayCache?.day != day { dayCache = (day, deals(onDay: day, generation: generation)) }
                for deal in dayCache!.deals {
                    let time = Int64(deal.timeMsc!)!
                    guard time >= start, time < end, let line = DigestChecksum.canonicalLine(deal) else { continue }
                    checksum.add(canonicalLine: line)
                    volume += UInt64(deal.volumeExt ?? "0") ?? 0
                }
                day += 1
            }
            buckets.append((start, end, checksum.count, volume, checksum))
            start = end
        }
        return buckets
    }
}

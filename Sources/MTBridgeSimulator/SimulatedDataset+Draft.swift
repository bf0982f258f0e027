import MTSyncBridge
import MTSyncCore
import Synchronization

/// A deal before its ticket is known (tickets follow time order, as a real server's do).
struct Draft {
    var login: UInt64
    var time: Int64
    var action: UInt32
    var entry: UInt32
    var reason: UInt32
    var position: UInt64
    var symbol: String
    var volumeExt: UInt64
    var price: String
    var profitCents: Int64
    var storageCents: Int64
    var commissionCents: Int64
    var feeCents: Int64
    var comment: String
    var sequence: UInt64 = 0
    /// The position volume this deal closed (`VolumeClosedExt`); nil: its whole volume if it closes, nothing if it opens.
    var volumeClosedExt: UInt64?

    func closing(at time: Int64, volumeExt: UInt64, profitCents: Int64, reason: UInt32, entry: UInt32) -> Draft {
        var close = self
        close.time = time
        close.action = action == 0 ? 1 : 0
        close.entry = entry
        close.reason = reason
        close.volumeExt = volumeExt
        close.profitCents = profitCents
        close.storageCents = reason == 6 ? -Int64(volumeExt / 1_000_000) : 0
        close.feeCents = entry == 3 ? -5 : 0
        close.sequence = 1
        close.volumeClosedExt = nil
        return close
    }

    func record(ticket: UInt64) -> MT5DealRecord {
        func money(_ cents: Int64) -> String { ExactDecimal(Int128(cents), scale: 2)!.description }
        var deal = MT5DealRecord()
        deal.deal = String(ticket)
        deal.login = String(login)
        deal.order = action <= 1 ? String(ticket + 1_000_000) : "0"
        deal.positionID = String(position)
        deal.action = String(action)
        deal.entry = String(entry)
        deal.reason = String(reason)
        deal.time = String(time / 1000)
        deal.timeMsc = String(time)
        deal.symbol = symbol
        deal.volume = String(volumeExt / 10_000)
        deal.volumeExt = String(volumeExt)
        // IMTDeal::VolumeClosedExt, as the Manager API gives it on every trade deal: what the deal closed.
        if action <= 1 { deal.volumeClosedExt = String(entry == 0 ? 0 : volumeClosedExt ?? volumeExt) }
        deal.price = price
        deal.profit = money(profitCents)
        deal.storage = money(storageCents)
        deal.commission = money(commissionCents)
        deal.fee = money(feeCents)
        deal.contractSize = symbol.isEmpty ? "0" : (symbol.hasPrefix("XAU") ? "100" : "100000")
        deal.digits = "5"
        deal.digitsCurrency = "2"
        deal.comment = comment
        deal.externalID = ""
        return deal
    }
}

/// One day of deals with their `(TimeMsc, Deal)` keys, kept while clients page through it. One day at a time,
/// so the simulator's memory stays bounded whatever the history's length.
final class DayCache: Sendable {
    struct Day: Sendable {
        var day: Int64
        var generation: Int
        var deals: [MT5DealRecord]
        var keys: [(time: Int64, ticket: UInt64)]
    }

    private let last = Mutex<Day?>(nil)

    func deals(onDay day: Int64, generation: Int, make: () -> [MT5DealRecord]) -> Day {
        if let cached = last.withLock({ $0 }), cached.day == day, cached.generation == generation { return cached }
        let deals = make()
        let fresh = Day(day: day, generation: generation, deals: deals, keys: deals.map { (Int64($0.timeMsc!)!, UInt64($0.deal!)!) })
        last.withLock { $0 = fresh }
        return fresh
    }
}

extension Array {
    /// The first index whose element satisfies `belongs`, for an array partitioned so that every element that
    /// does not comes first (binary search).
    func partitioningIndex(where belongs: (Element) -> Bool) -> Int {
        var low = startIndex, high = endIndex
        while low < high {
            let middle = low + (high - low) / 2
            if belongs(self[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}

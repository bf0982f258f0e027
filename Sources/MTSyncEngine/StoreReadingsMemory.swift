import MTSyncStore
import Synchronization

/// What a server's page transactions last read (its accounts' histories, the fact partitions' window), shared by the
/// copies of its `ServerSync` value: the next page is planned from it while the page before it is stored
/// (`FactStore.stagedPage`). Never what decides: the transaction reads both again and plans anew if they moved.
final class StoreReadingsMemory: Sendable {
    /// Logins remembered at most; past it the memory starts over (a page it cannot plan is planned in its
    /// transaction, as it would be without this).
    static let loginLimit = 20_000

    private let readings = Mutex(PageReadings())

    var current: PageReadings { readings.withLock { $0 } }

    func learn(_ new: PageReadings) {
        readings.withLock { memory in
            if let window = new.window { memory.window = window }
            guard !new.logins.isEmpty else { return }
            if memory.logins.count + new.logins.count > Self.loginLimit {
                memory.logins = []
                memory.histories = [:]
            }
            memory.logins.formUnion(new.logins)
            for login in new.logins { memory.histories[login] = new.histories[login] }
        }
    }
}

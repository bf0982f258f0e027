import MTSyncCore
import Synchronization

/// A server's symbol definitions as last loaded from the store, shared by the copies of its `ServerSync` value:
/// loaded once, and again after the symbols were read from the bridge.
final class ServerSymbolCache: Sendable {
    private let symbols = Mutex<[String: ServerSymbol]?>(nil)

    var cached: [String: ServerSymbol]? { symbols.withLock { $0 } }
    func store(_ loaded: [String: ServerSymbol]) { symbols.withLock { $0 = loaded } }
    func invalidate() { symbols.withLock { $0 = nil } }
}

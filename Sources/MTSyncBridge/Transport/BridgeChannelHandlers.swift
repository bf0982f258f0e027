import NIOCore
import Synchronization

/// Closes the channel when nothing was read for the read timeout, which ends the inbound stream, and marks
/// `closed` first: the stream's end alone cannot tell this close from the bridge's own (a dropped connection).
final class CloseOnReadIdle: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    let closed: DeadlineFired

    init(marking closed: DeadlineFired) {
        self.closed = closed
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            closed.mark()
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}

/// Set by a deadline's scheduled close (or the read timeout's) when it fires, so the failure that follows is
/// reported as that deadline.
final class DeadlineFired: Sendable {
    private let fired = Mutex(false)

    func mark() { fired.withLock { $0 = true } }

    var isMarked: Bool { fired.withLock { $0 } }
}

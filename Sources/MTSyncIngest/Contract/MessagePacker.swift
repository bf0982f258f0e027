import MTSyncCore

/// How events are grouped into messages.
public enum MessageGrouping: Sendable, Hashable {
    /// Any events of the server together, in order (standard SQS queues, HTTP).
    case none
    /// One FIFO group per `server:login` (events without a login: `server`): a message carries one group's
    /// events only, so the queue keeps each trader's events in order while different traders flow in parallel.
    case serverLogin
    /// One FIFO group per server: strict order of everything a server produced, at FIFO's lowest throughput.
    case server
}

/// Packs events, densely and in order, into messages no larger than `maximumBytes` and carrying at most
/// `maximumEvents` events each (the HTTP ingest wants bounded batches too).
public struct MessagePacker: Sendable {
    public var maximumBytes: Int
    public var maximumEvents: Int
    public var grouping: MessageGrouping
    public var producer: IngestProducer

    public init(maximumBytes: Int, maximumEvents: Int = 1_000, grouping: MessageGrouping = .none, producer: IngestProducer) {
        self.maximumBytes = maximumBytes
        self.maximumEvents = maximumEvents
        self.grouping = grouping
        self.producer = producer
    }

    /// The messages for `events` (all of one server, in outbox order). A group's events keep their order across
    /// its messages. An event too big for any message travels alone (the sink will refuse it and the relay
    /// dead-letters it with the reason; nothing is dropped silently).
    public func pack(_ events: [IngestEvent], server: String, platform: Platform, backfill: Bool) -> [IngestMessage] {
        var groups: [String?: [IngestEvent]] = [:]
        var order: [String?] = []
        for event in events {
            let group = groupID(of: event)
            if groups[group] == nil { order.append(group) }
            groups[group, default: []].append(event)
        }
        // The envelope's fixed part with a key of the final length: keys are all the same length.
        let placeholderKey = IngestEnvelope.key(of: [IngestEvent]())
        let overhead = IngestEnvelope.prefix(key: placeholderKey, server: server, platform: platform, backfill: backfill, producer: producer).utf8.count + 2
        var messages: [IngestMessage] = []
        for group in order {
            var current: [IngestEvent] = []
            var currentJSON: [String] = []
            var size = overhead
            func flush() {
                guard !current.isEmpty else { return }
                let key = IngestEnvelope.key(of: current)
                messages.append(IngestMessage(
                    key: key, groupID: group,
                    body: IngestEnvelope.body(eventJSON: currentJSON, key: key, server: server, platform: platform, backfill: backfill, producer: producer),
                    eventIDs: current.map(\.eventID)))
                current.removeAll(keepingCapacity: true)
                currentJSON.removeAll(keepingCapacity: true)
                size = overhead
            }
            for event in groups[group]! {
                let json = IngestEnvelope.eventJSON(event)
                let eventSize = json.utf8.count
                // A comma before every event but the first.
                if !current.isEmpty, size + 1 + eventSize > maximumBytes || current.count >= maximumEvents { flush() }
                size += (current.isEmpty ? 0 : 1) + eventSize
                current.append(event)
                currentJSON.append(json)
            }
            flush()
        }
        return messages
    }

    /// The messages for `events` of one server in outbox order, live and backfill events never in one message:
    /// each run of consecutive events with the same origin is packed on its own, so the order is kept.
    public func pack(_ events: [IngestEvent], server: String, platform: Platform) -> [IngestMessage] {
        var messages: [IngestMessage] = []
        var start = events.startIndex
        while start < events.endIndex {
            let backfill = events[start].backfill
            let end = events[start...].firstIndex { $0.backfill != backfill } ?? events.endIndex
            messages += pack(Array(events[start..<end]), server: server, platform: platform, backfill: backfill)
            start = end
        }
        return messages
    }

    func groupID(of event: IngestEvent) -> String? {
        switch grouping {
        case .none: nil
        case .server: event.serverID
        case .serverLogin: event.login.map { "\(event.serverID):\($0)" } ?? event.serverID
        }
    }
}

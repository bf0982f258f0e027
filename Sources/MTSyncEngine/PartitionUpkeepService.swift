import Logging
import MTSyncStore
import ServiceLifecycle
import Synchronization

/// The daemon's partition upkeep (migration 0012): at start and every `every`, makes the fact table's monthly
/// partitions ahead of time (`FactPartitions.upkeep`), outside any page transaction, so pages never make one.
///
/// It needs a role that may create tables. Under a runtime role with row privileges only (docs/security.md, "Least
/// privilege") the database refuses it: that is expected, so it says so once at notice level and goes on trying
/// (the role may be granted more later); the owner's `mtsync migrate` does the upkeep then, and `mtsync status`
/// warns when fewer than two months are left ahead. Several instances may run it at once: each month is made under
/// an advisory lock, and a lock not had within a few seconds is left to the next round rather than waited for.
public final class PartitionUpkeepService: Service, Sendable {
    /// The upkeep's settings; each value owns its default.
    public struct Settings: Sendable, Hashable {
        /// Months after the current one to keep partitions for.
        public var monthsAhead: Int
        public var every: Duration
        /// Past months to make too (UTC ms): the earliest configured server start, less a day (a start at midnight
        /// of the 1st east of UTC is still the month before in UTC).
        public var from: Int64?

        public init(monthsAhead: Int = FactPartitions.defaultMonthsAhead, every: Duration = .seconds(6 * 3_600), from: Int64? = nil) {
            self.monthsAhead = monthsAhead
            self.every = every
            self.from = from
        }

        /// The settings for servers starting at `starts` (their `start`, server time as if UTC).
        public static func forServers(starting starts: [Int64]) -> Settings {
            Settings(from: starts.min().map { $0 - 86_400_000 })
        }
    }

    public let connection: PostgresConnection
    public let settings: Settings
    public let logger: Logger
    private let refusedBefore = Mutex(false)

    public init(connection: PostgresConnection, settings: Settings, logger: Logger) {
        self.connection = connection
        self.settings = settings
        self.logger = logger
    }

    public func run() async throws {
        await PeriodicRounds.run(every: settings.every) { [self] error in
            report(error)
        } _: { [self] in
            try await round()
        }
    }

    /// One upkeep. A refusal for lack of privilege is not an error here: it is reported (once) and swallowed.
    public func round() async throws {
        do {
            let report = try await FactPartitions.upkeep(monthsAhead: settings.monthsAhead, from: settings.from, on: connection)
            refusedBefore.withLock { $0 = false }
            if !report.created.isEmpty {
                logger.info("made fact partitions", metadata: [
                    "months": "\(report.created.joined(separator: ","))", "moved_facts": "\(report.movedRows)",
                    "partitions_end": "\(report.horizon?.endMonth ?? "?")",
                ])
            }
        } catch let error as PostgresError where error.isInsufficientPrivilege {
            let first = refusedBefore.withLock { refused in
                defer { refused = true }
                return !refused
            }
            guard first else { return }
            let horizon = try? await FactPartitions.horizon(on: connection)
            logger.notice(
                "this role may not make fact partitions (expected for a runtime role): run `mtsync migrate` as the database owner at least once a year",
                metadata: ["partitions_end": "\(horizon?.endMonth ?? "?")", "months_ahead": "\(horizon.map { String($0.monthsAhead) } ?? "?")"])
        }
    }

    private func report(_ error: any Error) {
        logger.warning("making fact partitions failed; retrying", metadata: ["error": "\(error)", "retry_in": "\(settings.every)"])
    }
}

import MTSyncCore
import MTSyncIngest
import MTSyncStore

/// Everything the daily feed's builder decides with (from `feed:` in the configuration; docs/ingest.md).
public struct DailyFeedSettings: Sendable {
    public var rules: DailyFeedRules
    public var envelope: DailyFeedEnvelope
    public var day: TradingDayRule
    public var deposits: DailyFeedStore.DepositRule
    public var maximumRowsPerMessage: Int
    public var maximumMessageBytes: Int
    /// A pass with more changed rows than this sends them as file uploads; nil: no file ingest configured.
    public var fileAboveRows: Int?
    public var maximumRowsPerFile: Int
    /// Customer days decided per transaction.
    public var rowsPerPass: Int
    /// The tier snapshots (docs/ingest.md, "Tier snapshots"); nil: off.
    public var snapshots: TierSnapshotSettings?

    /// How rows are cut into messages and files.
    var packing: PlatformRowDecision.Packing {
        .init(maximumRowsPerMessage: maximumRowsPerMessage, maximumMessageBytes: maximumMessageBytes, fileAboveRows: fileAboveRows, maximumRowsPerFile: maximumRowsPerFile)
    }

    public init(
        rules: DailyFeedRules, envelope: DailyFeedEnvelope, day: TradingDayRule = .utc, deposits: DailyFeedStore.DepositRule = .init(),
        maximumRowsPerMessage: Int = 500, maximumMessageBytes: Int = 256_000,
        fileAboveRows: Int? = nil, maximumRowsPerFile: Int = 10_000, rowsPerPass: Int = 5_000, snapshots: TierSnapshotSettings? = nil
    ) {
        self.snapshots = snapshots
        self.rules = rules
        self.envelope = envelope
        self.day = day
        self.deposits = deposits
        self.maximumRowsPerMessage = maximumRowsPerMessage
        self.maximumMessageBytes = maximumMessageBytes
        self.fileAboveRows = fileAboveRows
        self.maximumRowsPerFile = maximumRowsPerFile
        self.rowsPerPass = rowsPerPass
    }
}

/// The tier snapshots' own settings (from `feed.snapshots`); the rest — reporting currency, cent accounts, rates,
/// trading day, deposits, packing — are the daily feed's.
public struct TierSnapshotSettings: Sendable {
    /// The platform's trigger id for the snapshots (not the daily rows'), and the source name.
    public var envelope: DailyFeedEnvelope
    /// Each server's account policy: which accounts are real at a day's close.
    public var policies: [String: AccountPolicy]
    /// Customers decided per transaction.
    public var customersPerPass: Int

    public init(envelope: DailyFeedEnvelope, policies: [String: AccountPolicy], customersPerPass: Int = 200) {
        self.envelope = envelope
        self.policies = policies
        self.customersPerPass = customersPerPass
    }
}

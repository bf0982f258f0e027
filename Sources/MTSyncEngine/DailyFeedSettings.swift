import MTSyncCore
import MTSyncIngest
import MTSyncStore

/// Everything the daily feed's builder decides with: the `feed:` section of the configuration file decodes into it
/// (docs/ingest.md), and its defaults are the file's.
public struct DailyFeedSettings: Sendable, Equatable {
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

    /// The defaults the configuration file documents.
    public static let defaultMaximumRowsPerMessage = 500
    public static let defaultMaximumMessageBytes = 256_000
    public static let defaultMaximumRowsPerFile = 10_000

    /// How rows are cut into messages and files.
    var packing: PlatformRowDecision.Packing {
        .init(maximumRowsPerMessage: maximumRowsPerMessage, maximumMessageBytes: maximumMessageBytes, fileAboveRows: fileAboveRows, maximumRowsPerFile: maximumRowsPerFile)
    }

    public init(
        rules: DailyFeedRules, envelope: DailyFeedEnvelope, day: TradingDayRule = .utc, deposits: DailyFeedStore.DepositRule = .init(),
        maximumRowsPerMessage: Int = Self.defaultMaximumRowsPerMessage, maximumMessageBytes: Int = Self.defaultMaximumMessageBytes,
        fileAboveRows: Int? = nil, maximumRowsPerFile: Int = Self.defaultMaximumRowsPerFile, rowsPerPass: Int = 5_000, snapshots: TierSnapshotSettings? = nil
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
public struct TierSnapshotSettings: Sendable, Equatable {
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

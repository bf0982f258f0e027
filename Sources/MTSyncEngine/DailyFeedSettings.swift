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

    public init(
        rules: DailyFeedRules, envelope: DailyFeedEnvelope, day: TradingDayRule = .utc, deposits: DailyFeedStore.DepositRule = .init(),
        maximumRowsPerMessage: Int = 500, maximumMessageBytes: Int = 256_000,
        fileAboveRows: Int? = nil, maximumRowsPerFile: Int = 10_000, rowsPerPass: Int = 5_000
    ) {
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

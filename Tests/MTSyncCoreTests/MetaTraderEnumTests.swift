import MTSyncCore
import Testing

/// Expected values: MT5 SDK `MT5APIDeal.h` (EnDealAction, EnDealEntry, EnDealReason, server numbering) and the
/// MT4 Manager API header (OP_*), as cited in ../shared/research/metatrader-domain.md §1.2 and §2.2.
@Suite("MetaTrader enumerations (server-side numbering)")
struct MetaTraderEnumTests {
    @Test("every MT5 deal action 0–20 maps to its kind and side", arguments: [
        (UInt32(0), FactKind.trade, Side.buy as Side?), (1, .trade, .sell), (2, .balance, nil), (3, .credit, nil), (4, .charge, nil),
        (5, .correction, nil), (6, .bonus, nil), (7, .commission, nil), (8, .commission, nil), (9, .commission, nil),
        (10, .commission, nil), (11, .commission, nil), (12, .interest, nil), (13, .canceled, .buy), (14, .canceled, .sell),
        (15, .dividend, nil), (16, .dividend, nil), (17, .tax, nil), (18, .commission, nil), (19, .correction, nil),
        (20, .credit, nil),
    ])
    func mt5Actions(code: UInt32, kind: FactKind, side: Side?) {
        let action = MT5DealAction(rawValue: code)
        #expect(action.kind == kind)
        #expect(action.side == side)
    }

    @Test("unknown MT5 actions become kind other with the code kept", arguments: [21, 22, 100, UInt32.max])
    func unknownActions(code: UInt32) {
        #expect(MT5DealAction(rawValue: code) == .unknown(code))
        #expect(MT5DealAction(rawValue: code).kind == .other)
    }

    @Test("MT5 entries 0–3", arguments: [(UInt32(0), Entry.in), (1, .out), (2, .inout), (3, .outBy)])
    func mt5Entries(code: UInt32, entry: Entry) {
        #expect(MT5DealEntry(rawValue: code)?.entry == entry)
    }

    @Test("server reasons, not the terminal's: ROLLOVER 6, VMARGIN 8, TRANSFER 12, SYNC 13, SPLIT 18, CORPORATE_ACTION 19 are technical")
    func technicalReasons() {
        #expect(MT5DealReason.technical == [6, 8, 12, 13, 18, 19])
        // Terminal numbering would put ROLLOVER at 7 and VMARGIN at 8 (MQL5 ENUM_DEAL_REASON): 7 is EXTERNAL_CLIENT here.
        #expect(!MT5DealReason.technical.contains(7))
        #expect(MT5DealReason.stopLoss == 3 && MT5DealReason.takeProfit == 4 && MT5DealReason.stopOut == 5)
        #expect(MT5DealReason.mobile == 16 && MT5DealReason.web == 17 && MT5DealReason.coverage == 21)
    }

    @Test("MT4 commands OP_BUY 0 … OP_CREDIT 7", arguments: [
        (Int64(0), MT4Command.buy), (1, .sell), (2, .buyLimit), (3, .sellLimit), (4, .buyStop), (5, .sellStop), (6, .balance), (7, .credit), (8, .unknown(8)),
    ])
    func mt4Commands(code: Int64, command: MT4Command) {
        #expect(MT4Command(rawValue: code) == command)
        #expect(MT4Command(rawValue: code).isPendingOrder == (2...5).contains(code))
    }
}

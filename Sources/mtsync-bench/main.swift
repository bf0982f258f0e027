import Foundation
import MTSyncBridge
import MTSyncCore

// mtsync-bench: throughput of mtsync's hot paths on one core, with peak memory.
// Run in release mode:  swift run -c release mtsync-bench [normalize|decimal|decode|all] [count]
// `mtsync-bench relay …` is the relay's throughput (Relay/, scripts/bench-relay).
// `mtsync-bench ceiling …` writes the staged rows and merge SQL that scripts/bench times with psql (CeilingFiles.swift).
// Benchmarks, not tests: they print figures and assert nothing. docs/benchmarks.md ("Summary") records the results.

func peakResidentMiB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
        let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "")
    else { return .nan }
    return kilobytes / 1024
}

func measure(_ label: String, count: Int, _ body: () -> Int) {
    let start = ContinuousClock.now
    let checksum = body()
    let elapsed = ContinuousClock.now - start
    let seconds = elapsed.fractionalSeconds
    let rate = Double(count) / seconds
    print(String(format: "%-44@ %12.0f /s  %8.1f ns/op  peak RSS %6.1f MiB  (checksum %d)", label as NSString, rate, 1e9 / rate, peakResidentMiB(), checksum))
}

/// Deterministic sample deals shaped like a real MT5 history: mostly trades in FX, metals and indices with
/// broker suffixes, some balance operations and technical rollovers.
func sampleDeals(_ count: Int) -> [MT5DealRecord] {
    let symbols = ["EURUSD.pro", "GBPUSD", "XAUUSDm", "US30.cash", "USDJPY.raw", "#BTCUSD", "EURJPY-ECN", "AAPL.m"]
    var deals: [MT5DealRecord] = []
    deals.reserveCapacity(count)
    var state: UInt64 = 42
    func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state >> 11
    }
    for index in 0..<count {
        var deal = MT5DealRecord()
        deal.deal = String(10_000_000_000 + index)
        deal.login = String(100_000 + Int(next() % 50_000))
        deal.order = String(20_000_000_000 + index)
        deal.positionID = String(30_000_000_000 + index / 2)
        let isBalance = index % 50 == 0
        deal.action = isBalance ? "2" : String(next() % 2)
        deal.entry = String(index % 2)
        deal.reason = index % 97 == 0 ? "6" : "0"
        deal.timeMsc = String(1_735_725_600_000 + Int64(index) * 137)
        deal.symbol = isBalance ? "" : symbols[Int(next() % UInt64(symbols.count))]
        deal.volumeExt = isBalance ? "0" : String((1 + next() % 500) * 1_000_000)
        deal.price = isBalance ? "0" : "1.\(String(10_000 + next() % 90_000))"
        deal.profit = "\(Int(next() % 2000) - 1000).\(String(format: "%02d", Int(next() % 100)))"
        deal.storage = "-0.\(String(format: "%02d", Int(next() % 100)))"
        deal.commission = "-3.50"
        deal.fee = "0"
        deal.contractSize = "100000"
        deal.comment = index % 3 == 0 ? "" : "EA #\(index % 7)"
        deals.append(deal)
    }
    return deals
}

func benchmarkNormalize(_ count: Int) {
    let deals = sampleDeals(count)
    let normalizer = Normalizer(settings: ServerSettings(server: try! ServerID("bench-mt5"), platform: .mt5, zone: ServerTimeZone("ny-close")!))
    print("normalize: \(count) MT5 deals already decoded, one core")
    measure("normalize (facts)", count: count) {
        var facts = 0
        for deal in deals { if case .facts(let produced) = normalizer.normalize(deal) { facts += produced.count } }
        return facts
    }
    measure("normalize + content hash + idempotency key", count: count) {
        var bytes = 0
        for deal in deals {
            if case .facts(let produced) = normalizer.normalize(deal) {
                for fact in produced { bytes &+= fact.contentHash.utf8.count &+ fact.idempotencyKey.utf8.count }
            }
        }
        return bytes
    }
}

func benchmarkDecimal(_ count: Int) {
    let texts = (0..<1000).map { "\($0 * 7919 % 100_000 - 50_000).\(String(format: "%02d", $0 % 100))" }
    print("decimal: parse and sum \(count) money amounts")
    measure("ExactDecimal (scaled Int128)", count: count) {
        var total = ExactDecimal.zero
        for index in 0..<count { total = total.adding(ExactDecimal(parsing: texts[index % texts.count])!)! }
        return Int(total.significand % 1_000_000)
    }
    measure("Foundation Decimal(string:)", count: count) {
        var total = Decimal.zero
        for index in 0..<count { total += Decimal(string: texts[index % texts.count])! }
        return NSDecimalNumber(decimal: total).intValue % 1_000_000
    }
}

func benchmarkDecode(_ count: Int) {
    let line = Array(#"{"Deal":"10000000123","Login":"123456","Order":"20000000123","PositionID":"30000000061","Action":"1","Entry":"1","Reason":"0","Time":"1735725600","TimeMsc":"1735725600123","Symbol":"EURUSD.pro","Volume":"10500","VolumeExt":"105000000","Price":"1.03512","Profit":"123.45","Storage":"-2.10","Commission":"-3.50","Fee":"0","ContractSize":"100000","Digits":"5","DigitsCurrency":"2","Comment":"EA #3","ExternalID":"","Flags":"0"}"#.utf8)
    print("decode: \(count) MT5 deal lines (\(line.count) bytes each) into raw records")
    measure("flat record line → MT5DealRecord", count: count) {
        var logins = 0
        for _ in 0..<count { logins &+= (try! RawRecordDecoder.mt5Deal(fromLine: line)).login!.utf8.count }
        return logins
    }
    let envelope = Array(#"{"type":"deal","id":"r17","data":"#.utf8) + line + Array("}".utf8)
    measure("protocol deal line → BridgeLine.deal", count: count) {
        var logins = 0
        for _ in 0..<count {
            if case .deal(_, let deal) = try! BridgeLine.decode(envelope) { logins &+= deal.login!.utf8.count }
        }
        return logins
    }
}

let arguments = CommandLine.arguments.dropFirst()
let which = arguments.first ?? "all"
let count = arguments.dropFirst().first.flatMap { Int($0) } ?? 1_000_000
#if DEBUG
if which != "relay" { print("warning: debug build; run with `swift run -c release mtsync-bench` for meaningful figures") }
#endif
switch which {
case "ceiling":
    do {
        let files = try CeilingFiles(arguments: Array(arguments.dropFirst()))
        let written = try files.write()
        print("\(written.records) records, \(written.facts) facts staged in \(files.output)")
    } catch {
        FileHandle.standardError.write(Data("mtsync-bench ceiling: \(error)\n".utf8))
        exit(1)
    }
case "relay": await RelayBenchmark.main(arguments: Array(arguments.dropFirst()))
case "normalize": benchmarkNormalize(count)
case "decimal": benchmarkDecimal(count)
case "decode": benchmarkDecode(count)
case "all":
    benchmarkDecimal(count)
    benchmarkDecode(count)
    benchmarkNormalize(count)
default:
    print("usage: mtsync-bench [normalize|decimal|decode|all] [count] | mtsync-bench ceiling --help | mtsync-bench relay --help")
    exit(64)
}

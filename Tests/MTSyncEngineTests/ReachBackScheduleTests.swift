@testable import MTSyncEngine
import Testing

@Suite("The lookback window is re-read a slice per pull, all of it every lookback_every")
struct ReachBackScheduleTests {
    let window: Range<Int64> = 0..<7_200_000  // two hours before the cursor's last minute
    let every = Duration.seconds(60)

    @Test("the first pull of a process re-reads the whole window; so does every pull with lookback_every 0")
    func firstAndZero() {
        let schedule = ReachBackSchedule()
        let start = ContinuousClock.now
        #expect(schedule.slice(of: window, every: every, at: start) == window)
        schedule.done(upTo: window.upperBound, at: start)
        #expect(schedule.slice(of: window, every: .zero, at: start + .seconds(1)) == window)
    }

    @Test("a pull re-reads a share of the window in proportion to the time since the last one, where the last slice ended")
    func slicesFollowEachOther() {
        let schedule = ReachBackSchedule()
        var now = ContinuousClock.now
        schedule.done(upTo: window.upperBound, at: now)  // the first pull read it all
        var covered: [Range<Int64>] = []
        // Polls every 10 s: six slices of a sixth each sweep the window once a minute.
        for _ in 0..<6 {
            now += .seconds(10)
            let slice = schedule.slice(of: window, every: every, at: now)
            covered.append(slice)
            schedule.done(upTo: slice.upperBound, at: now)
        }
        #expect(covered.first?.lowerBound == 0, "after the whole window was read, the sweep starts over")
        #expect(covered.last?.upperBound == window.upperBound)
        #expect(zip(covered, covered.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound }, "each slice goes on where the last ended")
        #expect(covered.allSatisfy { abs($0.count - 1_200_000) <= 1 })
    }

    @Test("the window moves with the cursor: the sweep never re-reads before its start, and a pull after lookback_every re-reads all")
    func movingWindowAndLongPause() {
        let schedule = ReachBackSchedule()
        let now = ContinuousClock.now
        schedule.done(upTo: 1_000, at: now)
        let moved: Range<Int64> = 5_000_000..<12_200_000
        #expect(schedule.slice(of: moved, every: every, at: now + .seconds(1)).lowerBound == moved.lowerBound)
        #expect(schedule.slice(of: moved, every: every, at: now + .seconds(61)) == moved, "an outage: everything again")
        #expect(schedule.slice(of: Int64(5)..<5, every: every, at: now + .seconds(1)).isEmpty, "no window (lookback within the last minute)")
    }
}

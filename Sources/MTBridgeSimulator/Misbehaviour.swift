/// The ways a bridge written by someone else can be wrong, for the hostile-bridge suite (`scripts/chaos --hostile`,
/// issue 20): each one is something a real bridge has done or could do, and none of them may lose a record, crash
/// mtsync, hang it past its deadlines or pass unseen. The simulator serves its dataset with one of them.
public enum Misbehaviour: String, Sendable, CaseIterable, Hashable {
    /// `end.next` of every deals page is in the year 9999.
    case futureNext = "future-next"
    /// `end.next` of every deals page has a ticket of 2^64.
    case hugeNextTicket = "huge-next-ticket"
    /// `end.next` repeats the request's `after` (behind the page).
    case nextBehindAfter = "next-behind-after"
    /// `more` is true with `next` null.
    case moreWithoutNext = "more-without-next"
    /// `count` says 7 more records than were sent.
    case lyingCount = "lying-count"
    /// Every `end` is sent twice.
    case repeatedEnd = "repeated-end"
    /// The page's first record is sent again after its `end`.
    case recordsAfterEnd = "records-after-end"
    /// Each page's records in reverse order.
    case wrongOrder = "wrong-order"
    /// Each page's first record is repeated in place of its last.
    case duplicateInPage = "duplicate-in-page"
    /// Each page carries one more deal, a day after the requested range.
    case outsideRange = "outside-range"
    /// Each page carries one more deal whose `TimeMsc` is Int64.max.
    case maximalTimeMsc = "max-time-msc"
    /// Each page carries one more deal with only `Time` (seconds), Int64.max.
    case maximalTimeOnly = "max-time-only"
    /// `server.info` says `server_time_ms` is Int64.max.
    case maximalServerTime = "max-server-time"
    /// Each page carries one line that is not UTF-8.
    case invalidUTF8 = "invalid-utf8"
    /// Each page carries one line of 1 MiB + 10 bytes.
    case oversizeLine = "oversize-line"
    /// The port answers like an SSH server: a banner instead of `hello`, then silence.
    case sshBanner = "ssh-banner"
    /// Accepts the connection and never says `hello`.
    case silentHandshake = "silent-handshake"
    /// Sends `hello` one byte a second.
    case trickleHandshake = "trickle-handshake"
    /// Answers `deals` one byte a second, never finishing a line.
    case trickleResponse = "trickle-response"
    /// Sends half of a deals page, then nothing at all.
    case stallMidPage = "stall-mid-page"
    /// Answers every request with `progress` forever.
    case endlessProgress = "endless-progress"
    /// Digest buckets shifted by half an hour.
    case wrongDigest = "wrong-digest"
    /// Every deals request gets a retryable `error` whose message carries a password and the bridge key.
    case secretError = "secret-error"
}

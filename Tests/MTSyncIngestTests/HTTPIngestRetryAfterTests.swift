import MTSyncIngest
import Testing

@Suite("Retry-After: delay-seconds and the three HTTP-date forms (RFC 9110 §10.2.3, §5.6.7)")
struct HTTPIngestRetryAfterTests {
    /// Sun, 06 Nov 1994 08:49:37 GMT (Python: calendar.timegm).
    static let rfcExample: Int64 = 784_111_777
    /// Wed, 12 Nov 2025 18:30:00 GMT.
    static let november2025: Int64 = 1_762_972_200

    @Test("delay-seconds is that many seconds, blanks around it ignored", arguments: [
        ("120", Duration.seconds(120)),
        ("0", .zero),
        (" 7 ", .seconds(7)),
        ("\t3600", .seconds(3_600)),
        ("0000042", .seconds(42)),
    ])
    func delaySeconds(value: String, delay: Duration) {
        #expect(HTTPIngestRetryAfter.delay(value, now: Self.november2025) == delay)
    }

    @Test("delay-seconds too large for 64 bits still means a long pause, not no advice")
    func hugeDelaySeconds() {
        #expect(HTTPIngestRetryAfter.delay("99999999999999999999999", now: 0) == .seconds(Int64.max))
    }

    @Test("the three HTTP-date forms are read as UTC", arguments: [
        ("Sun, 06 Nov 1994 08:49:37 GMT", rfcExample),  // IMF-fixdate
        ("Wed, 12 Nov 2025 18:30:00 GMT", november2025),  // IMF-fixdate
        ("Wednesday, 12-Nov-25 18:30:00 GMT", november2025),  // RFC 850
        ("Sun Nov  6 08:49:37 1994", rfcExample),  // asctime, day padded with a space
        ("Wed Nov 12 18:30:00 2025", november2025),  // asctime
        ("Thu, 29 Feb 2024 12:00:00 GMT", 1_709_208_000),  // a leap day
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0),
        ("Fri, 31 Dec 9999 23:59:59 GMT", 253_402_300_799),
    ])
    func httpDates(value: String, seconds: Int64) {
        #expect(HTTPIngestRetryAfter.httpDate(value) == seconds)
    }

    @Test("a date in the future is the time until it", arguments: [
        "Wed, 12 Nov 2025 18:30:00 GMT", "Wednesday, 12-Nov-25 18:30:00 GMT", "Wed Nov 12 18:30:00 2025",
    ])
    func futureDate(value: String) {
        #expect(HTTPIngestRetryAfter.delay(value, now: Self.november2025 - 90) == .seconds(90))
        #expect(HTTPIngestRetryAfter.delay(value, now: Self.november2025) == .zero)
    }

    @Test("a date in the past means now", arguments: [
        "Sun, 06 Nov 1994 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "Wednesday, 12-Nov-25 18:30:00 GMT",
    ])
    func pastDate(value: String) {
        #expect(HTTPIngestRetryAfter.delay(value, now: Self.november2025 + 1) == .zero)
    }

    @Test("anything else is no advice", arguments: [
        "", "   ", "soon", "-5", "1.5", "+30", "120s",
        "Sun, 06 Nov 1994 08:49:37 UTC",  // not GMT
        "Sun, 06 Nov 1994 08:49:37",  // no zone
        "Sun, 32 Nov 1994 08:49:37 GMT",  // no such day
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",  // no such month
        "Sun, 06 nov 1994 08:49:37 GMT",  // month names are case-sensitive
        "Sun, 06 Nov 1994 24:00:00 GMT",  // no such hour
        "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 1994 08:49 GMT",  // no seconds
        "Sun, 06 Nov 1969 08:49:37 GMT",  // before the epoch
        "Sunday, 06-Nov-1994 08:49:37 GMT",  // RFC 850 takes a two-digit year
        "Sunday, 06/Nov/94 08:49:37 GMT",
        "Sun Nov 6 08:49:37",  // asctime without a year
        "2025-11-12T18:30:00Z",  // ISO 8601 is not an HTTP-date
    ])
    func garbage(value: String) {
        #expect(HTTPIngestRetryAfter.delay(value, now: Self.november2025) == nil)
    }
}

@Suite("Retry-After: the edges of HTTP-dates")
struct HTTPIngestRetryAfterEdgeTests {
    @Test("an RFC 850 two-digit year more than 50 years ahead is the past century: RFC 9110's example is 1994, so 'now'")
    func rfc850Century() {
        let now: Int64 = 1_764_000_000  // 2025-11-24
        #expect(HTTPIngestRetryAfter.httpDate("Sunday, 06-Nov-94 08:49:37 GMT", now: now) == 784_111_777)
        #expect(HTTPIngestRetryAfter.delay("Sunday, 06-Nov-94 08:49:37 GMT", now: now) == .zero)
        #expect(HTTPIngestRetryAfter.httpDate("Tuesday, 25-Nov-25 12:00:00 GMT", now: now) == 1_764_072_000)
    }

    @Test("a day that does not exist in its month is not a date", arguments: ["Sat, 31 Feb 2026 00:00:00 GMT", "Thu, 31 Apr 2026 00:00:00 GMT", "Sun, 29 Feb 2026 00:00:00 GMT"])
    func impossibleDays(value: String) {
        #expect(HTTPIngestRetryAfter.httpDate(value) == nil)
    }
}

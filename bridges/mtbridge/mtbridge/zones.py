"""Server time for `server.info` (bridge-protocol §0, §4.1): the zone rules mtsync understands."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo


def offset_at(rule: str, utc: datetime) -> timedelta:
    """How far the server clock is ahead of UTC at `utc`, by rule: IANA name, `+02:00`, `UTC` or `ny-close`."""
    if rule in ("UTC", "utc", "Z"):
        return timedelta(0)
    utc = utc if utc.tzinfo else utc.replace(tzinfo=timezone.utc)
    if rule == "ny-close":  # New York wall clock + 7 h: 17:00 New York is midnight on the server
        return utc.astimezone(ZoneInfo("America/New_York")).utcoffset() + timedelta(hours=7)
    match = re.fullmatch(r"([+-])(\d\d):(\d\d)", rule)
    if match:
        sign = 1 if match.group(1) == "+" else -1
        return sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3)))
    # An instant's offset, not a wall time's: read naively, the hour after a switch would take the wrong one.
    return utc.astimezone(ZoneInfo(rule)).utcoffset()


def check(rule: str) -> None:
    """Raises ValueError naming the rule when it is none of the forms above."""
    try:
        offset_at(rule, datetime.now(timezone.utc))
    except Exception:
        raise ValueError(f"time_zone {rule!r} is not an IANA zone name, ±HH:MM, UTC or ny-close") from None


def server_info_times(rule: str, now: datetime | None = None, *, source: "SourceTime | None" = None) -> dict:
    """§4.1's clock fields. The rule is the operator's; the offset, DST flag and server clock come from the source
    whenever it can tell them (MT5's `TimeZone`/`DaylightState`, a live server clock), so a rule that does not
    describe the server shows in `mtsync bridge check` as a clock the rule does not explain."""
    now = now or datetime.now(timezone.utc)
    utc_ms = int(now.timestamp() * 1000)
    offset = offset_at(rule, now)
    dst = False
    if rule not in ("UTC", "utc", "Z") and not re.fullmatch(r"[+-]\d\d:\d\d", rule):
        zone = ZoneInfo("America/New_York" if rule == "ny-close" else rule)
        dst = bool(now.astimezone(zone).dst())
    offset_minutes, server_ms, said_by = int(offset.total_seconds() // 60), utc_ms + int(offset.total_seconds() * 1000), "configuration"
    if source is not None:
        said_by = source.said_by
        if source.offset_minutes is not None:
            offset_minutes, dst = source.offset_minutes, bool(source.dst)
            server_ms = utc_ms + offset_minutes * 60_000
        if source.server_clock_ms is not None:
            server_ms = source.server_clock_ms
    return {"time_zone": {"rule": rule, "utc_offset_minutes": offset_minutes, "dst": dst, "source": said_by},
            "server_time_ms": server_ms, "utc_time_ms": utc_ms}


class SourceTime:
    """What a source says of its server's time: the offset now (MT5 `TimeZone` + 60 when `DaylightState`), and a
    live server clock when it has one (Web API `/api/time/server`, Manager `TimeServerRequest`). Either may be None."""

    def __init__(self, said_by: str, *, offset_minutes: int | None = None, dst: bool | None = None, server_clock_ms: int | None = None):
        self.said_by, self.offset_minutes, self.dst, self.server_clock_ms = said_by, offset_minutes, dst, server_clock_ms

    @classmethod
    def from_mt5_time(cls, said_by: str, time_zone_minutes: int, daylight_state: int | bool, *, server_clock_ms: int | None = None):
        """MT5's `IMTConTime`: `TimeZone` is minutes from GMT without daylight saving, `DaylightState` whether it is on now."""
        return cls(said_by, offset_minutes=int(time_zone_minutes) + (60 if daylight_state else 0), dst=bool(daylight_state),
                   server_clock_ms=server_clock_ms)

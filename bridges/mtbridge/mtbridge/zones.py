"""Server time for `server.info` (bridge-protocol §0, §4.1): the zone rules mtsync understands."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo


def offset_at(rule: str, utc: datetime) -> timedelta:
    """How far the server clock is ahead of UTC at `utc`, by rule: IANA name, `+02:00`, `UTC` or `ny-close`."""
    if rule in ("UTC", "utc", "Z"):
        return timedelta(0)
    if rule == "ny-close":  # New York wall clock + 7 h: 17:00 New York is midnight on the server
        return ZoneInfo("America/New_York").utcoffset(utc.replace(tzinfo=None)) + timedelta(hours=7)
    match = re.fullmatch(r"([+-])(\d\d):(\d\d)", rule)
    if match:
        sign = 1 if match.group(1) == "+" else -1
        return sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3)))
    return ZoneInfo(rule).utcoffset(utc.replace(tzinfo=None))


def check(rule: str) -> None:
    """Raises ValueError naming the rule when it is none of the forms above."""
    try:
        offset_at(rule, datetime.now(timezone.utc))
    except Exception:
        raise ValueError(f"time_zone {rule!r} is not an IANA zone name, ±HH:MM, UTC or ny-close") from None


def server_info_times(rule: str, now: datetime | None = None) -> dict:
    now = now or datetime.now(timezone.utc)
    offset = offset_at(rule, now)
    utc_ms = int(now.timestamp() * 1000)
    dst = False
    if rule not in ("UTC", "utc", "Z") and not re.fullmatch(r"[+-]\d\d:\d\d", rule):
        zone = ZoneInfo("America/New_York" if rule == "ny-close" else rule)
        dst = bool(zone.dst(now.replace(tzinfo=None)))
    return {"time_zone": {"rule": rule, "utc_offset_minutes": int(offset.total_seconds() // 60), "dst": dst},
            "server_time_ms": utc_ms + int(offset.total_seconds() * 1000), "utc_time_ms": utc_ms}

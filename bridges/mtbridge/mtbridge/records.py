"""Record positions, canonical lines and bucket checksums (bridge-protocol §4.2–§4.7).

Records are dicts with MetaQuotes' field names, exactly as they go on the wire. Numbers may be ints, Decimals
or strings of digits (as the MT5 Web API and report databases give them); never binary floats for money —
backends read decimals as `Decimal` (json.loads(..., parse_float=Decimal), a DB driver's DECIMAL type).
"""

from __future__ import annotations

import hashlib
from decimal import Decimal, InvalidOperation

MT5_CANONICAL = ("Deal", "Login", "Action", "Entry", "TimeMsc", "Symbol", "VolumeExt", "Price", "Profit", "Storage", "Commission", "Fee")
MT5_INTEGERS = {"Deal", "Login", "Action", "Entry", "TimeMsc", "VolumeExt"}
MT4_CANONICAL = ("order", "login", "cmd", "open_time", "close_time", "symbol", "volume", "open_price", "close_price", "profit", "storage", "commission", "taxes")
MT4_INTEGERS = {"order", "login", "cmd", "open_time", "close_time", "volume"}
STRINGS = {"Symbol", "symbol"}


def to_int(value) -> int:
    """An integer field as sent: a JSON number, a Decimal or a string of digits; absent or null is 0 (§4.7)."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise ValueError("a boolean is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)  # the usual case (the Web API's tickets, the MT5 backends' strings), without a Decimal
    number = Decimal(str(value))
    if number != number.to_integral_value():
        raise ValueError(f"{value!r} is not an integer")
    return int(number)


def canonical_decimal(value) -> str:
    """Plain decimal text without exponent, `+`, trailing fractional zeros or trailing point (§4.7)."""
    if value is None or value == "":
        return "0"
    if isinstance(value, float):
        value = repr(value)  # the shortest text that round-trips (§0); backends should not hand floats at all
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a decimal") from None
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a finite decimal")
    if number == 0:
        return "0"
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def canonical_line(record: dict, platform: str) -> str:
    fields, integers = (MT5_CANONICAL, MT5_INTEGERS) if platform == "mt5" else (MT4_CANONICAL, MT4_INTEGERS)
    parts = []
    for name in fields:
        value = record.get(name)
        if name == "Entry" and to_int(record.get("Action")) not in (0, 1):
            parts.append("")
        elif name in STRINGS:
            parts.append("" if value is None else str(value))
        elif name in integers:
            parts.append(str(to_int(value)))
        else:
            parts.append(canonical_decimal(value))
    return "|".join(parts)


def line_prefix(line: str) -> int:
    return int.from_bytes(hashlib.sha256(line.encode("utf-8")).digest()[:8], "big")


class Bucket:
    """One digest bucket being summed: count, exact volume, order-independent checksum."""

    def __init__(self, from_ms: int, to_ms: int):
        self.from_ms, self.to_ms = from_ms, to_ms
        self.count = 0
        self.volume = 0
        self.checksum = 0

    def add(self, record: dict, platform: str) -> None:
        self.count += 1
        self.volume += to_int(record.get("VolumeExt" if platform == "mt5" else "volume"))
        self.checksum = (self.checksum + line_prefix(canonical_line(record, platform))) % (1 << 64)

    def data(self) -> dict:
        return {"from_ms": self.from_ms, "to_ms": self.to_ms, "count": self.count, "volume": str(self.volume), "checksum": f"{self.checksum:016x}"}


def deal_position(record: dict) -> tuple[int, int]:
    """(TimeMsc, Deal): the §4.2 order. A record with only `Time` is placed at Time × 1000."""
    time_msc = record.get("TimeMsc")
    when = to_int(time_msc) if time_msc not in (None, "") else to_int(record.get("Time")) * 1000
    return when, to_int(record.get("Deal"))


def trade_position(record: dict) -> tuple[int, int]:
    """(close_time, order): the §4.3 order of the closed set, in seconds."""
    return to_int(record.get("close_time")), to_int(record.get("order"))


def record_time_ms(record: dict, platform: str) -> int:
    """The time a digest buckets a record by: `TimeMsc` (MT5) or `close_time` × 1000 (MT4)."""
    return deal_position(record)[0] if platform == "mt5" else trade_position(record)[0] * 1000

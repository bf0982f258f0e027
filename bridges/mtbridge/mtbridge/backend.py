"""What a source of MetaTrader data must answer, and an in-memory source for tests and demos.

The protocol layer (`mtbridge.server`) validates every request, asks a backend for at most `limit + 1` records
strictly after a position, and pages, digests and frames the answer itself; so a backend only reads its source
in the protocol's order. Backend calls are blocking (a DB driver, an HTTP client, the Manager API): the server
runs them in a worker thread and sends `progress` lines while they run.
"""

from __future__ import annotations

from typing import Iterable, Protocol

from . import records
from .protocol import BridgeError


class Backend(Protocol):
    server_id: str
    platform: str  # "mt5" or "mt4"

    def capabilities(self) -> list[str]:
        """The optional methods served (§4): a subset of accounts, symbols, digest, changes, daily."""

    def server_info(self) -> dict:
        """§4.1's `server_info` data, without `capabilities` (the server adds them)."""

    def deals(self, from_ms: int, to_ms: int, after: tuple[int, int] | None, limit: int) -> list[dict]:
        """MT5: up to `limit` deals with from_ms <= TimeMsc < to_ms, ascending (TimeMsc, Deal), after `after`."""

    def closed_trades(self, from_ms: int, to_ms: int, after: tuple[int, int] | None, limit: int) -> list[dict]:
        """MT4 history: from_ms <= close_time × 1000 < to_ms, ascending (close_time, order), after `after`."""

    def open_trades(self, after: int | None, limit: int) -> list[dict]:
        """MT4 open trades, ascending order, after `after`."""

    def accounts(self, after: int | None, limit: int) -> list[dict]:
        """Ascending login, after `after`."""

    def symbols(self, after: str | None, limit: int) -> list[dict]:
        """Ascending symbol (byte order), after `after`."""

    def changes(self, since: int, limit: int) -> list[dict]:
        """`{"seq", "op", "record"}` with seq > since, ascending; BridgeError changes_expired when too old."""

    def daily(self, from_ms: int, to_ms: int, after: tuple[str, int] | None, limit: int) -> list[dict]:
        """Records of server days starting in [from_ms, to_ms), ascending (day, login), after `after`."""

    def history(self, from_ms: int, to_ms: int) -> Iterable[dict]:
        """Every deal (MT5) or closed trade (MT4) in the range, in any order, streamed: what digests sum."""


class MemoryBackend:
    """A whole server held in lists: for tests, transcript replays and `mtbridge --demo`."""

    def __init__(self, server_id: str, platform: str, *, info: dict | None = None, deals=(), trades=(), open_trades=(),
                 accounts=(), symbols=(), changes=(), daily=(), capabilities=None, keep_changes_from: int = 0):
        self.server_id, self.platform = server_id, platform
        self._info = info or {"time_zone": {"rule": "UTC", "utc_offset_minutes": 0, "dst": False}}
        self._deals = sorted(deals, key=records.deal_position)
        self._trades = sorted(trades, key=records.trade_position)
        self._open = sorted(open_trades, key=lambda t: records.to_int(t.get("order")))
        self._accounts = sorted(accounts, key=lambda a: records.to_int(a.get("login")))
        self._symbols = sorted(symbols, key=lambda s: str(s.get("symbol")).encode("utf-8"))
        self._changes = sorted(changes, key=lambda c: c["seq"])
        self._daily = sorted(daily, key=lambda d: (d["day"], records.to_int(d.get("login"))))
        self._keep_changes_from = keep_changes_from
        self._capabilities = list(capabilities) if capabilities is not None else ["accounts", "symbols", "digest", "changes", "daily"]

    def capabilities(self) -> list[str]:
        return list(self._capabilities)

    def server_info(self) -> dict:
        return dict(self._info)

    def deals(self, from_ms, to_ms, after, limit):
        return self._page(self._deals, records.deal_position, lambda p: from_ms <= p[0] < to_ms, after, limit)

    def closed_trades(self, from_ms, to_ms, after, limit):
        return self._page(self._trades, records.trade_position, lambda p: from_ms <= p[0] * 1000 < to_ms, after, limit)

    def open_trades(self, after, limit):
        return self._page(self._open, lambda t: records.to_int(t.get("order")), lambda p: True, after, limit)

    def accounts(self, after, limit):
        return self._page(self._accounts, lambda a: records.to_int(a.get("login")), lambda p: True, after, limit)

    def symbols(self, after, limit):
        key = lambda s: str(s.get("symbol")).encode("utf-8")
        return self._page(self._symbols, key, lambda p: True, after.encode("utf-8") if after is not None else None, limit)

    def changes(self, since, limit):
        if since < self._keep_changes_from:
            raise BridgeError("changes_expired", f"changes before seq {self._keep_changes_from} are no longer kept; reconcile instead")
        return [c for c in self._changes if c["seq"] > since][:limit]

    def daily(self, from_ms, to_ms, after, limit):
        def starts_in_range(record):
            day_ms = _day_ms(record["day"])
            return from_ms <= day_ms < to_ms
        chosen = [d for d in self._daily if starts_in_range(d)]
        return self._page(chosen, lambda d: (d["day"], records.to_int(d.get("login"))), lambda p: True, after, limit)

    def history(self, from_ms, to_ms):
        rows = self._deals if self.platform == "mt5" else self._trades
        return (r for r in rows if from_ms <= records.record_time_ms(r, self.platform) < to_ms)

    @staticmethod
    def _page(rows, position, in_range, after, limit):
        page = []
        for row in rows:
            where = position(row)
            if not in_range(where) or (after is not None and where <= after):
                continue
            page.append(row)
            if len(page) == limit:
                break
        return page


def _day_ms(day: str) -> int:
    from datetime import date
    return (date.fromisoformat(day) - date(1970, 1, 1)).days * 86_400_000

"""Deals of a source that has no paging and no cursor (the MT5 Web API, the Manager API): read per time window, and
paged here in the protocol's order (bridge-protocol §4.2).

MetaQuotes' range calls take whole seconds with an inclusive `to` (§8), so a window [start, end) in milliseconds is
asked as [floor(start / 1000), ceil(end / 1000)] and cut back to its half-open milliseconds here; a deal in a
window's last second is served once, by the window it belongs to. The last window read is kept for the pages that
continue a paging run (for `reuse_s` at most), so paging through a window costs one call; a run's first page and
every digest read the source again, or an edit made since would stay invisible to the look-back and to reconcile.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Iterable

from . import records


class DealWindows:
    def __init__(self, read: Callable[[int, int], Iterable[dict]], window_ms: int, *, reuse_s: float = 30.0):
        """`read(from_s, to_s)`: the source's deals with from_s <= Time <= to_s (seconds, server time, `to` inclusive)."""
        self.read, self.window_ms, self.reuse_s = read, window_ms, reuse_s
        self._kept: tuple[int, int, list[dict], float] | None = None
        self._lock = threading.Lock()

    def forget(self) -> None:
        """The next page reads the source again, whatever it continues."""
        with self._lock:
            self._kept = None

    def _window(self, start: int, end: int, *, reuse: bool) -> list[dict]:
        with self._lock:
            kept = self._kept
            if reuse and kept and kept[:2] == (start, end) and time.monotonic() - kept[3] < self.reuse_s:
                return kept[2]
        deals = sorted((d for d in self.read(start // 1000, -(-end // 1000)) if start <= records.deal_position(d)[0] < end),
                       key=records.deal_position)
        with self._lock:
            self._kept = (start, end, deals, time.monotonic())
        return deals

    def _windows(self, from_ms: int, to_ms: int, first: int):
        """The windows of the range from the one holding `first`, aligned to the range's start."""
        start = max(from_ms, first - (first - from_ms) % self.window_ms)
        while start < to_ms:
            end = min(to_ms, start + self.window_ms)
            yield start, end
            start = end

    def deals(self, from_ms: int, to_ms: int, after: tuple[int, int] | None, limit: int) -> list[dict]:
        """Up to `limit` deals with from_ms <= TimeMsc < to_ms, ascending (TimeMsc, Deal), after `after`."""
        page = []
        for start, end in self._windows(from_ms, to_ms, after[0] if after else from_ms):
            for deal in self._window(start, end, reuse=after is not None):
                if after is None or records.deal_position(deal) > after:
                    page.append(deal)
                    if len(page) == limit:
                        return page
        return page

    def history(self, from_ms: int, to_ms: int) -> Iterable[dict]:
        """Every deal of the range, window by window, each read from the source (what digests sum)."""
        for start, end in self._windows(from_ms, to_ms, from_ms):
            yield from self._window(start, end, reuse=False)


class Expiring:
    """Values read from the source and kept for `ttl_s`: a group's deposit currency rarely changes, but when a dealer
    does change it the accounts must follow without restarting the bridge."""

    def __init__(self, ttl_s: float):
        self.ttl_s = ttl_s
        self._values: dict = {}
        self._lock = threading.Lock()

    def get(self, key, load: Callable[[], object]):
        now = time.monotonic()
        with self._lock:
            read_at, value = self._values.get(key, (float("-inf"), None))
        if now - read_at >= self.ttl_s:
            value = load()
            with self._lock:
                self._values[key] = (now, value)
        return value

"""`changes` for a report database (bridge-protocol §4.6): the edits and deletions of recent history, found by
comparing the database with what the bridge saw of it last time.

A report database (the MT5 SQL export, the MT4 Report Server) has no event to listen to: an edit shows only as a
changed row and a deletion only as a missing one, with no tombstone, and the rows' modification stamps are not
proven to grow (bridge-sources.md §1, §3). So a sweep reads the recent window (`window_days` back from the server's
clock) every `sweep_minutes`, and compares each record with the content hash remembered from the last sweep (the
`seen` table, in the journal's file):

- a key whose hash changed is an `update` (the record as it is now);
- a key that is gone is looked up by its ticket first: found elsewhere (a dealer moved its time out of the window)
  it is an `update`; found nowhere it is a `delete` — the only way a deletion becomes visible here;
- a new key is an addition, served by `deals` / `trades` and not journaled (§4.6), only remembered.

What the bridge saw survives its restarts, so a deletion made while it was down is found by its next sweep: unlike
the MT5 deal sink, a restart is not a gap. The journal is written before `seen`, so a crash between the two repeats
changes (harmless: mtsync applies a change idempotently) and never loses one. Edits to records older than the window
are not seen here; mtsync's trailing reconcile finds them by digest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time

from . import records, zones
from .journal import ChangeJournal, Event

log = logging.getLogger("mtbridge.changes")


def content_hash(record: dict) -> bytes:
    """Every field, so any edit shows: the record as served, keys sorted."""
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str, separators=(",", ":")).encode()).digest()[:16]


class DatabaseChanges:
    """Sweeps a report-database backend into a `ChangeJournal`. The backend gives `history(from_ms, to_ms)` (every
    record of the range, streamed) and `records_by_key(keys)` (the records with those tickets, wherever they are)."""

    def __init__(self, backend, journal: ChangeJournal, *, window_days: int = 3, sweep_minutes: float = 5.0,
                 server_clock_ms=None):
        self.backend, self.journal = backend, journal
        self.platform = backend.platform
        self.key_field = "Deal" if self.platform == "mt5" else "order"
        self.window_ms = window_days * 86_400_000
        self.every_s = sweep_minutes * 60
        # The window is in server time: the configured rule's clock unless the caller knows better (tests).
        self.server_clock_ms = server_clock_ms or (lambda: zones.server_info_times(backend.time_zone)["server_time_ms"])
        self._seen = sqlite3.connect(journal.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._seen.execute("PRAGMA synchronous=FULL")
        self._seen.execute("CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, time_ms INTEGER NOT NULL, hash BLOB NOT NULL)")
        self._seen.execute("CREATE INDEX IF NOT EXISTS seen_time ON seen (time_ms)")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep(self) -> dict:
        """One comparison of the window with what was seen; returns how many updates, deletions and additions."""
        now = self.server_clock_ms()
        low, high = now - self.window_ms, now + 86_400_000  # a day ahead: records stamped a little past the clock
        remembered = {key: digest for key, digest in self._seen.execute(
            "SELECT key, hash FROM seen WHERE time_ms >= ? AND time_ms < ?", (low, high))}
        events: list[Event] = []
        current: list[tuple[str, int, bytes]] = []
        additions = 0
        for record in self.backend.history(low, high):
            key = str(records.to_int(record[self.key_field]))
            digest = content_hash(record)
            current.append((key, records.record_time_ms(record, self.platform), digest))
            before = remembered.pop(key, None)
            if before is None:
                # Not in the window last time: new, or moved into it by an edit of its time.
                row = self._seen.execute("SELECT hash FROM seen WHERE key = ?", (key,)).fetchone()
                before = row[0] if row else None
                if before is None:
                    additions += 1
                    continue
            if before != digest:
                events.append(Event(op="update", record=record))
        # What was in the window and is not now: moved out of it, or deleted.
        gone = []
        if remembered:
            found = {str(records.to_int(r[self.key_field])): r for r in self.backend.records_by_key([int(k) for k in remembered])}
            for key in remembered:
                if key in found:
                    events.append(Event(op="update", record=found[key]))
                    current.append((key, records.record_time_ms(found[key], self.platform), content_hash(found[key])))
                else:
                    events.append(Event(op="delete", record={self.key_field: key}))
                    gone.append(key)
        if events:
            self.journal.append(events)  # before `seen`: a crash in between repeats a change, never loses one
        self._remember(current, deleted=gone, forget_before=low - 86_400_000)
        updates = sum(1 for e in events if e.op == "update")
        return {"updates": updates, "deletes": len(events) - updates, "additions": additions}

    def _remember(self, current, *, deleted, forget_before: int) -> None:
        connection = self._seen
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.executemany("INSERT INTO seen VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET time_ms = excluded.time_ms, hash = excluded.hash",
                                   current)
            connection.executemany("DELETE FROM seen WHERE key = ?", [(key,) for key in deleted])
            # Records long out of the window: their edits are the trailing reconcile's, and the table stays small.
            connection.execute("DELETE FROM seen WHERE time_ms < ?", (forget_before,))
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    # -- in the background

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="mtbridge-changes", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(30)
        self._seen.close()

    def _loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                counts = self.sweep()
                self.journal.prune()
                failures = 0
                if counts["updates"] or counts["deletes"]:
                    log.info("sweep of the last %d days: %d update(s), %d deletion(s) journaled", self.window_ms // 86_400_000,
                             counts["updates"], counts["deletes"])
            except Exception as error:  # the database is down or slow: the next sweep catches up, nothing is lost
                failures += 1
                log.warning("the changes sweep failed (%s); retrying", error.__class__.__name__)
            pause = self.every_s if failures == 0 else min(self.every_s, 5 * 2 ** min(failures, 6))
            self._stop.wait(max(0.0, pause - (time.monotonic() - started)))



class WithDatabaseChanges:
    """A report-database backend that also serves `changes` from the journal its sweep writes."""

    def __init__(self, backend, journal: ChangeJournal):
        self.backend, self.journal = backend, journal

    def __getattr__(self, name):
        return getattr(self.backend, name)

    def capabilities(self) -> list[str]:
        return self.backend.capabilities() + ["changes"]

    def changes(self, since, limit):
        return self.journal.read(since, limit)

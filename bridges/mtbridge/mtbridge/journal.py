"""The `changes` journal (bridge-protocol §4.6): the edits and deletions a source reported, numbered by a sequence
that only grows, kept durably in a local SQLite file, with the rule that decides which positions it can still answer.
Fed by the MT5 deal sink (`mt5manager`) and by the report databases' sweeps (`db_changes`)."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from dataclasses import dataclass

from .protocol import BridgeError

log = logging.getLogger("mtbridge.journal")


@dataclass
class Event:
    """What a source reported, for the journal writer: a change (`op`, `record`) or a gap (`reason`)."""

    op: str | None = None
    record: dict | None = None
    reason: str | None = None


class ChangeJournal:
    """The `changes` journal: an SQLite file (WAL, every commit synced to disk) of the edits and deletions a source
    reported (the MT5 deal sink, a report database's sweep), numbered by `seq`, which only grows, across restarts.

    The rule for `changes(since)`:
    - Every event between positions is either in the journal or the journal says it may be missing. It may be
      missing after a **gap**: a (re)connection of the Manager API (events while disconnected, or while the bridge
      was not running, are not replayed by MetaQuotes), `OnDealClean(login)` (the sink does not say which deals went),
      and a sink queue that overflowed. A gap marks every position up to the last seq journaled as **expired**.
    - **Retention** drops changes older than `retention_days` or beyond the newest `max_changes`, and expires the
      positions up to the last one dropped.
    - `since` = 0 is a client with no position yet (a first sync, or after `mtsync cursor reset --stream changes`):
      it is served from the oldest change kept; everything before came to it through `deals` and `reconcile`.
    - `since` in (expired_through, last seq] is served. Anything else — an expired position, or one this journal never
      gave (a journal restored from an older copy) — is `changes_expired`: the client reconciles by digest (§4.7)
      and starts again from 0.
    A new journal starts its numbering at the clock's milliseconds, so a position from an earlier journal file is
    always older than its first change and is answered `changes_expired`, never matched to unrelated changes."""

    def __init__(self, path: str, *, retention_days: int = 14, max_changes: int = 5_000_000, clock=lambda: int(time.time() * 1000)):
        self.path, self.retention_ms, self.max_changes, self.clock = path, retention_days * 86_400_000, max_changes, clock
        try:
            self._write = self._open()
            self._write.execute("CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY, op TEXT NOT NULL, record TEXT NOT NULL,"
                                " journaled_ms INTEGER NOT NULL)")
            self._write.execute("CREATE TABLE IF NOT EXISTS horizon (only INTEGER PRIMARY KEY CHECK (only = 1), last_seq INTEGER NOT NULL,"
                                " expired_through INTEGER NOT NULL, reason TEXT NOT NULL, at_ms INTEGER NOT NULL)")
            start = self.clock()
            self._write.execute("INSERT OR IGNORE INTO horizon VALUES (1, ?, ?, 'a new journal', ?)", (start, start, start))
        except sqlite3.Error as error:  # startup reports OSError as a configuration problem
            raise OSError(f"source.journal {path}: {error}") from None
        if os.name == "posix":
            os.chmod(path, 0o600)

    def _open(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")  # in WAL mode: the log is synced at every commit
        return connection

    def close(self) -> None:
        self._write.close()

    def append(self, events: list[Event]) -> None:
        """Journals events in the order heard, in one transaction (one fsync)."""
        now = self.clock()
        connection = self._write
        connection.execute("BEGIN IMMEDIATE")
        try:
            (last,) = connection.execute("SELECT last_seq FROM horizon").fetchone()
            for event in events:
                if event.reason is not None:
                    connection.execute("UPDATE horizon SET expired_through = ?, reason = ?, at_ms = ?", (last, event.reason, now))
                    log.info("changes up to seq %d expired: %s", last, event.reason)
                else:
                    last += 1
                    connection.execute("INSERT INTO changes VALUES (?, ?, ?, ?)", (last, event.op, json.dumps(event.record), now))
            connection.execute("UPDATE horizon SET last_seq = ?", (last,))
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    def prune(self) -> int:
        """Drops what retention no longer keeps; the positions up to the last one dropped expire. Returns how many."""
        connection = self._write
        connection.execute("BEGIN IMMEDIATE")
        try:
            (count,) = connection.execute("SELECT count(*) FROM changes").fetchone()
            by_age = connection.execute("SELECT max(seq) FROM changes WHERE journaled_ms < ?", (self.clock() - self.retention_ms,)).fetchone()[0]
            by_count = None
            if count > self.max_changes:
                by_count = connection.execute("SELECT seq FROM changes ORDER BY seq LIMIT 1 OFFSET ?", (count - self.max_changes - 1,)).fetchone()[0]
            through = max((s for s in (by_age, by_count) if s is not None), default=None)
            dropped = 0
            if through is not None:
                dropped = connection.execute("DELETE FROM changes WHERE seq <= ?", (through,)).rowcount
                # A client at `through` itself read every change dropped, and the next one is kept.
                connection.execute("UPDATE horizon SET reason = CASE WHEN expired_through < ? THEN 'older changes are past the journal''s "
                                   "retention' ELSE reason END, expired_through = max(expired_through, ?), at_ms = ?",
                                   (through - 1, through - 1, self.clock()))
            connection.execute("COMMIT")
            return dropped
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    def read(self, since: int, limit: int) -> list[dict]:
        connection = self._open()
        try:
            connection.execute("BEGIN")  # the horizon and the rows from one snapshot
            last, expired_through, reason = connection.execute("SELECT last_seq, expired_through, reason FROM horizon").fetchone()
            if since != 0 and not expired_through < since <= last:
                raise BridgeError("changes_expired", f"changes after seq {since} are not all kept here ({reason}; this journal answers "
                                                     f"from seq {expired_through}); reconcile, then follow changes from 0")
            rows = connection.execute("SELECT seq, op, record FROM changes WHERE seq > ? ORDER BY seq LIMIT ?",
                                      (max(since, expired_through), limit)).fetchall()
            connection.execute("COMMIT")
        finally:
            connection.close()
        return [{"seq": seq, "op": op, "record": json.loads(record)} for seq, op, record in rows]

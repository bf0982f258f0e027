"""A small pool of MySQL/MariaDB connections for the report-database backends (PyMySQL, pure Python).

Backend calls run in worker threads, one per request being served, and a PyMySQL connection is not
thread-safe: each call borrows a connection of its own. A connection that failed is dropped, never reused.
"""

from __future__ import annotations

import queue
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta
from urllib.parse import unquote, urlsplit

# Report databases keep MT server times in DATETIME columns: the server's wall clock, read as if it were UTC.
EPOCH = datetime(1970, 1, 1)


def to_datetime(milliseconds: int) -> datetime:
    return EPOCH + timedelta(milliseconds=milliseconds)


def to_milliseconds(value: datetime) -> int:
    return (value - EPOCH) // timedelta(milliseconds=1)


def day_closed_by(made_at_seconds: int) -> str:
    """The server day a daily record made at `made_at_seconds` closes: the date of the second before it, so a
    record made at midnight closes the day before (MT4 and MT5 make them at the day's rollover)."""
    return (EPOCH + timedelta(seconds=made_at_seconds - 1)).date().isoformat()


def parse_url(url: str) -> dict:
    """mysql://user:password@host:port/database as PyMySQL's keyword arguments."""
    parts = urlsplit(url)
    if parts.scheme not in ("mysql", "mariadb") or not parts.hostname or not parts.path.strip("/"):
        raise ValueError("the database URL must look like mysql://user:password@host:port/database")
    return {"host": parts.hostname, "port": parts.port or 3306, "user": unquote(parts.username or ""),
            "password": unquote(parts.password or ""), "database": unquote(parts.path.strip("/"))}


class Pool:
    def __init__(self, url: str, size: int = 4, connect_timeout: float = 10, read_timeout: float = 300):
        import pymysql  # imported here: the JSON-lines source needs no driver
        self._pymysql = pymysql
        self._arguments = dict(parse_url(url), connect_timeout=connect_timeout, read_timeout=read_timeout, write_timeout=60,
                               charset="utf8mb4", autocommit=True)
        self._idle: queue.LifoQueue = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)

    def _connect(self):
        connection = self._pymysql.connect(**self._arguments)
        with connection.cursor() as cursor:
            # Times are DATETIME columns holding the MT server's wall clock: the session zone must not shift anything.
            cursor.execute("SET SESSION time_zone = '+00:00'")
            cursor.execute("SET SESSION TRANSACTION READ ONLY")
        return connection

    @contextmanager
    def connection(self):
        with self._slots:
            try:
                connection = self._idle.get_nowait()
            except queue.Empty:
                connection = self._connect()
            try:
                yield connection
            except BaseException:
                connection.close()
                raise
            self._idle.put(connection)

    def query(self, sql: str, arguments=()) -> list[tuple]:
        with self.connection() as connection, connection.cursor() as cursor:
            cursor.execute(sql, arguments)
            return list(cursor.fetchall())

    def stream(self, sql: str, arguments=()):
        """Rows one by one from an unbuffered cursor: a digest over millions of deals holds none of them."""
        with self.connection() as connection, connection.cursor(self._pymysql.cursors.SSCursor) as cursor:
            cursor.execute(sql, arguments)
            for row in cursor:
                yield row

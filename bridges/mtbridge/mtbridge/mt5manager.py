"""The MT5 Manager API, through MetaQuotes' Python package `MT5Manager` (Windows), as a source (bridge-sources.md §5).

Only `ManagerSession` calls the package; it is handed the module object (production: `import MT5Manager`, loaded by
`load_package` only when this source kind is configured; tests: `tests/mt5manager_standin.py`), so everything else
runs and is tested on Linux. The package's methods never raise: they return False or None, and
`MT5Manager.LastError()` says why as (code, retcode, text). The session turns that into §3's errors: retcode 12
(`MT_RET_ERR_FREQUENT`, the server's anti-flood protection) is retried after short pauses, then is `rate_limited`;
a lost connection reconnects once, then is `mt_unavailable`. No message ever holds the password.

Reads:
- `deals` and `digest`: `DealRequestByGroup(mask, from_s, to_s)` per time window; MetaQuotes' `to` is inclusive
  seconds, so each window is asked as [floor(from_ms/1000), ceil(to_ms/1000)] and kept to its half-open
  milliseconds (§8), sorted by (TimeMsc, Deal) and paged by `DealWindows` (deal_windows.py).
- `accounts`: `UserLogins(mask)` + `UserRequestByLogins`, the group's currency by `GroupGet` (pumped groups).
- `symbols`: `SymbolTotal` + `SymbolNext` (pumped symbols). `daily`: `DailyRequestByGroup`, one server day at a time.
- `server.info`: the offset and DST state from `TimeGet` (pumped time config), the live clock from
  `TimeServerRequest`: what the server says, so `mtsync bridge check` sees a configured rule that does not fit.

`changes` comes from the deal sink (`DealSubscribe`) through a durable local journal; see `ChangeJournal` for the
rule that decides when a position is too old (`changes_expired`).
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import sys
import threading
import time
from datetime import date, datetime, timedelta

from . import records, zones
from .deal_windows import DealWindows, Expiring
from .journal import ChangeJournal, Event
from .protocol import BridgeError

log = logging.getLogger("mtbridge.mt5manager")

# EnMTAPIRetcode (MT5APIConstants.h)
MT_RET_OK_NONE = 1
MT_RET_ERR_PERMISSIONS = 8
MT_RET_ERR_FREQUENT = 12
MT_RET_ERR_NOTFOUND = 13
CONNECTION_LOST = {7, 9, 10, 11, 15}  # network, timeout, no connection, no service, server shutting down
RETCODE_NAMES = {2: "common error", 3: "invalid parameters", 7: "network error", 8: "not enough permissions", 9: "timeout",
                 10: "no connection", 11: "service not available", 12: "too frequent requests", 13: "not found",
                 15: "server shutting down", 1001: "invalid account", 1002: "account disabled"}

# The deal sink needs ORDERS and POSITIONS (there is no deal pump); GroupGet, SymbolNext and TimeGet read the
# pumped GROUPS, SYMBOLS and TIME configuration, so they cost the server no request each.
DEFAULT_PUMP_MODES = ("ORDERS", "POSITIONS", "GROUPS", "SYMBOLS", "TIME")
NOT_FOUND = object()

INTEGER_FIELDS = ("Deal", "Login", "Order", "PositionID", "Time", "TimeMsc", "Volume", "VolumeExt", "VolumeClosed", "VolumeClosedExt")
SMALL_FIELDS = ("Action", "Entry", "Reason", "Digits", "DigitsCurrency")
MONEY_FIELDS = ("Price", "Profit", "Storage", "Commission", "Fee", "ContractSize")
TEXT_FIELDS = ("Symbol", "Comment", "ExternalID")


def load_package():
    """`import MT5Manager`, only when this source kind is configured; ImportError saying what to do otherwise."""
    try:
        import MT5Manager  # noqa: N813 — MetaQuotes' name
    except ImportError:
        if sys.platform != "win32":
            raise ImportError('source.kind "mt5-manager" runs on Windows only: MetaQuotes\' MT5Manager package has no build '
                              'for this system. On Linux, read the MT5 SQL export or the Web API instead') from None
        raise ImportError('source.kind "mt5-manager" needs MetaQuotes\' package: pip install MT5Manager '
                          '(64-bit Python on Windows)') from None
    return MT5Manager


def _field(thing, name: str):
    """An attribute of a package object (a property in the Python package; called if a binding makes it a method)."""
    value = getattr(thing, name, None)
    return value() if callable(value) else value


def deal_record(deal) -> dict:
    """An IMTDeal as §4.2's record: 64-bit numbers as strings, doubles as the shortest text that reads back the same."""
    record = {}
    for name in INTEGER_FIELDS:
        record[name] = str(records.to_int(_field(deal, name)))
    for name in SMALL_FIELDS:
        record[name] = records.to_int(_field(deal, name))
    for name in MONEY_FIELDS:
        record[name] = records.canonical_decimal(_field(deal, name))
    for name in TEXT_FIELDS:
        value = _field(deal, name)
        record[name] = "" if value is None else str(value)
    return record


# -- the one place that calls the package


class ManagerSession:
    """One Manager API connection, serialized by a lock. `on_gap(reason)` is told whenever deal events may have
    been missed: before each (re)connect and when the connection is found lost."""

    def __init__(self, package, server: str, login: int, password: str, *, pump_modes=DEFAULT_PUMP_MODES, timeout_ms: int = 30_000,
                 retry_pauses=(0.5, 1.5, 4.0), on_gap=None):
        self._package, self._server, self._login, self._password = package, server, int(login), password
        self._timeout_ms, self._retry_pauses = timeout_ms, tuple(retry_pauses)
        modes = package.ManagerAPI.EnPumpModes
        unknown = [m for m in pump_modes if not hasattr(modes, f"PUMP_MODE_{m}")]
        if unknown:
            raise ValueError(f"source.pump_modes: unknown pump mode(s) {', '.join(unknown)}")
        self._pump = 0
        for mode in pump_modes:
            self._pump |= int(getattr(modes, f"PUMP_MODE_{mode}"))
        self._api = package.ManagerAPI()
        self._lock = threading.RLock()
        self._connected = False
        self._deal_sink = None
        self._connection_sink = None
        self.on_gap = on_gap or (lambda reason: None)

    # -- connection

    def subscribe_deals(self, deal_sink, connection_sink=None) -> None:
        """Deal events go to `deal_sink` (before Connect, so the sink also gets `OnDealSync`); `connection_sink`
        gets `OnConnect`/`OnDisconnect` where the package offers `Subscribe`."""
        with self._lock:
            self._deal_sink, self._connection_sink = deal_sink, connection_sink

    def _connect(self) -> None:
        if self._deal_sink is not None:
            self._api.DealSubscribe(self._deal_sink)  # a second subscription of the same sink is refused harmlessly
        if self._connection_sink is not None and hasattr(self._api, "Subscribe"):
            self._api.Subscribe(self._connection_sink)
        # Whatever happened at the server before this point was not heard: say so before events can arrive.
        self.on_gap("the Manager API connection was (re)opened: deal events before it were not received")
        if not self._api.Connect(self._server, self._login, self._password, self._pump, self._timeout_ms):
            raise self._error("Connect")
        self._connected = True

    def ensure_connected(self) -> None:
        with self._lock:
            if not self._connected:
                self._connect()

    def lost(self, reason: str) -> None:
        """The connection is gone (a sink said so, or a call failed): the next call connects again."""
        with self._lock:
            if self._connected:
                self._connected = False
                try:
                    self._api.Disconnect()
                except Exception:
                    pass
            self.on_gap(reason)

    def close(self) -> None:
        with self._lock:
            if self._connected:
                self._connected = False
                self._api.Disconnect()

    def _last_error(self) -> int:
        try:
            answer = self._package.LastError()
            return int(answer[1])
        except Exception:  # an unexpected shape: treat as an unknown failure
            return -1

    def _error(self, call: str) -> BridgeError:
        """§3's error for the package's last failure. Only the retcode is named: the package's text is not ours to
        forward and could echo what it was given."""
        code = self._last_error()
        if code == MT_RET_ERR_FREQUENT:
            return BridgeError("rate_limited", f"the MT5 server's anti-flood protection refused {call} (retcode 12); retry later")
        name = RETCODE_NAMES.get(code, "see MetaQuotes' return codes")
        hint = {1001: ": check source.login and the password file", 8: ": grant RIGHT_MANAGER, RIGHT_ACC_READ, RIGHT_TRADES_READ"}.get(code, "")
        return BridgeError("mt_unavailable", f"the Manager API's {call} failed (retcode {code}, {name}){hint}")

    def call(self, name: str, *arguments, empty=None):
        """`ManagerAPI.<name>(*arguments)`, connected; `empty` is the answer when the server says there is no data."""
        with self._lock:
            pauses = (0.0,) + self._retry_pauses
            for attempt, pause in enumerate(pauses):
                last = attempt == len(pauses) - 1
                time.sleep(pause)
                if not self._connected:
                    self._connect()
                result = getattr(self._api, name)(*arguments)
                if result is not None and result is not False:
                    return result
                code = self._last_error()
                if code in (MT_RET_OK_NONE, MT_RET_ERR_NOTFOUND) and empty is not None:
                    return empty
                if code == MT_RET_ERR_FREQUENT and not last:
                    continue
                if code in CONNECTION_LOST and not last:
                    self.lost(f"the Manager API connection was lost during {name} (retcode {code})")
                    continue
                if code in CONNECTION_LOST:
                    self.lost(f"the Manager API connection was lost during {name} (retcode {code})")
                raise self._error(name)
        raise AssertionError("unreachable")

    # -- the calls the bridge makes

    def deals_by_group(self, mask: str, from_s: int, to_s: int) -> list:
        """Deals with from_s <= Time <= to_s (seconds, server time, `to` inclusive) of accounts in the groups."""
        return list(self.call("DealRequestByGroup", mask, int(from_s), int(to_s), empty=[]))

    def user_logins(self, mask: str) -> list[int]:
        return [int(login) for login in self.call("UserLogins", mask, empty=[])]

    def users_by_logins(self, logins: list[int]) -> list:
        return list(self.call("UserRequestByLogins", list(logins), empty=[]))

    def group(self, name: str):
        """The group's configuration from the pumped cache; None when the server has no such group."""
        found = self.call("GroupGet", name, empty=NOT_FOUND)
        return None if found is NOT_FOUND else found

    def symbols(self) -> list:
        total = int(self.call("SymbolTotal", empty=0) or 0)
        return [self.call("SymbolNext", index) for index in range(total)]

    def time_config(self):
        return self.call("TimeGet")

    def server_clock_ms(self) -> int:
        answer = self.call("TimeServerRequest")
        if isinstance(answer, datetime):  # a build that answers a naive server-time datetime
            return int((answer - datetime(1970, 1, 1)).total_seconds() * 1000)
        return records.to_int(answer)

    def daily_by_group(self, mask: str, from_s: int, to_s: int) -> list:
        return list(self.call("DailyRequestByGroup", mask, int(from_s), int(to_s), empty=[]))


# -- the journal of changes


class DealEvents:
    """The deal sink. It runs on the package's network thread, where MetaQuotes forbid requests: it copies the deal
    (the object is only valid during the callback) and queues it, never waiting. A full queue drops the event and
    marks a gap, so a stuck journal costs a reconcile, not the Manager API connection."""

    def __init__(self, events: "queue.Queue[Event]", overflowed: threading.Event):
        self._events, self._overflowed = events, overflowed

    def _put(self, event: Event) -> None:
        try:
            self._events.put_nowait(event)
        except queue.Full:
            self._overflowed.set()

    def OnDealAdd(self, deal) -> None:  # noqa: N802 — MetaQuotes' callback names
        pass  # additions are not changes (§4.6): mtsync reads them through `deals`

    def OnDealUpdate(self, deal) -> None:  # noqa: N802
        self._put(Event(op="update", record=deal_record(deal)))

    def OnDealDelete(self, deal) -> None:  # noqa: N802
        self._put(Event(op="delete", record={"Deal": str(records.to_int(_field(deal, "Deal")))}))

    def OnDealClean(self, login) -> None:  # noqa: N802
        # Every deal of the login was removed, and the sink does not say which: only a reconcile can tell.
        self._put(Event(reason=f"the deals of login {records.to_int(login)} were cleaned at the server"))

    def OnDealSync(self) -> None:  # noqa: N802
        pass


class ConnectionEvents:
    """The manager sink (`OnConnect`/`OnDisconnect`): a disconnection is a gap, whether or not a call noticed it."""

    def __init__(self, on_disconnect):
        self._on_disconnect = on_disconnect

    def OnConnect(self) -> None:  # noqa: N802
        pass

    def OnDisconnect(self) -> None:  # noqa: N802
        self._on_disconnect()


# -- the backend


class MT5Manager:
    """The `mt5-manager` source: reads through a `ManagerSession`, journals the deal sink into a `ChangeJournal`."""

    platform = "mt5"

    def __init__(self, server_id: str, time_zone: str, session: ManagerSession, journal: ChangeJournal, *, group_mask: str = "*",
                 window_ms: int = 3_600_000, probe_every_s: float = 30.0, prune_every_s: float = 3600.0, queue_size: int = 100_000):
        self.server_id, self.time_zone, self.session, self.journal = server_id, time_zone, session, journal
        self.group_mask, self.window_ms = group_mask, window_ms
        self._events: queue.Queue[Event] = queue.Queue(maxsize=queue_size)
        self._overflowed = threading.Event()
        self._stop = threading.Event()
        self.windows = DealWindows(self._read, window_ms)
        self._day: tuple[str, list[dict]] | None = None
        self._cache_lock = threading.Lock()
        self.currencies = Expiring(600)  # a dealer's change of a group's currency reaches the accounts within 10 minutes
        self._logins: tuple[float, list[int]] | None = None
        session.on_gap = lambda reason: self._put(Event(reason=reason))
        session.subscribe_deals(DealEvents(self._events, self._overflowed),
                                ConnectionEvents(lambda: self._put(Event(reason="the Manager API reported a disconnection"))))
        self._threads = [threading.Thread(target=self._journal_loop, args=(prune_every_s,), name="mt5manager-journal", daemon=True),
                         threading.Thread(target=self._watch_loop, args=(probe_every_s,), name="mt5manager-watch", daemon=True)]
        for thread in self._threads:
            thread.start()

    def _put(self, event: Event) -> None:
        try:
            self._events.put_nowait(event)
        except queue.Full:
            self._overflowed.set()

    def close(self) -> None:
        """Stops listening, journals what was heard, and disconnects."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self.session.close()
        self.journal.close()

    def _journal_loop(self, prune_every_s: float) -> None:
        last_prune = 0.0
        while True:
            stopping = self._stop.is_set()
            try:
                batch = [self._events.get(timeout=0.05 if stopping else 0.5)]
            except queue.Empty:
                batch = []
            while batch and len(batch) < 1000:
                try:
                    batch.append(self._events.get_nowait())
                except queue.Empty:
                    break
            if self._overflowed.is_set():
                self._overflowed.clear()
                batch.append(Event(reason="the sink's queue overflowed: deal events were dropped"))
            try:
                if batch:
                    self.journal.append(batch)
                if time.monotonic() - last_prune >= prune_every_s:
                    self.journal.prune()
                    last_prune = time.monotonic()
            except sqlite3.Error as error:  # the disk: the events are lost, so their positions must expire
                log.error("the changes journal could not be written: %s", error)
                self._overflowed.set()
                time.sleep(1)
            if stopping and not batch:
                return

    def _watch_loop(self, every_s: float) -> None:
        """Keeps the connection (so the sink listens) and notices a silent loss by asking the server's clock. After a
        failure it waits longer each time (up to 5 minutes): a refused login is not tried every few seconds."""
        wait = every_s
        while not self._stop.is_set():
            try:
                self.session.ensure_connected()
                self.session.server_clock_ms()
                wait = every_s
            except Exception as error:
                log.warning("the Manager API: %s", error.message if isinstance(error, BridgeError) else error.__class__.__name__)
                wait = min(max(wait * 2, every_s), 300.0)
            self._stop.wait(wait)

    def capabilities(self) -> list[str]:
        return ["accounts", "symbols", "digest", "changes", "daily"]

    def server_info(self) -> dict:
        config = self.session.time_config()
        source = zones.SourceTime.from_mt5_time("TimeGet", records.to_int(_field(config, "TimeZone")), bool(_field(config, "DaylightState")),
                                                server_clock_ms=self.session.server_clock_ms())
        return zones.server_info_times(self.time_zone, source=source)

    # -- deals

    def _read(self, from_s: int, to_s: int) -> list[dict]:
        return [deal_record(deal) for deal in self.session.deals_by_group(self.group_mask, from_s, to_s)]

    def deals(self, from_ms, to_ms, after, limit):
        return self.windows.deals(from_ms, to_ms, after, limit)

    def history(self, from_ms, to_ms):
        return self.windows.history(from_ms, to_ms)

    # -- accounts, symbols

    def _currency(self, group: str) -> str | None:
        def load():
            found = self.session.group(group)
            return (_field(found, "Currency") or "") if found is not None else ""
        return self.currencies.get(group, load) or None

    def _all_logins(self) -> list[int]:
        """Every login of the mask, asked again at most every 30 s: one listing serves a whole paging through."""
        with self._cache_lock:
            if self._logins and time.monotonic() - self._logins[0] < 30:
                return self._logins[1]
        logins = sorted(self.session.user_logins(self.group_mask))
        with self._cache_lock:
            self._logins = (time.monotonic(), logins)
        return logins

    def accounts(self, after, limit):
        chosen = [login for login in self._all_logins() if after is None or login > after][:limit]
        if not chosen:
            return []
        users = {records.to_int(_field(u, "Login")): u for u in self.session.users_by_logins(chosen)}
        accounts = []
        for login in chosen:
            user = users.get(login)
            if user is None:  # deleted or archived since the listing
                continue
            group = str(_field(user, "Group"))
            account = {"login": str(login), "group": group, "leverage": records.to_int(_field(user, "Leverage")),
                       "balance": records.canonical_decimal(_field(user, "Balance")), "credit": records.canonical_decimal(_field(user, "Credit"))}
            currency = self._currency(group)
            if currency:  # a group the manager cannot see has no currency: mtsync holds the login's deals rather than guess
                account["currency"] = currency
            client_id = records.to_int(_field(user, "ClientID"))
            if client_id:
                account["client_id"] = str(client_id)
            accounts.append(account)
        return accounts

    def symbols(self, after, limit):
        found = sorted(self.session.symbols(), key=lambda s: str(_field(s, "Symbol")).encode("utf-8"))
        chosen = [s for s in found if after is None or str(_field(s, "Symbol")).encode("utf-8") > after.encode("utf-8")][:limit]
        return [{"symbol": str(_field(s, "Symbol")), "path": str(_field(s, "Path") or ""), "base_currency": _field(s, "CurrencyBase"),
                 "profit_currency": _field(s, "CurrencyProfit"), "margin_currency": _field(s, "CurrencyMargin") or _field(s, "CurrencyBase"),
                 "contract_size": records.canonical_decimal(_field(s, "ContractSize")), "digits": records.to_int(_field(s, "Digits")),
                 "calc_mode": records.to_int(_field(s, "CalcMode"))} for s in chosen]

    # -- daily

    def _read_day(self, day: str) -> list[dict]:
        """One server day's records, by login. A record is made at the day's close (`Datetime`, server seconds), so
        the day it closes is the date of the second before it, as in the SQL export."""
        with self._cache_lock:
            if self._day and self._day[0] == day:
                return self._day[1]
        start_s = (date.fromisoformat(day) - date(1970, 1, 1)).days * 86_400
        found = []
        for daily in self.session.daily_by_group(self.group_mask, start_s + 1, start_s + 86_400):
            made = records.to_int(_field(daily, "Datetime"))
            if not start_s < made <= start_s + 86_400:
                continue
            record = {"login": str(records.to_int(_field(daily, "Login"))), "day": day, "time_ms": made * 1000,
                      "balance": records.canonical_decimal(_field(daily, "Balance")), "credit": records.canonical_decimal(_field(daily, "Credit")),
                      "equity": records.canonical_decimal(_field(daily, "ProfitEquity")), "profit": records.canonical_decimal(_field(daily, "Profit")),
                      "balance_prev": records.canonical_decimal(_field(daily, "BalancePrevDay"))}
            if _field(daily, "Currency"):
                record["currency"] = str(_field(daily, "Currency"))
            found.append(record)
        found.sort(key=lambda r: int(r["login"]))
        with self._cache_lock:
            self._day = (day, found)
        return found

    def daily(self, from_ms, to_ms, after, limit):
        first = date(1970, 1, 1) + timedelta(days=-(-from_ms // 86_400_000))
        if after is not None:
            first = max(first, date.fromisoformat(after[0]))
        page, day = [], first
        while (day - date(1970, 1, 1)).days * 86_400_000 < to_ms:
            for record in self._read_day(day.isoformat()):
                if after is None or (record["day"], int(record["login"])) > after:
                    page.append(record)
                    if len(page) == limit:
                        return page
            day += timedelta(days=1)
        return page

    # -- changes

    def changes(self, since, limit):
        return self.journal.read(since, limit)

    def open_trades(self, *args):
        raise NotImplementedError("MT5 serves deals")

    closed_trades = open_trades

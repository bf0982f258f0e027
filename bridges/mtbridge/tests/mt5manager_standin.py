"""A stand-in for MetaQuotes' `MT5Manager` package (Windows only), for the tests: the module's call surface as the
bridge uses it, written from MetaQuotes' documentation and public uses of the package (bridge-sources.md §5).

As the real package: `ManagerAPI()` objects whose methods never raise but return False or None, with the reason in
the module's `LastError()` as (code, retcode, text); records as objects with IMTDeal/IMTUser attribute names,
integers as ints and money as binary doubles; `DealRequestByGroup`/`DailyRequestByGroup` take seconds with `to`
inclusive; `GroupGet`, `SymbolNext` and `TimeGet` read the pumped configuration, so they find nothing without the
GROUPS, SYMBOLS and TIME pump modes; deal sinks are plain objects whose `OnDeal*` methods are called on another
thread (the package's network thread). `server` is the one trade server every `ManagerAPI` of the process talks
to: tests load it with a dataset, change deals (the sinks hear it only while connected: events are not replayed),
drop connections, and make it answer `12 Too frequent requests`.

`python3 -m mtbridge` loads it as `MT5Manager` through a one-line module on PYTHONPATH (see `shim_folder`), the
dataset from the JSON file named by $MT5MANAGER_STANDIN_DATASET.
"""

from __future__ import annotations

import fnmatch
import json
import pathlib
import tempfile
import threading
import time

MT_RET_OK, MT_RET_ERR_PARAMS, MT_RET_ERR_NETWORK, MT_RET_ERR_CONNECTION = 0, 3, 7, 10
MT_RET_ERR_FREQUENT, MT_RET_ERR_NOTFOUND, MT_RET_AUTH_ACCOUNT_INVALID = 12, 13, 1001

DEAL_INTEGERS = ("Deal", "Login", "Order", "PositionID", "Action", "Entry", "Reason", "Time", "TimeMsc", "Volume", "VolumeExt",
                 "VolumeClosed", "VolumeClosedExt", "Digits", "DigitsCurrency")
DEAL_DOUBLES = ("Price", "Profit", "Storage", "Commission", "Fee", "ContractSize")


class EnPumpModes:
    PUMP_MODE_USERS = 0x1
    PUMP_MODE_ACTIVITY = 0x2
    PUMP_MODE_MAIL = 0x4
    PUMP_MODE_ORDERS = 0x8
    PUMP_MODE_NEWS = 0x20
    PUMP_MODE_POSITIONS = 0x80
    PUMP_MODE_GROUPS = 0x100
    PUMP_MODE_SYMBOLS = 0x200
    PUMP_MODE_HOLIDAYS = 0x800
    PUMP_MODE_TIME = 0x1000
    PUMP_MODE_FULL = 0xFFFFFFFF


class Record:
    def __init__(self, **fields):
        self.__dict__.update(fields)

    def __repr__(self):
        return f"{type(self).__name__}({self.__dict__})"


class MTDeal(Record):
    pass


class MTUser(Record):
    pass


class MTConGroup(Record):
    pass


class MTConSymbol(Record):
    pass


class MTConTime(Record):
    pass


class MTDaily(Record):
    pass


_calling = threading.local()


def LastError():  # noqa: N802 — the package's name
    return getattr(_calling, "error", (0, MT_RET_OK, "Done"))


def _fail(retcode: int, text: str):
    _calling.error = (1, retcode, text)
    return False


def deal(fields: dict) -> MTDeal:
    """A deal record (strings, as the protocol sends them) as the package gives it: ints and doubles."""
    values = {name: int(fields.get(name) or 0) for name in DEAL_INTEGERS}
    values.update({name: float(fields.get(name) or 0) for name in DEAL_DOUBLES})
    values.update(Symbol=fields.get("Symbol", ""), Comment=fields.get("Comment", ""), ExternalID=fields.get("ExternalID", ""))
    return MTDeal(**values)


class TradeServer:
    def __init__(self):
        self.lock = threading.Lock()
        self.login, self.password = 1000, "Manager-Pass-1"
        self.deals: dict[int, MTDeal] = {}
        self.users: dict[int, MTUser] = {}
        self.groups: dict[str, MTConGroup] = {}
        self.symbols: list[MTConSymbol] = []
        self.daily: list[MTDaily] = []
        self.time_zone_minutes, self.daylight = 0, False
        self.clock_offset_ms = 0  # the server clock is UTC plus this
        self.rate_limit_every = 0
        self.calls = 0
        self.connects = 0
        self.requests: list[tuple] = []
        self.sessions: list["ManagerAPI"] = []
        self.events_on_connect: list[dict] = []

    def load(self, *, deals=(), users=(), groups=None, symbols=(), daily=(), time_zone_minutes=0, daylight=False, clock_offset_ms=None):
        with self.lock:
            self.deals = {d.Deal: d for d in map(deal, deals)}
            self.users = {int(u["Login"]): MTUser(Login=int(u["Login"]), Group=u["Group"], Leverage=int(u["Leverage"]), Balance=float(u.get("Balance", 0)),
                                                  Credit=float(u.get("Credit", 0)), ClientID=int(u.get("ClientID", 0)), Name="", Email="")
                          for u in users}
            self.groups = {name: MTConGroup(Group=name, Currency=currency) for name, currency in (groups or {}).items()}
            self.symbols = [MTConSymbol(Symbol=s["Symbol"], Path=s.get("Path", ""), CurrencyBase=s["CurrencyBase"], CurrencyProfit=s["CurrencyProfit"],
                                        CurrencyMargin=s.get("CurrencyMargin", s["CurrencyBase"]), ContractSize=float(s["ContractSize"]),
                                        Digits=int(s["Digits"]), CalcMode=int(s.get("CalcMode", 0))) for s in symbols]
            self.daily = [MTDaily(Login=int(d["Login"]), Datetime=int(d["Datetime"]), Currency=d.get("Currency", ""), Balance=float(d["Balance"]),
                                  Credit=float(d["Credit"]), ProfitEquity=float(d["ProfitEquity"]), Profit=float(d.get("Profit", 0)),
                                  BalancePrevDay=float(d.get("BalancePrevDay", 0))) for d in daily]
            self.time_zone_minutes, self.daylight = int(time_zone_minutes), bool(daylight)
            self.clock_offset_ms = (self.time_zone_minutes + 60 * self.daylight) * 60_000 if clock_offset_ms is None else clock_offset_ms

    def load_file(self, path: str) -> None:
        data = json.loads(pathlib.Path(path).read_text())
        self.login, self.password = int(data.get("login", self.login)), data.get("password", self.password)
        self.events_on_connect = data.get("events_on_connect", [])
        self.load(deals=data.get("deals", ()), users=data.get("users", ()), groups=data.get("groups"), symbols=data.get("symbols", ()),
                  daily=data.get("daily", ()), time_zone_minutes=data.get("time_zone_minutes", 0), daylight=data.get("daylight", False))

    # -- what happens at the server, heard by the sinks of the connected sessions only

    def _fire(self, callback: str, *arguments) -> None:
        """Calls every connected session's deal sinks on another thread (the network thread), and waits for it."""
        with self.lock:
            sinks = [sink for session in self.sessions if session.connected for sink in session.deal_sinks]
        thread = threading.Thread(target=lambda: [getattr(sink, callback)(*arguments) for sink in sinks], name="mt5manager-network")
        thread.start()
        thread.join()

    def update_deal(self, ticket: int, **changes) -> MTDeal:
        with self.lock:
            edited = MTDeal(**{**self.deals[ticket].__dict__, **changes})
            self.deals[ticket] = edited
        self._fire("OnDealUpdate", edited)
        return edited

    def delete_deal(self, ticket: int) -> None:
        with self.lock:
            gone = self.deals.pop(ticket)
        self._fire("OnDealDelete", gone)

    def clean(self, login: int) -> None:
        with self.lock:
            self.deals = {t: d for t, d in self.deals.items() if d.Login != login}
        self._fire("OnDealClean", login)

    def drop_connections(self) -> None:
        """The network fails: every session is disconnected (its calls fail until it connects again)."""
        with self.lock:
            dropped = [s for s in self.sessions if s.connected]
            for session in dropped:
                session.connected = False
        for session in dropped:
            for sink in session.manager_sinks:
                threading.Thread(target=sink.OnDisconnect, name="mt5manager-network").start()

    def _play_events_on_connect(self) -> None:
        for event in self.events_on_connect:
            time.sleep(float(event.get("after_s", 0.2)))
            if event["op"] == "update":
                self.update_deal(int(event["Deal"]), **event.get("changes", {}))
            elif event["op"] == "delete":
                self.delete_deal(int(event["Deal"]))


server = TradeServer()


class ManagerAPI:
    EnPumpModes = EnPumpModes

    def __init__(self, *folder):
        self.connected = False
        self.pump_mode = 0
        self.deal_sinks: list = []
        self.manager_sinks: list = []
        with server.lock:
            server.sessions.append(self)

    def Subscribe(self, sink):  # noqa: N802
        if sink not in self.manager_sinks:
            self.manager_sinks.append(sink)
        return True

    def DealSubscribe(self, sink):  # noqa: N802
        if sink in self.deal_sinks:
            return _fail(17, "Duplicate data")
        self.deal_sinks.append(sink)
        return True

    def Connect(self, address, login, password, pump_mode, timeout):  # noqa: N802
        if not isinstance(address, str) or not isinstance(login, int) or not isinstance(password, str) or not isinstance(pump_mode, int):
            return _fail(MT_RET_ERR_PARAMS, "Invalid parameters")
        if login != server.login or password != server.password:
            return _fail(MT_RET_AUTH_ACCOUNT_INVALID, "Invalid account")
        with server.lock:
            self.connected, self.pump_mode = True, pump_mode
            server.connects += 1
            first = server.connects == 1
        if first and server.events_on_connect and self.deal_sinks:
            threading.Thread(target=server._play_events_on_connect, daemon=True).start()
        return True

    def Disconnect(self):  # noqa: N802
        self.connected = False

    def _request(self, name: str, *arguments) -> bool:
        """The checks every call makes: a connection, and the server's anti-flood protection."""
        if not self.connected:
            return _fail(MT_RET_ERR_CONNECTION, "No connection")
        with server.lock:
            server.calls += 1
            server.requests.append((name, *arguments))
            limited = server.rate_limit_every and server.calls % server.rate_limit_every == 0
        if limited:
            return _fail(MT_RET_ERR_FREQUENT, "Too frequent requests")
        _calling.error = (0, MT_RET_OK, "Done")
        return True

    def _pumped(self, mode: int) -> bool:
        return bool(self.pump_mode & mode)

    @staticmethod
    def _in_groups(mask: str, group: str) -> bool:
        return any(fnmatch.fnmatchcase(group, part) for part in mask.split(","))

    def DealRequestByGroup(self, mask, start, end):  # noqa: N802
        if not self._request("DealRequestByGroup", mask, start, end):
            return False
        if not (isinstance(start, int) and isinstance(end, int)):
            return _fail(MT_RET_ERR_PARAMS, "Invalid parameters")
        with server.lock:
            logins = {login for login, user in server.users.items() if self._in_groups(mask, user.Group)}
            return [MTDeal(**d.__dict__) for d in server.deals.values() if d.Login in logins and start <= d.Time <= end]  # `to` inclusive

    def UserLogins(self, mask):  # noqa: N802
        if not self._request("UserLogins", mask):
            return False
        with server.lock:
            return [login for login, user in server.users.items() if self._in_groups(mask, user.Group)]

    def UserRequestByLogins(self, logins):  # noqa: N802
        if not self._request("UserRequestByLogins", tuple(logins)):
            return False
        with server.lock:
            return [MTUser(**server.users[login].__dict__) for login in logins if login in server.users]

    def GroupGet(self, name):  # noqa: N802
        if not self._request("GroupGet", name):
            return False
        if not self._pumped(EnPumpModes.PUMP_MODE_GROUPS) or name not in server.groups:
            return _fail(MT_RET_ERR_NOTFOUND, "Not found")
        return server.groups[name]

    def SymbolTotal(self):  # noqa: N802
        return len(server.symbols) if self.connected and self._pumped(EnPumpModes.PUMP_MODE_SYMBOLS) else 0

    def SymbolNext(self, index):  # noqa: N802
        if not self._request("SymbolNext", index):
            return False
        if not self._pumped(EnPumpModes.PUMP_MODE_SYMBOLS) or not 0 <= index < len(server.symbols):
            return _fail(MT_RET_ERR_NOTFOUND, "Not found")
        return server.symbols[index]

    def TimeGet(self):  # noqa: N802
        if not self._request("TimeGet"):
            return None
        if not self._pumped(EnPumpModes.PUMP_MODE_TIME):
            _fail(MT_RET_ERR_NOTFOUND, "Not found")
            return None
        return MTConTime(TimeZone=server.time_zone_minutes, DaylightState=int(server.daylight), Daylight=1)

    def TimeServerRequest(self):  # noqa: N802
        if not self._request("TimeServerRequest"):
            return False
        return int(time.time() * 1000) + server.clock_offset_ms

    def DailyRequestByGroup(self, mask, start, end):  # noqa: N802
        if not self._request("DailyRequestByGroup", mask, start, end):
            return False
        with server.lock:
            logins = {login for login, user in server.users.items() if self._in_groups(mask, user.Group)}
            return [MTDaily(**d.__dict__) for d in server.daily if d.Login in logins and start <= d.Datetime <= end]


def shim_folder() -> pathlib.Path:
    """A folder holding `MT5Manager.py`, which makes `import MT5Manager` this stand-in, loaded from
    $MT5MANAGER_STANDIN_DATASET: put it first on PYTHONPATH of a `python3 -m mtbridge` run from the package root."""
    folder = pathlib.Path(tempfile.mkdtemp(prefix="mt5manager-shim-"))
    (folder / "MT5Manager.py").write_text(
        "import os, sys\n"
        "from tests import mt5manager_standin as standin\n"
        "standin.server.load_file(os.environ['MT5MANAGER_STANDIN_DATASET'])\n"
        "sys.modules[__name__] = standin\n")
    return folder


def dataset_file(folder: pathlib.Path, **data) -> str:
    path = folder / "mt5manager-dataset.json"
    path.write_text(json.dumps(data))
    return str(path)


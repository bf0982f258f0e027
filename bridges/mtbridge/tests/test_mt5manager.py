"""The MT5 Manager API backend against a stand-in for MetaQuotes' `MT5Manager` package (tests/mt5manager_standin.py):
the inclusive `to` seconds of MetaQuotes' range calls, tickets past 2^32, server time from `TimeGet`, errors that
never carry the password, the anti-flood retcode; the deal sink feeding the durable `changes` journal across a
restart of the bridge process, and the positions a disconnection, a cleaned login or retention expire. End to end:
`mtsync bridge check` accepts the bridge serving the simulator's history through the stand-in, and mtsync stores
exactly the dataset's deals, with a dealer's edit and deletion arriving through `changes`, and what a disconnection
hid repaired by mtsync itself when the bridge answers `changes_expired`.

Needs MTSYNC_BIN (mtsync and mtbridge-sim) and, for the mtsync end to end, MTSYNC_TEST_DATABASE_URL.
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from datetime import datetime, timezone
from decimal import Decimal
from unittest import mock

from mtbridge import config, server, zones
from mtbridge.journal import ChangeJournal, Event
from mtbridge.mt5manager import MT5Manager, ManagerSession, load_package
from mtbridge.protocol import BridgeError

from . import mt5manager_standin as standin
from .support import KEY_HEX, Client, binaries, bridge_check, pull, secret_file, serve_bridge, started, stop

FROM_MS, TO_MS = 1735689600000, 1735862400000  # 2025-01-01 .. 2025-01-03, server time
EDGE_S = 1735725600  # 2025-01-01 10:00:00


def folder() -> pathlib.Path:
    return pathlib.Path(tempfile.mkdtemp(prefix="mtbridge-mt5manager-"))


def eventually(condition, what: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def a_deal(ticket: int, time_msc: int, login: int = 1001, **fields) -> dict:
    return {"Deal": str(ticket), "Login": str(login), "Order": str(ticket + 1), "PositionID": str(ticket + 2), "Action": "0", "Entry": "0",
            "Reason": "0", "Time": str(time_msc // 1000), "TimeMsc": str(time_msc), "Symbol": "EURUSD", "Volume": "10000", "VolumeExt": "100000000",
            "Price": "1.0342", "Profit": "0", "Storage": "0", "Commission": "-3.5", "Fee": "0", "ContractSize": "100000", "Digits": "5",
            "DigitsCurrency": "2", "Comment": "", "ExternalID": "", **fields}


class OnTheStandIn(unittest.TestCase):
    """One backend in this process, reading a fresh stand-in server."""

    password = "Manager-Pass-1"

    def setUp(self):
        standin.server = standin.TradeServer()
        standin.server.password = self.password
        self.folder = folder()

    def backend(self, *, password=None, pump_modes=("ORDERS", "POSITIONS", "GROUPS", "SYMBOLS", "TIME"), window_ms=3_600_000, time_zone="UTC",
                journal: ChangeJournal | None = None) -> MT5Manager:
        session = ManagerSession(standin, "mt5.example.com:443", 1000, password or self.password, pump_modes=pump_modes, retry_pauses=(0.01, 0.02, 0.05))
        backend = MT5Manager("live-mt5", time_zone, session, journal or ChangeJournal(str(self.folder / "changes.sqlite")), window_ms=window_ms,
                             probe_every_s=0.2)
        self.addCleanup(backend.close)
        return backend

    def load(self, deals=(), **more):
        users = more.pop("users", [{"Login": "1001", "Group": "real\\A", "Leverage": 100, "Balance": "1250.4", "ClientID": 55012}])
        standin.server.load(deals=deals, users=users, groups=more.pop("groups", {"real\\A": "USD"}), **more)


class RangesAndRecords(OnTheStandIn):
    def test_the_inclusive_to_second_is_asked_for_and_each_deal_served_once_in_its_half_open_window(self):
        # Deals in the last second of a window (10:00:00.000 and .999 belong to the next one) and just before it.
        times = [EDGE_S * 1000 - 500, EDGE_S * 1000, EDGE_S * 1000 + 999, EDGE_S * 1000 + 1000]
        self.load([a_deal(700 + i, t) for i, t in enumerate(times)])
        backend = self.backend(window_ms=600_000)
        first_window = backend.deals(EDGE_S * 1000 - 600_000, EDGE_S * 1000, None, 10)
        self.assertEqual([d["Deal"] for d in first_window], ["700"], "10:00:00 is the next window's, though its second was asked for")
        self.assertIn(("DealRequestByGroup", "*", EDGE_S - 600, EDGE_S), standin.server.requests, "`to` asked inclusive: the window's end second")

        seen, after = [], None
        while page := backend.deals(EDGE_S * 1000 - 600_000, EDGE_S * 1000 + 600_000, after, 1):
            seen += [d["Deal"] for d in page]
            after = (int(page[-1]["TimeMsc"]), int(page[-1]["Deal"]))
        self.assertEqual(seen, ["700", "701", "702", "703"])

        # A range ending inside a second asks for that whole second and keeps only what is before the end.
        backend.windows.forget()
        self.assertEqual([d["Deal"] for d in backend.deals(EDGE_S * 1000, EDGE_S * 1000 + 500, None, 10)], ["701"])
        self.assertIn(("DealRequestByGroup", "*", EDGE_S, EDGE_S + 1), standin.server.requests)

    def test_tickets_and_logins_past_2_to_the_32_are_strings_and_doubles_the_shortest_text(self):
        big = 2**32 + 5
        self.load([a_deal(big, EDGE_S * 1000, login=2**32 + 1, Profit="-0.1", Price="1.23456")],
                  users=[{"Login": str(2**32 + 1), "Group": "real\\A", "Leverage": 500, "ClientID": 2**40}])
        backend = self.backend()
        [deal] = backend.deals(FROM_MS, TO_MS, None, 10)
        self.assertEqual((deal["Deal"], deal["Login"], deal["Profit"], deal["Price"]), (str(big), str(2**32 + 1), "-0.1", "1.23456"))
        self.assertIsInstance(standin.server.deals[big].Profit, float, "the stand-in hands doubles, as the package does")
        [account] = backend.accounts(None, 10)
        self.assertEqual(account, {"login": str(2**32 + 1), "group": "real\\A", "leverage": 500, "balance": "0", "credit": "0", "currency": "USD",
                                   "client_id": str(2**40)})

    def test_accounts_carry_the_client_id_and_the_group_currency_and_symbols_and_daily_are_served(self):
        self.load(users=[{"Login": "1002", "Group": "demo\\B", "Leverage": 100, "ClientID": 0}, {"Login": "1001", "Group": "real\\A", "Leverage": 100, "ClientID": 7}],
                  groups={"real\\A": "USD", "demo\\B": "USC"},
                  symbols=[{"Symbol": "XAUUSD", "CurrencyBase": "XAU", "CurrencyProfit": "USD", "ContractSize": "100", "Digits": 2},
                           {"Symbol": "EURUSD", "Path": "Forex\\EURUSD", "CurrencyBase": "EUR", "CurrencyProfit": "USD", "ContractSize": "100000", "Digits": 5}],
                  daily=[{"Login": 1001, "Datetime": 1735776000, "Currency": "USD", "Balance": "10.5", "Credit": "0", "ProfitEquity": "11"},
                         {"Login": 1002, "Datetime": 1735776000, "Balance": "1", "Credit": "0", "ProfitEquity": "1"}])
        backend = self.backend()
        self.assertEqual([(a["login"], a["currency"], a.get("client_id")) for a in backend.accounts(None, 10)], [("1001", "USD", "7"), ("1002", "USC", None)])
        self.assertEqual([a["login"] for a in backend.accounts(1001, 10)], ["1002"])
        self.assertEqual([s["symbol"] for s in backend.symbols(None, 10)], ["EURUSD", "XAUUSD"])
        self.assertEqual(backend.symbols("EURUSD", 10)[0]["contract_size"], "100")
        # Made at midnight of 2025-01-02: the record closes 2025-01-01.
        self.assertEqual([(d["day"], d["login"], d["balance"]) for d in backend.daily(FROM_MS, TO_MS, None, 10)],
                         [("2025-01-01", "1001", "10.5"), ("2025-01-01", "1002", "1")])
        self.assertEqual(backend.daily(FROM_MS, TO_MS, ("2025-01-01", 1001), 10)[0]["login"], "1002")

    def test_server_info_takes_the_offset_and_clock_from_time_get_not_from_the_configuration(self):
        self.load(time_zone_minutes=120, daylight=True)
        info = self.backend(time_zone="UTC").server_info()
        self.assertEqual(info["time_zone"], {"rule": "UTC", "utc_offset_minutes": 180, "dst": True, "source": "TimeGet"})
        self.assertAlmostEqual(info["server_time_ms"] - info["utc_time_ms"], 180 * 60_000, delta=5_000)

    def test_without_the_time_pump_server_info_says_which_call_failed(self):
        self.load()
        with self.assertRaises(BridgeError) as raised:
            self.backend(pump_modes=("ORDERS", "POSITIONS")).server_info()
        self.assertEqual(raised.exception.code, "mt_unavailable")
        self.assertIn("TimeGet", raised.exception.message)


class Failures(OnTheStandIn):
    password = "S3cret-Manager-Pass"

    def test_a_wrong_password_is_mt_unavailable_and_never_shows_the_password(self):
        self.load()
        with self.assertRaises(BridgeError) as raised:
            self.backend(password="not-the-S3cret").deals(FROM_MS, TO_MS, None, 10)
        self.assertEqual(raised.exception.code, "mt_unavailable")
        self.assertIn("retcode 1001", raised.exception.message)
        self.assertNotIn("S3cret", raised.exception.message)

    def test_too_frequent_requests_are_retried_then_answered_rate_limited(self):
        self.load([a_deal(700, EDGE_S * 1000)])
        backend = self.backend()
        standin.server.rate_limit_every = 2  # every other call: the retries get through
        for _ in range(4):
            backend.windows.forget()
            self.assertEqual(len(backend.deals(FROM_MS, TO_MS, None, 10)), 1)
        standin.server.rate_limit_every = 1  # every call
        backend.windows.forget()
        with self.assertRaises(BridgeError) as raised:
            backend.deals(FROM_MS, TO_MS, None, 10)
        self.assertEqual((raised.exception.code, raised.exception.retryable), ("rate_limited", True))

    def test_a_dropped_connection_is_reopened_by_the_next_call(self):
        self.load([a_deal(700, EDGE_S * 1000)])
        backend = self.backend()
        self.assertEqual(len(backend.deals(FROM_MS, TO_MS, None, 10)), 1)
        connects = standin.server.connects
        standin.server.drop_connections()
        backend.windows.forget()
        self.assertEqual(len(backend.deals(FROM_MS, TO_MS, None, 10)), 1)
        self.assertGreater(standin.server.connects, connects)

    def test_the_package_is_refused_with_a_clear_reason_where_it_cannot_be_installed(self):
        if "MT5Manager" in sys.modules or sys.platform == "win32":
            self.skipTest("MetaQuotes' package is installed here")  # never on the Linux hosts the suite runs on
        with self.assertRaises(ImportError) as raised:
            load_package()
        self.assertIn("Windows", str(raised.exception))


class ChangesFromTheDealSink(OnTheStandIn):
    def changes(self, backend, since=0):
        return backend.changes(since, 100)

    def test_edits_and_deletions_heard_by_the_sink_are_served_in_order_and_additions_are_not(self):
        self.load([a_deal(700, EDGE_S * 1000), a_deal(701, EDGE_S * 1000 + 5)])
        backend = self.backend()
        backend.deals(FROM_MS, TO_MS, None, 10)  # connected: the sink listens
        standin.server._fire("OnDealAdd", standin.deal(a_deal(702, EDGE_S * 1000 + 9)))
        standin.server.update_deal(700, Profit=12.5, Comment="corrected")
        standin.server.delete_deal(701)
        changes = eventually(lambda: len(self.changes(backend)) == 2 and self.changes(backend), "the journal to hold two changes")
        self.assertEqual([(c["op"], c["record"]["Deal"]) for c in changes], [("update", "700"), ("delete", "701")])
        self.assertEqual((changes[0]["record"]["Profit"], changes[0]["record"]["Comment"]), ("12.5", "corrected"))
        self.assertEqual(changes[1]["record"], {"Deal": "701"})
        self.assertEqual(changes[1]["seq"], changes[0]["seq"] + 1)
        self.assertEqual(self.changes(backend, changes[0]["seq"]), changes[1:])
        self.assertEqual(self.changes(backend, changes[1]["seq"]), [])

    def test_a_disconnection_expires_every_position_up_to_it_since_events_while_disconnected_are_not_replayed(self):
        self.load([a_deal(700, EDGE_S * 1000), a_deal(701, EDGE_S * 1000 + 5)])
        backend = self.backend()
        backend.deals(FROM_MS, TO_MS, None, 10)
        standin.server.update_deal(700, Profit=1.5)
        [heard] = eventually(lambda: self.changes(backend), "the edit to be journaled")
        standin.server.drop_connections()
        standin.server.update_deal(701, Profit=2.5)  # nobody listens: only a reconcile finds it
        eventually(lambda: self._expired(backend, heard["seq"]), "the disconnection to expire the position")
        with self.assertRaises(BridgeError) as raised:
            self.changes(backend, heard["seq"])
        self.assertEqual((raised.exception.code, raised.exception.retryable), ("changes_expired", False))
        # A client starting again from 0 hears what comes after the reconnection (the watch reconnects).
        eventually(lambda: any(s.connected for s in standin.server.sessions), "the watch to reconnect")
        standin.server.update_deal(700, Profit=3.5)
        [after] = eventually(lambda: self.changes(backend), "the next edit")
        self.assertGreater(after["seq"], heard["seq"])
        self.assertEqual(after["record"]["Profit"], "3.5")
        self.assertEqual(self.changes(backend, after["seq"]), [])

    def test_a_cleaned_login_expires_every_position_up_to_it(self):
        self.load([a_deal(700, EDGE_S * 1000), a_deal(701, EDGE_S * 1000 + 5, login=1002)])
        backend = self.backend()
        backend.deals(FROM_MS, TO_MS, None, 10)
        standin.server.update_deal(700, Profit=1.5)
        [heard] = eventually(lambda: self.changes(backend), "the edit to be journaled")
        standin.server.clean(1002)
        eventually(lambda: self._expired(backend, heard["seq"]), "the clean to expire the position")

    def test_retention_drops_old_changes_and_expires_only_the_positions_before_what_it_kept(self):
        now = [1_800_000_000_000]
        journal = ChangeJournal(str(self.folder / "retained.sqlite"), retention_days=7, max_changes=1000, clock=lambda: now[0])
        self.addCleanup(journal.close)
        journal.append([Event(op="update", record={"Deal": str(700 + i)}) for i in range(3)])
        old = journal.read(0, 10)
        now[0] += 8 * 86_400_000
        journal.append([Event(op="delete", record={"Deal": "703"})])
        self.assertEqual(journal.prune(), 3)
        self.assertEqual([c["record"]["Deal"] for c in journal.read(0, 10)], ["703"])
        self.assertEqual([c["record"]["Deal"] for c in journal.read(old[2]["seq"], 10)], ["703"], "a client that read all it dropped misses nothing")
        with self.assertRaises(BridgeError) as raised:
            journal.read(old[1]["seq"], 10)
        self.assertEqual(raised.exception.code, "changes_expired")

        # By count: at most max_changes are kept, the oldest go first.
        capped = ChangeJournal(str(self.folder / "capped.sqlite"), retention_days=7, max_changes=1000, clock=lambda: now[0])
        self.addCleanup(capped.close)
        capped.append([Event(op="update", record={"Deal": str(i)}) for i in range(1005)])
        self.assertEqual(capped.prune(), 5)
        kept = capped.read(0, 2000)
        self.assertEqual((len(kept), kept[0]["record"]["Deal"]), (1000, "5"))

    def test_a_position_this_journal_never_gave_is_expired(self):
        self.load()
        backend = self.backend()
        first = backend.journal.read(0, 1)
        self.assertEqual(first, [])
        for since in (1, 41, 2**62):  # an older journal's numbers, a restored copy's future ones
            with self.assertRaises(BridgeError):
                backend.changes(since, 10)

    @staticmethod
    def _expired(backend, seq) -> bool:
        try:
            backend.changes(seq, 1)
            return False
        except BridgeError as error:
            return error.code == "changes_expired"


class Configuration(unittest.TestCase):
    def write(self, source: str) -> str:
        place = folder()
        key = secret_file(place / "key", KEY_HEX)
        path = place / "mtbridge.toml"
        path.write_text(f'[auth]\nkey_id = "k"\nkey_file = "{key}"\n[server]\nid = "live-mt5"\nplatform = "mt5"\ntime_zone = "UTC"\n[source]\n{source}\n')
        return str(path)

    def test_a_complete_section_loads_and_the_password_comes_from_the_environment(self):
        settings = config.load(self.write('kind = "mt5-manager"\naddress = "mt5.example.com:443"\nlogin = "1000"\njournal = "/var/lib/mtbridge/changes.sqlite"'),
                               {"MTBRIDGE_MANAGER_PASSWORD": "pw"})
        self.assertEqual((settings.source["password"], settings.source["kind"]), ("pw", "mt5-manager"))
        self.assertNotIn("pw", repr(settings))

    def test_every_problem_is_named(self):
        with self.assertRaises(config.ConfigError) as raised:
            config.load(self.write('kind = "mt5-manager"\naddress = "mt5.example.com"\npassword = "inline"\npump_modes = ["USERS"]\nretention_days = 1'), {})
        text = str(raised.exception)
        for expected in ("source.address", "source.login", "source.journal", "ORDERS and POSITIONS", "secrets never go in this file", "retention_days"):
            self.assertIn(expected, text)
        self.assertNotIn("inline", text)


# -- through real processes


def simulator_dataset(sim_port: int) -> dict:
    """The simulator's history, as the stand-in's dataset file holds it."""
    async def read():
        deals = [r["data"] for r in await pull(sim_port, "deals", {"from_ms": FROM_MS, "to_ms": TO_MS})]
        accounts = [r["data"] for r in await pull(sim_port, "accounts", {})]
        symbols = [r["data"] for r in await pull(sim_port, "symbols", {})]
        daily = [r["data"] for r in await pull(sim_port, "daily", {"from_ms": FROM_MS, "to_ms": TO_MS})]
        info = (await pull(sim_port, "server.info", {}))[0]["data"]
        return deals, accounts, symbols, daily, info
    deals, accounts, symbols, daily, info = asyncio.run(read())
    rule = info["time_zone"]["rule"]
    now = datetime.now(timezone.utc)
    offset = int(zones.offset_at(rule, now).total_seconds() // 60)
    dst = zones.server_info_times(rule, now)["time_zone"]["dst"]
    return {"deals": deals, "rule": rule, "time_zone_minutes": offset - 60 * dst, "daylight": dst,
            "users": [{"Login": a["login"], "Group": a["group"], "Leverage": a["leverage"], "Balance": a.get("balance", "0"), "Credit": a.get("credit", "0"),
                       "ClientID": int(a["client_id"]) if str(a.get("client_id", "")).isdigit() else 0} for a in accounts],
            "groups": {a["group"]: a["currency"] for a in accounts},
            "symbols": [{"Symbol": s["symbol"], "Path": s.get("path", ""), "CurrencyBase": s["base_currency"], "CurrencyProfit": s["profit_currency"],
                         "CurrencyMargin": s.get("margin_currency", s["base_currency"]), "ContractSize": s["contract_size"], "Digits": s["digits"],
                         "CalcMode": s.get("calc_mode", 0)} for s in symbols],
            "daily": [{"Login": d["login"], "Datetime": int(d["time_ms"]) // 1000, "Currency": d.get("currency", ""), "Balance": d["balance"],
                       "Credit": d["credit"], "ProfitEquity": d["equity"], "Profit": d.get("profit", "0"), "BalancePrevDay": d.get("balance_prev", "0")}
                      for d in daily],
            "sim_daily": daily}


def start_simulator(simulator: str, seed: int):
    return started([simulator, "--port", "0", "--server-id", "sim-mt5", "--key-id", "mtsync-1", "--from", "2025-01-01", "--days", "2",
                    "--deals-per-day", "150", "--seed", str(seed)], dict(os.environ, MTBRIDGE_KEY=KEY_HEX))


def serve_through_the_package(place: pathlib.Path, dataset: dict, password: str):
    """`python3 -m mtbridge` with `source.kind = "mt5-manager"`, `import MT5Manager` giving the stand-in."""
    dataset_path = standin.dataset_file(place, password=password, **{k: v for k, v in dataset.items() if k not in ("rule", "sim_daily")})
    password_file = secret_file(place / "manager.password", password + "\n")
    source = f'''kind = "mt5-manager"
address = "mt5.example.com:443"
login = "1000"
password_file = "{password_file}"
journal = "{place / 'changes.sqlite'}"
window_minutes = 240'''
    environment = {"MT5MANAGER_STANDIN_DATASET": dataset_path, "PYTHONPATH": os.pathsep.join([str(standin.shim_folder()), os.getcwd()])}
    with mock.patch.dict(os.environ, environment):
        return serve_bridge(place, server_id="sim-mt5", platform="mt5", time_zone=dataset["rule"], source=source)


async def answer(port: int, method: str, params: dict) -> list[dict]:
    """One request's lines up to its `end` or `error`."""
    client = await Client.connect(port)
    try:
        _, welcome = await client.authenticate("mtsync-1", bytes.fromhex(KEY_HEX))
        assert welcome["type"] == "welcome", welcome
        await client.send({"type": "request", "id": "r1", "method": method, "params": params})
        lines = []
        while (line := await client.read(timeout=30))["type"] not in ("end", "error"):
            lines.append(line)
        return lines + [line]
    finally:
        await client.close()


class ThroughTheBridgeProcess(unittest.IsolatedAsyncioTestCase):
    password = "Manager-Pass-in-a-file"

    async def test_mtsync_bridge_check_accepts_the_manager_api_backend_with_the_simulators_digests(self):
        mtsync, simulator = binaries()
        sim, sim_port, _ = start_simulator(simulator, 41)
        self.addCleanup(stop, sim)
        dataset = await asyncio.to_thread(simulator_dataset, sim_port)
        bridge, port, log, key_file = serve_through_the_package(folder(), dataset, self.password)
        self.addCleanup(stop, bridge)

        check = bridge_check(mtsync, port, key_file, "2025-01-01", "2025-01-03", 61)
        self.assertEqual(check.returncode, 0, f"mtsync bridge check:\n{check.stdout}\n{check.stderr}\nbridge log:\n{log.read_text()}")
        report = json.loads(check.stdout)
        self.assertEqual((report["problems"], report["missing_fields"], report["records"]), ([], {}, len(dataset["deals"])))
        self.assertEqual(report["digest_buckets_matching"], report["digest_buckets"])
        for bucket_ms in (3_600_000, 86_400_000):
            params = {"stream": "deals", "from_ms": FROM_MS, "to_ms": TO_MS, "bucket_ms": bucket_ms}
            self.assertEqual([r["data"] for r in await pull(port, "digest", params)], [r["data"] for r in await pull(sim_port, "digest", params)])
        served_daily = [r["data"] for r in await pull(port, "daily", {"from_ms": FROM_MS, "to_ms": TO_MS})]
        self.assertEqual([(d["day"], d["login"], d["balance"], d["equity"]) for d in served_daily],
                         [(d["day"], d["login"], d["balance"], d["equity"]) for d in dataset["sim_daily"]])
        info = (await pull(port, "server.info", {}))[0]["data"]
        self.assertEqual(info["time_zone"]["source"], "TimeGet")
        self.assertNotIn(self.password, log.read_text())

    async def test_the_journal_outlives_the_bridge_process_and_its_restart_expires_the_positions_before_it(self):
        place = folder()
        deals = [a_deal(700 + i, EDGE_S * 1000 + 1000 * i) for i in range(4)]
        dataset = {"deals": deals, "rule": "UTC", "users": [{"Login": "1001", "Group": "real\\A", "Leverage": 100}], "groups": {"real\\A": "USD"},
                   "events_on_connect": [{"op": "update", "Deal": 700, "changes": {"Profit": 12.5}}, {"op": "delete", "Deal": 701}]}
        bridge, port, log, _ = serve_through_the_package(place, dataset, self.password)
        heard = await self._changes_when(port, 0, 2)
        self.assertEqual([(c["data"]["op"], c["data"]["record"]["Deal"]) for c in heard], [("update", "700"), ("delete", "701")])
        last = heard[-1]["data"]["seq"]
        bridge.kill()  # no goodbye: what was committed must be there
        bridge.wait()

        dataset["events_on_connect"] = [{"op": "update", "Deal": 702, "changes": {"Profit": 7.0}}]
        bridge, port, log, _ = serve_through_the_package(place, dataset, self.password)
        self.addCleanup(stop, bridge)
        after = await self._changes_when(port, 0, 1)
        self.assertEqual([(c["data"]["op"], c["data"]["record"]["Deal"]) for c in after], [("update", "702")])
        self.assertGreater(after[0]["data"]["seq"], last, "sequences keep growing across the restart")
        [refused] = await answer(port, "changes", {"since": last})
        self.assertEqual((refused["type"], refused["code"]), ("error", "changes_expired"), "the bridge was not listening while it was down")
        with sqlite3.connect(place / "changes.sqlite") as journal:
            self.assertEqual([seq for (seq,) in journal.execute("SELECT seq FROM changes ORDER BY seq")],
                             [heard[0]["data"]["seq"], last, after[0]["data"]["seq"]], "the journal file kept what it had committed")
        self.assertNotIn(self.password, log.read_text())

    async def _changes_when(self, port: int, since: int, count: int) -> list[dict]:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            lines = await answer(port, "changes", {"since": since})
            if lines[-1]["type"] == "end" and len(lines) - 1 >= count:
                return lines[:-1]
            await asyncio.sleep(0.1)
        raise AssertionError(f"the bridge did not journal {count} changes: {lines}")


class InProcessBridge:
    """The bridge's server on a loop of its own thread, so the test can act on the stand-in the backend reads."""

    def __init__(self, backend):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        options = server.ServeOptions(keys={"mtsync-1": bytes.fromhex(KEY_HEX)})
        self.listening = asyncio.run_coroutine_threadsafe(server.serve(backend, options, "127.0.0.1", 0), self.loop).result(10)
        self.port = self.listening.sockets[0].getsockname()[1]

    def stop(self):
        async def close():
            self.listening.close()
        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


class MtsyncEndToEnd(OnTheStandIn):
    def test_sync_stores_the_dataset_edits_and_deletions_arrive_through_changes_and_after_a_disconnection_mtsync_repairs_the_gap_itself(self):
        from .test_end_to_end import postgres_database, psql
        binary, simulator = binaries()
        database = postgres_database()
        sim, sim_port, _ = start_simulator(simulator, 43)
        self.addCleanup(stop, sim)
        dataset = simulator_dataset(sim_port)
        stop(sim)
        standin.server.load(deals=dataset["deals"], users=dataset["users"], groups=dataset["groups"], symbols=dataset["symbols"],
                            daily=dataset["daily"], time_zone_minutes=dataset["time_zone_minutes"], daylight=dataset["daylight"])
        backend = self.backend(time_zone=dataset["rule"], window_ms=4 * 3_600_000)
        bridge = InProcessBridge(backend)
        self.addCleanup(bridge.stop)

        place = folder()
        recovery_days = (int(time.time() * 1000) - FROM_MS) // 86_400_000 + 2
        configuration = place / "mtsync.yaml"
        configuration.write_text(f"""database:
  url: {database}
instance:
  id: e2e-manager
  lease_ttl: 30s
servers:
  - id: sim-mt5
    platform: mt5
    time_zone: {dataset["rule"]}
    start: 2025-01-01
    page_size: 50
    reconcile:
      window: {recovery_days}d   # back to the dataset: what a changes_expired repairs
    bridge:
      address: 127.0.0.1:{bridge.port}
      key_id: mtsync-1
      key_env: E2E_BRIDGE_KEY
""")
        env = dict(os.environ, E2E_BRIDGE_KEY=KEY_HEX)

        def mtsync(*arguments):
            return subprocess.run([binary, *arguments], capture_output=True, text=True, timeout=300, env=env)

        def reconcile(*extra):
            return mtsync("reconcile", "--config", str(configuration), "--server", "sim-mt5", "--from", "2025-01-01", "--to", "2025-01-03", "--json", *extra)

        def stored(ticket):
            return psql(database, f"SELECT profit, deleted FROM trading_facts WHERE server_id = 'sim-mt5' AND ticket = {ticket}")

        for step in (["migrate", "--database-url", database], ["sync", "--config", str(configuration), "--json"]):
            result = mtsync(*step)
            self.assertEqual(result.returncode, 0, f"mtsync {step[0]}: {result.stdout}\n{result.stderr}")
        tickets = {int(t) for (t,) in psql(database, "SELECT ticket FROM trading_facts WHERE server_id = 'sim-mt5' AND NOT deleted")}
        self.assertEqual(tickets, {int(d["Deal"]) for d in dataset["deals"]}, "every deal of the dataset is stored")
        self.assertEqual(psql(database, "SELECT count(*) - count(DISTINCT ticket) FROM trading_facts WHERE server_id = 'sim-mt5'"), [["0"]])

        # A dealer corrects a trade of the first day and deletes another: far behind the cursor's look-back, so only
        # `changes` can bring them.
        first_day = [d for d in dataset["deals"] if int(d["TimeMsc"]) < FROM_MS + 86_400_000 and d["Action"] in (0, 1, "0", "1")]
        edited, gone, hidden = first_day[1], first_day[2], first_day[3]
        standin.server.update_deal(int(edited["Deal"]), Profit=float(edited["Profit"]) + 12.5)
        standin.server.delete_deal(int(gone["Deal"]))
        eventually(lambda: len(backend.changes(0, 10)) == 2, "the sink's two events to be journaled")
        result = mtsync("sync", "--config", str(configuration), "--json")
        self.assertEqual(result.returncode, 0, f"{result.stdout}\n{result.stderr}")
        self.assertEqual(Decimal(stored(edited["Deal"])[0][0]), Decimal(edited["Profit"]) + Decimal("12.5"))
        self.assertEqual(stored(gone["Deal"])[0][1], "t")
        self.assertEqual(reconcile().returncode, 0, "after the changes every bucket matches")

        # The connection drops and a correction happens meanwhile: no event will ever tell of it.
        since = backend.changes(0, 10)[-1]["seq"]  # where mtsync stands: read before the drop expires it
        standin.server.drop_connections()
        standin.server.update_deal(int(hidden["Deal"]), Profit=float(hidden["Profit"]) - 4.25)
        eventually(lambda: ChangesFromTheDealSink._expired(backend, since), "the disconnection to expire the position")
        # mtsync hears changes_expired, repairs the recovery window (reconcile.window) by digest, says so in status,
        # and follows the journal from its start: no person needed, nothing missed inside the window.
        recovered = mtsync("sync", "--config", str(configuration), "--json")
        self.assertEqual(recovered.returncode, 0, f"{recovered.stdout}\n{recovered.stderr}")
        self.assertEqual(Decimal(stored(hidden["Deal"])[0][0]), Decimal(hidden["Profit"]) - Decimal("4.25"))
        self.assertEqual(psql(database, "SELECT change_sequence, last_warning LIKE '%changes_expired%' FROM sync_cursors"
                                        " WHERE server_id = 'sim-mt5' AND stream = 'changes'"), [["0", "t"]])
        again = mtsync("sync", "--config", str(configuration), "--json")
        self.assertEqual(again.returncode, 0, f"following changes from the journal's start: {again.stdout}\n{again.stderr}")
        self.assertEqual(reconcile().returncode, 0)


if __name__ == "__main__":
    unittest.main()

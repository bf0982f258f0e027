"""mtsync end to end through mtbridge, one case per source, into a real PostgreSQL: `mtsync backfill` loads the
first day, the daemon (`mtsync run`) the rest, and every deal (MT5) or history record (MT4) of the source is
stored exactly once; then a dealer's correction and a deletion at the source (which leave no journal there) are
found and repaired by `mtsync reconcile --repair` through the bridge's digests.

Sources: the MT5 SQL export and the MT4 Report Server in a real MariaDB, the MT5 Web API through its stand-in.
Needs MTSYNC_TEST_DATABASE_URL (a PostgreSQL superuser URL; scripts/test starts that cluster) besides MTSYNC_BIN.
"""

from __future__ import annotations

import os
import pathlib
import secrets
import signal
import subprocess
import tempfile
import time
import unittest
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable
from urllib.parse import urlsplit, urlunsplit

from mtbridge.mysql import parse_url

from .support import KEY_HEX, REPO, binaries, pull, secret_file, serve_bridge, started, stop
from . import test_mt4_report_server as mt4_tables
from . import test_mt5_sql_export as mt5_tables
from .webapi_standin import StandIn


PENDING_ORDERS = (2, 3, 4, 5)  # MT4 buy/sell limit and stop


def postgres_database() -> str:
    """A fresh database on the test cluster, as a URL."""
    admin = os.environ.get("MTSYNC_TEST_DATABASE_URL")
    if not admin:
        raise AssertionError("MTSYNC_TEST_DATABASE_URL must name a PostgreSQL superuser URL (scripts/test starts the cluster and sets it)")
    name = f"mtbridge_e2e_{secrets.token_hex(4)}"
    subprocess.run(["psql", admin, "-q", "-v", "ON_ERROR_STOP=1", "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    parts = urlsplit(admin)
    return urlunsplit(parts._replace(path=f"/{name}"))


def psql(url: str, sql: str) -> list[list[str]]:
    result = subprocess.run(["psql", url, "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True, capture_output=True, text=True)
    return [line.split("\t") for line in result.stdout.splitlines() if line]


def mtsync(binary: str, *args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=300, env=env)


def mariadb_sql(url: str, *statements: tuple[str, tuple]) -> None:
    import pymysql
    connection = pymysql.connect(**parse_url(url), autocommit=True)
    with connection.cursor() as cursor:
        for sql, arguments in statements:
            cursor.execute(sql, arguments)
    connection.close()


@dataclass
class Source:
    """One source loaded with a simulator's history, and what a dealer can do to it behind mtsync's back."""
    server_id: str
    platform: str
    days: tuple[str, str, str]  # backfill [first, second); the daemon from second; the history ends before the third
    tickets: set[int]  # what must be stored: every deal, or every MT4 history record
    bridge_source: str  # the bridge configuration's [source] body
    edited: dict  # a record the dealer corrects (+12.5 profit) ...
    deleted: dict  # ... and one the dealer deletes
    correct: Callable[[], None]
    delete: Callable[[], None]


class EndToEnd:
    """The flow every source must pass; subclasses say how their source is loaded and changed."""
    seed = 23

    def folder(self) -> pathlib.Path:
        folder = pathlib.Path(tempfile.mkdtemp(prefix="mtbridge-e2e-"))
        folder.chmod(0o711)  # MariaDB runs as the mysql user when we are root: it must reach its folder
        return folder

    def mariadb(self, folder: pathlib.Path) -> dict:
        urls = mt5_tables.mariadb(folder / "db")
        self.addCleanup(subprocess.run, [str(REPO / "scripts" / "mariadb-instance"), "stop", str(folder / "db")])
        return urls

    async def simulated(self, platform: str, first_day: str, streams: dict[str, tuple[str, dict]]) -> dict[str, list[dict]]:
        """The simulator's history of two days from `first_day`, pulled per stream."""
        _, simulator = binaries()
        sim, port, _ = started([simulator, "--platform", platform, "--port", "0", "--server-id", f"sim-{platform}", "--key-id", "mtsync-1",
                                "--from", first_day, "--days", "2", "--deals-per-day", "120", "--seed", str(self.seed)],
                               dict(os.environ, MTBRIDGE_KEY=KEY_HEX))
        try:
            return {name: [r["data"] for r in await pull(port, method, params)] for name, (method, params) in streams.items()}
        finally:
            stop(sim)

    async def source(self, folder: pathlib.Path) -> Source:
        raise NotImplementedError

    async def test_backfill_then_the_daemon_store_every_record_once_and_reconcile_repairs_a_correction_and_a_deletion(self):
        binary, _ = binaries()
        database = postgres_database()
        folder = self.folder()
        source = await self.source(folder)
        first, second, end = source.days
        bridge, port, log, _ = serve_bridge(folder, server_id=source.server_id, platform=source.platform, time_zone="ny-close",
                                            source=source.bridge_source)
        self.addCleanup(stop, bridge)
        config = folder / "mtsync.yaml"
        config.write_text(f"""database:
  url: {database}
instance:
  id: e2e-{source.platform}
  lease_ttl: 30s
servers:
  - id: {source.server_id}
    platform: {source.platform}
    time_zone: ny-close
    start: {second}
    page_size: 50
    poll_interval: 1s
    bridge:
      address: 127.0.0.1:{port}
      key_id: mtsync-1
      key_env: E2E_BRIDGE_KEY
""")
        env = dict(os.environ, E2E_BRIDGE_KEY=KEY_HEX)
        why = lambda result: f"{result.stdout}\n{result.stderr}\nbridge log:\n{log.read_text()}"
        for step in (["migrate", "--database-url", database],
                     ["backfill", "--config", str(config), "--server", source.server_id, "--from", first, "--to", second, "--json"]):
            result = mtsync(binary, *step, env=env)
            self.assertEqual(result.returncode, 0, f"mtsync {step[0]}: {why(result)}")

        facts = f"FROM trading_facts WHERE server_id = '{source.server_id}'"
        daemon = subprocess.Popen([binary, "run", "--config", str(config)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                if {int(t) for (t,) in psql(database, f"SELECT ticket {facts}")} >= source.tickets:
                    break
                self.assertIsNone(daemon.poll(), "the daemon must keep running")
                time.sleep(0.5)
        finally:
            daemon.send_signal(signal.SIGTERM)
            output, _ = daemon.communicate(timeout=60)
        self.assertEqual(daemon.returncode, 0, f"mtsync run stops cleanly on SIGTERM:\n{output[-4000:]}")

        stored = {int(t) for (t,) in psql(database, f"SELECT ticket {facts} AND NOT deleted")}
        self.assertEqual(stored, source.tickets, f"every record of the source is stored: the backfilled day and the daemon's\n{output[-3000:]}")
        self.assertEqual(psql(database, f"SELECT count(*) - count(DISTINCT (ticket, leg)) {facts}"), [["0"]], "and none twice")

        # A dealer corrects one record's profit and deletes another: the source shows neither as an event.
        source.correct()
        source.delete()
        ticket = lambda record: record.get("Deal", record.get("order"))
        reconcile = ["reconcile", "--config", str(config), "--server", source.server_id, "--from", first, "--to", end, "--json"]
        check = mtsync(binary, *reconcile, env=env)
        self.assertEqual(check.returncode, 65, f"the changed buckets are found: {why(check)}")
        repair = mtsync(binary, *reconcile, "--repair", env=env)
        self.assertEqual(repair.returncode, 0, why(repair))
        # An MT4 trade is two facts (its open and close legs); the profit is the close leg's, so a sum reads both kinds.
        [[profit]] = psql(database, f"SELECT sum(profit) {facts} AND ticket = {ticket(source.edited)}")
        self.assertEqual(Decimal(profit), Decimal(str(source.edited.get("Profit", source.edited.get("profit")))) + Decimal("12.5"))
        self.assertEqual(psql(database, f"SELECT bool_and(deleted) {facts} AND ticket = {ticket(source.deleted)}"), [["t"]])
        again = mtsync(binary, *reconcile, env=env)
        self.assertEqual(again.returncode, 0, f"after the repair every bucket matches: {why(again)}")


class MT5SQLExportEndToEnd(EndToEnd, unittest.IsolatedAsyncioTestCase):
    async def source(self, folder):
        urls = self.mariadb(folder)
        window = {"from_ms": mt5_tables.FROM_MS, "to_ms": mt5_tables.TO_MS}
        history = await self.simulated("mt5", "2024-12-31", {"deals": ("deals", window), "accounts": ("accounts", {}),
                                                              "symbols": ("symbols", {}), "daily": ("daily", window)})
        deals = history["deals"]
        mt5_tables.load(urls["loader"], deals, history["accounts"], history["symbols"], history["daily"])
        edited = next(d for d in deals if d["Action"] in (0, 1) and d["Entry"] == 1)
        deleted = next(d for d in deals if d["Action"] in (0, 1) and d["Deal"] != edited["Deal"])
        tables = ("mt5_deals_2024", "mt5_deals_2025")
        return Source(
            "sim-mt5", "mt5", ("2024-12-31", "2025-01-01", "2025-01-02"), {int(d["Deal"]) for d in deals},
            f'kind = "mt5-sql-export"\nurl_file = "{secret_file(folder / "db.url", urls["bridge"])}"', edited, deleted,
            correct=lambda: mariadb_sql(urls["loader"], *[(f"UPDATE {t} SET Profit = Profit + 12.5, Timestamp = Timestamp + 1 WHERE Deal = %s",
                                                           (edited["Deal"],)) for t in tables]),
            delete=lambda: mariadb_sql(urls["loader"], *[(f"DELETE FROM {t} WHERE Deal = %s", (deleted["Deal"],)) for t in tables]))


class MT4ReportServerEndToEnd(EndToEnd, unittest.IsolatedAsyncioTestCase):
    async def source(self, folder):
        urls = self.mariadb(folder)
        window = {"from_ms": mt4_tables.FROM_MS, "to_ms": mt4_tables.TO_MS}
        history = await self.simulated("mt4", "2025-01-01", {"closed": ("trades", dict(window, set="closed")), "open": ("trades", {"set": "open"}),
                                                              "accounts": ("accounts", {}), "daily": ("daily", window)})
        closed = history["closed"]
        mt4_tables.load(urls["loader"], closed, history["open"], history["accounts"], history["daily"])
        trades = [t for t in closed if t["cmd"] in (0, 1)]
        edited, deleted = trades[0], trades[1]
        return Source(
            # Stored: the closed history's trades and balance operations and the open trades' open legs; a pending order
            # cancelled before it filled traded nothing and is not a fact.
            "sim-mt4", "mt4", ("2025-01-01", "2025-01-02", "2025-01-03"),
            {int(t["order"]) for t in closed if t["cmd"] not in PENDING_ORDERS} | {int(t["order"]) for t in history["open"]},
            f'kind = "mt4-report-server"\nurl_file = "{secret_file(folder / "db.url", urls["bridge"])}"\ncustomer_id_column = "ID"', edited, deleted,
            correct=lambda: mariadb_sql(urls["loader"], ("UPDATE mt4_trades SET PROFIT = PROFIT + 12.5, TIMESTAMP = TIMESTAMP + 1, MODIFY_TIME = NOW()"
                                                         " WHERE TICKET = %s", (edited["order"],))),
            delete=lambda: mariadb_sql(urls["loader"], ("DELETE FROM mt4_trades WHERE TICKET = %s", (deleted["order"],))))


class MT5WebAPIEndToEnd(EndToEnd, unittest.IsolatedAsyncioTestCase):
    async def source(self, folder):
        window = {"from_ms": 1735689600000, "to_ms": 1735862400000}
        history = await self.simulated("mt5", "2025-01-01", {"deals": ("deals", window), "accounts": ("accounts", {}), "symbols": ("symbols", {})})
        deals, accounts = history["deals"], history["accounts"]
        users = [{"Login": a["login"], "Group": a["group"], "Leverage": a["leverage"], "Balance": a.get("balance", "0"), "Credit": a.get("credit", "0"),
                  "ClientID": a.get("client_id", "0")} for a in accounts]
        server = StandIn(login="1000", password="Api-Pass-1", deals=[dict(d) for d in deals], users=users,
                         groups={a["group"]: a["currency"] for a in accounts}, rate_limit_every=97, drop_connection_every=131,
                         symbols=[{"Symbol": s["symbol"], "Path": s.get("path", ""), "CurrencyBase": s["base_currency"], "CurrencyProfit": s["profit_currency"],
                                   "CurrencyMargin": s.get("margin_currency", s["base_currency"]), "ContractSize": s["contract_size"],
                                   "Digits": s["digits"], "CalcMode": s.get("calc_mode", 0)} for s in history["symbols"]])
        self.addCleanup(server.stop)
        edited = next(d for d in deals if d["Action"] in (0, 1) and d["Entry"] == 1)
        deleted = next(d for d in deals if d["Action"] in (0, 1) and d["Deal"] != edited["Deal"])

        def correct():
            for deal in server.deals:
                if deal["Deal"] == edited["Deal"]:
                    deal["Profit"] = str(Decimal(str(deal["Profit"])) + Decimal("12.5"))

        def delete():
            server.deals = [d for d in server.deals if d["Deal"] != deleted["Deal"]]

        password_file = secret_file(folder / "webapi.password", "Api-Pass-1\n")
        return Source(
            "sim-mt5", "mt5", ("2025-01-01", "2025-01-02", "2025-01-03"), {int(d["Deal"]) for d in deals},
            f'kind = "mt5-web-api"\naddress = "http://127.0.0.1:{server.port}"\nlogin = "1000"\npassword_file = "{password_file}"\nwindow_minutes = 1440',
            edited, deleted, correct, delete)


if __name__ == "__main__":
    unittest.main()

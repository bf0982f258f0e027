"""`changes` for the report databases (mtbridge/db_changes.py) on a real MariaDB: a sweep of the recent window finds
a dealer's edit, a deletion (which leaves no trace in the database) and a time moved out of the window, journals
them in order, and journals nothing twice; what the bridge saw outlives its restart, so a deletion made while it was
down is still found. End to end: mtsync applies such an edit and deletion through `changes`, far behind its look-back,
without a reconcile.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import tempfile
import time
import unittest
from decimal import Decimal

from mtbridge.db_changes import DatabaseChanges
from mtbridge.journal import ChangeJournal
from mtbridge.mt4_report_server import MT4ReportServer
from mtbridge.mt5_sql_export import MT5SQLExport

from . import test_mt4_report_server as mt4_tables
from . import test_mt5_sql_export as mt5_tables
from .support import KEY_HEX, REPO, binaries, pull, secret_file, serve_bridge, started, stop
from .test_end_to_end import mariadb_sql, postgres_database, psql


class Loaded(unittest.IsolatedAsyncioTestCase):
    """A MariaDB with the simulator's two days in the SQL export's or the Report Server's tables."""

    async def asyncSetUp(self):
        self.folder = pathlib.Path(tempfile.mkdtemp(prefix="mtbridge-changes-"))
        self.folder.chmod(0o711)
        self.urls = mt5_tables.mariadb(self.folder / "db")
        self.addCleanup(subprocess.run, [str(REPO / "scripts" / "mariadb-instance"), "stop", str(self.folder / "db")])

    async def simulated(self, platform: str, first_day: str, streams: dict) -> dict:
        _, simulator = binaries()
        sim, port, _ = started([simulator, "--platform", platform, "--port", "0", "--server-id", f"sim-{platform}", "--key-id", "mtsync-1",
                                "--from", first_day, "--days", "2", "--deals-per-day", "120", "--seed", "7"], dict(os.environ, MTBRIDGE_KEY=KEY_HEX))
        try:
            return {name: [r["data"] for r in await pull(port, method, params)] for name, (method, params) in streams.items()}
        finally:
            stop(sim)

    def sweeper(self, backend, journal_path: pathlib.Path, clock_ms: int) -> tuple[DatabaseChanges, ChangeJournal]:
        journal = ChangeJournal(str(journal_path))
        sweep = DatabaseChanges(backend, journal, window_days=3, server_clock_ms=lambda: clock_ms)
        self.addCleanup(sweep.stop)
        self.addCleanup(journal.close)
        return sweep, journal


class MT5SQLExportChanges(Loaded):
    async def test_an_edit_a_deletion_and_a_time_moved_out_of_the_window_are_journaled_once_and_a_restart_loses_nothing(self):
        window = {"from_ms": mt5_tables.FROM_MS, "to_ms": mt5_tables.TO_MS}
        data = await self.simulated("mt5", "2024-12-31", {"deals": ("deals", window), "accounts": ("accounts", {}),
                                                          "symbols": ("symbols", {}), "daily": ("daily", window)})
        deals = data["deals"]
        mt5_tables.load(self.urls["loader"], deals, data["accounts"], data["symbols"], data["daily"])
        backend = MT5SQLExport("sim-mt5", "ny-close", self.urls["bridge"])
        path = self.folder / "changes.sqlite"
        sweep, journal = self.sweeper(backend, path, mt5_tables.TO_MS)

        self.assertEqual(sweep.sweep(), {"updates": 0, "deletes": 0, "additions": len(deals)}, "the first sweep only learns the window")
        self.assertEqual(journal.read(0, 100), [])

        edited, gone, moved = deals[3], deals[5], deals[8]
        tables = ("mt5_deals_2024", "mt5_deals_2025")
        mariadb_sql(self.urls["loader"], *[(f"UPDATE {t} SET Profit = Profit + 12.5 WHERE Deal = %s", (edited["Deal"],)) for t in tables],
                    *[(f"DELETE FROM {t} WHERE Deal = %s", (gone["Deal"],)) for t in tables],
                    ("UPDATE mt5_deals_2024 SET TimeMsc = '2024-06-01 10:00:00', Time = '2024-06-01 10:00:00' WHERE Deal = %s", (moved["Deal"],)),
                    ("UPDATE mt5_deals_2025 SET TimeMsc = '2024-06-01 10:00:00', Time = '2024-06-01 10:00:00' WHERE Deal = %s", (moved["Deal"],)))
        self.assertEqual(sweep.sweep(), {"updates": 2, "deletes": 1, "additions": 0})
        changes = journal.read(0, 100)
        by_op = {(c["op"], c["record"]["Deal"]) for c in changes}
        self.assertEqual(by_op, {("update", edited["Deal"]), ("update", moved["Deal"]), ("delete", gone["Deal"])})
        update = next(c for c in changes if c["record"]["Deal"] == edited["Deal"])
        self.assertEqual(Decimal(update["record"]["Profit"]), Decimal(str(edited["Profit"])) + Decimal("12.5"), "the record as it is now")
        self.assertEqual(next(c for c in changes if c["op"] == "delete")["record"], {"Deal": gone["Deal"]})
        self.assertEqual(sweep.sweep(), {"updates": 0, "deletes": 0, "additions": 0}, "nothing is journaled twice")

        # The bridge stops; a deal is deleted while it is down; the next bridge's first sweep still sees it go.
        last = changes[-1]["seq"]
        sweep.stop()
        journal.close()
        again = deals[11]
        mariadb_sql(self.urls["loader"], *[(f"DELETE FROM {t} WHERE Deal = %s", (again["Deal"],)) for t in tables])
        sweep, journal = self.sweeper(MT5SQLExport("sim-mt5", "ny-close", self.urls["bridge"]), path, mt5_tables.TO_MS)
        self.assertEqual(sweep.sweep()["deletes"], 1)
        self.assertEqual([(c["op"], c["record"]) for c in journal.read(last, 100)], [("delete", {"Deal": again["Deal"]})],
                         "a restart is not a gap: mtsync's position is still answered")


class MT4ReportServerChanges(Loaded):
    async def test_an_edit_and_a_deletion_of_closed_trades_are_journaled(self):
        window = {"from_ms": mt4_tables.FROM_MS, "to_ms": mt4_tables.TO_MS}
        data = await self.simulated("mt4", "2025-01-01", {"closed": ("trades", dict(window, set="closed")), "open": ("trades", {"set": "open"}),
                                                          "accounts": ("accounts", {}), "daily": ("daily", window)})
        mt4_tables.load(self.urls["loader"], data["closed"], data["open"], data["accounts"], data["daily"])
        backend = MT4ReportServer("sim-mt4", "ny-close", self.urls["bridge"])
        sweep, journal = self.sweeper(backend, self.folder / "changes.sqlite", mt4_tables.TO_MS)
        sweep.sweep()
        trades = [t for t in data["closed"] if t["cmd"] in (0, 1)]
        edited, gone = trades[0], trades[1]
        mariadb_sql(self.urls["loader"], ("UPDATE mt4_trades SET PROFIT = PROFIT - 3 WHERE TICKET = %s", (edited["order"],)),
                    ("DELETE FROM mt4_trades WHERE TICKET = %s", (gone["order"],)))
        self.assertEqual(sweep.sweep(), {"updates": 1, "deletes": 1, "additions": 0})
        self.assertEqual({(c["op"], str(c["record"]["order"])) for c in journal.read(0, 10)},
                         {("update", str(edited["order"])), ("delete", str(gone["order"]))})


class ChangesEndToEnd(Loaded):
    async def test_mtsync_applies_an_edit_and_a_deletion_far_behind_its_look_back_through_changes(self):
        binary, _ = binaries()
        window = {"from_ms": mt5_tables.FROM_MS, "to_ms": mt5_tables.TO_MS}
        data = await self.simulated("mt5", "2024-12-31", {"deals": ("deals", window), "accounts": ("accounts", {}),
                                                          "symbols": ("symbols", {}), "daily": ("daily", window)})
        deals = data["deals"]
        mt5_tables.load(self.urls["loader"], deals, data["accounts"], data["symbols"], data["daily"])
        # The history is long before today's clock: a window reaching back to it.
        days = (int(time.time() * 1000) - mt5_tables.FROM_MS) // 86_400_000 + 2
        source = (f'kind = "mt5-sql-export"\nurl_file = "{secret_file(self.folder / "db.url", self.urls["bridge"])}"\n'
                  f'journal = "{self.folder / "changes.sqlite"}"\nchanges_window_days = {days}\nsweep_minutes = 0.02')
        bridge, port, log, _ = serve_bridge(self.folder, server_id="sim-mt5", platform="mt5", time_zone="ny-close", source=source)
        self.addCleanup(stop, bridge)
        database = postgres_database()
        config = self.folder / "mtsync.yaml"
        config.write_text(f"""database:
  url: {database}
instance:
  id: e2e-changes
servers:
  - id: sim-mt5
    platform: mt5
    time_zone: ny-close
    start: 2024-12-31
    lookback: 1h
    bridge:
      address: 127.0.0.1:{port}
      key_id: mtsync-1
      key_env: E2E_BRIDGE_KEY
""")
        env = dict(os.environ, E2E_BRIDGE_KEY=KEY_HEX)

        def mtsync(*arguments):
            result = subprocess.run([binary, *arguments], capture_output=True, text=True, timeout=300, env=env)
            self.assertEqual(result.returncode, 0, f"mtsync {arguments[0]}: {result.stdout}\n{result.stderr}\nbridge log:\n{log.read_text()}")
            return result

        mtsync("migrate", "--database-url", database)
        mtsync("sync", "--config", str(config), "--json")
        edited, gone = deals[2], deals[4]
        tables = ("mt5_deals_2024", "mt5_deals_2025")
        mariadb_sql(self.urls["loader"], *[(f"UPDATE {t} SET Profit = Profit + 12.5 WHERE Deal = %s", (edited["Deal"],)) for t in tables],
                    *[(f"DELETE FROM {t} WHERE Deal = %s", (gone["Deal"],)) for t in tables])
        facts = "FROM trading_facts WHERE server_id = 'sim-mt5'"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            mtsync("sync", "--config", str(config), "--json")
            if psql(database, f"SELECT deleted {facts} AND ticket = {gone['Deal']}") == [["t"]]:
                break
            time.sleep(0.5)
        self.assertEqual(psql(database, f"SELECT deleted {facts} AND ticket = {gone['Deal']}"), [["t"]], "the deletion arrived as a change")
        [[profit]] = psql(database, f"SELECT profit {facts} AND ticket = {edited['Deal']}")
        self.assertEqual(Decimal(profit), Decimal(str(edited["Profit"])) + Decimal("12.5"), "and the edit")
        self.assertNotEqual(psql(database, "SELECT change_sequence FROM sync_cursors WHERE server_id = 'sim-mt5' AND stream = 'changes'"), [["0"]])


if __name__ == "__main__":
    unittest.main()

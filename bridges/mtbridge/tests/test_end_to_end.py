"""mtsync end to end through mtbridge on a real MT5 SQL export (MariaDB) into a real PostgreSQL: sync stores every
deal of the export once; a dealer's correction and a deletion in the export (which leave no journal there) are
found and repaired by `mtsync reconcile --repair` through the bridge's digests.

Needs MTSYNC_TEST_DATABASE_URL (a PostgreSQL superuser URL; scripts/test starts that cluster) besides MTSYNC_BIN.
"""

from __future__ import annotations

import os
import pathlib
import secrets
import subprocess
import tempfile
import unittest
from decimal import Decimal
from urllib.parse import urlsplit, urlunsplit

from mtbridge.mysql import parse_url

from .support import KEY_HEX, REPO, binaries, pull, secret_file, serve_bridge, started, stop
from .test_mt5_sql_export import FROM_MS, TO_MS, load, mariadb


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


class EndToEnd(unittest.IsolatedAsyncioTestCase):
    async def test_sync_then_a_correction_and_a_deletion_in_the_export_are_repaired_by_reconcile(self):
        binary, simulator = binaries()
        database = postgres_database()
        folder = pathlib.Path(tempfile.mkdtemp(prefix="mtbridge-e2e-"))
        folder.chmod(0o711)
        urls = mariadb(folder / "db")
        self.addCleanup(subprocess.run, [str(REPO / "scripts" / "mariadb-instance"), "stop", str(folder / "db")])

        sim, sim_port, _ = started([simulator, "--port", "0", "--server-id", "sim-mt5", "--key-id", "mtsync-1", "--from", "2024-12-31",
                                    "--days", "2", "--deals-per-day", "120", "--seed", "23"], dict(os.environ, MTBRIDGE_KEY=KEY_HEX))
        self.addCleanup(stop, sim)
        deals = [r["data"] for r in await pull(sim_port, "deals", {"from_ms": FROM_MS, "to_ms": TO_MS})]
        load(urls["loader"], deals, [r["data"] for r in await pull(sim_port, "accounts", {})], [r["data"] for r in await pull(sim_port, "symbols", {})],
             [r["data"] for r in await pull(sim_port, "daily", {"from_ms": FROM_MS, "to_ms": TO_MS})])
        stop(sim)

        bridge, port, log, _ = serve_bridge(folder, server_id="sim-mt5", platform="mt5", time_zone="ny-close",
                                            source=f'kind = "mt5-sql-export"\nurl_file = "{secret_file(folder / "db.url", urls["bridge"])}"')
        self.addCleanup(stop, bridge)
        config = folder / "mtsync.yaml"
        config.write_text(f"""database:
  url: {database}
instance:
  id: e2e
  lease_ttl: 30s
servers:
  - id: sim-mt5
    platform: mt5
    time_zone: ny-close
    start: 2024-12-31
    page_size: 50
    bridge:
      address: 127.0.0.1:{port}
      key_id: mtsync-1
      key_env: E2E_BRIDGE_KEY
""")
        env = dict(os.environ, E2E_BRIDGE_KEY=KEY_HEX)
        for step in (["migrate", "--database-url", database], ["sync", "--config", str(config), "--json"]):
            result = mtsync(binary, *step, env=env)
            self.assertEqual(result.returncode, 0, f"mtsync {step[0]}: {result.stdout}\n{result.stderr}\nbridge log:\n{log.read_text()}")

        stored = {int(t) for (t,) in psql(database, "SELECT ticket FROM trading_facts WHERE server_id = 'sim-mt5' AND NOT deleted")}
        self.assertEqual(stored, {int(d["Deal"]) for d in deals}, "every deal of the export is stored")
        self.assertEqual(psql(database, "SELECT count(*) - count(DISTINCT ticket) FROM trading_facts WHERE server_id = 'sim-mt5'"), [["0"]])

        # A dealer corrects one trade's profit and deletes another: the export shows neither as an event.
        trade = next(d for d in deals if d["Action"] in (0, 1) and d["Entry"] == 1)
        gone = next(d for d in deals if d["Action"] in (0, 1) and d["Deal"] != trade["Deal"])
        import pymysql
        connection = pymysql.connect(**parse_url(urls["loader"]), autocommit=True)
        with connection.cursor() as cursor:
            for table in ("mt5_deals_2024", "mt5_deals_2025"):
                cursor.execute(f"UPDATE {table} SET Profit = Profit + 12.5, Timestamp = Timestamp + 1 WHERE Deal = %s", (trade["Deal"],))
                cursor.execute(f"DELETE FROM {table} WHERE Deal = %s", (gone["Deal"],))
        connection.close()

        check = mtsync(binary, "reconcile", "--config", str(config), "--server", "sim-mt5", "--from", "2024-12-31", "--to", "2025-01-02", "--json", env=env)
        self.assertEqual(check.returncode, 65, f"the changed buckets are found: {check.stdout}\n{check.stderr}")
        repair = mtsync(binary, "reconcile", "--config", str(config), "--server", "sim-mt5", "--from", "2024-12-31", "--to", "2025-01-02",
                        "--repair", "--json", env=env)
        self.assertEqual(repair.returncode, 0, f"{repair.stdout}\n{repair.stderr}\nbridge log:\n{log.read_text()}")
        [[profit]] = psql(database, f"SELECT profit FROM trading_facts WHERE server_id = 'sim-mt5' AND ticket = {trade['Deal']}")
        self.assertEqual(Decimal(profit), Decimal(trade["Profit"]) + Decimal("12.5"))
        self.assertEqual(psql(database, f"SELECT deleted FROM trading_facts WHERE server_id = 'sim-mt5' AND ticket = {gone['Deal']}"), [["t"]])
        again = mtsync(binary, "reconcile", "--config", str(config), "--server", "sim-mt5", "--from", "2024-12-31", "--to", "2025-01-02", "--json", env=env)
        self.assertEqual(again.returncode, 0, f"after the repair every bucket matches: {again.stdout}")


if __name__ == "__main__":
    unittest.main()

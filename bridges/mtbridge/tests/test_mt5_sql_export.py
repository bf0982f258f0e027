"""The MT5 SQL-export backend against a real MariaDB (Debian's mariadb-server, started by scripts/mariadb-instance):
the simulator's history across a year boundary, loaded into the export's tables (deals split into yearly tables,
as the export's option does), served by `python3 -m mtbridge` reading with a SELECT-only user, judged by
`mtsync bridge check`, with digests equal to the simulator's.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import unittest
from datetime import datetime, timedelta

from mtbridge.mysql import parse_url

from .webapi_standin import ny_daylight_now
from .support import KEY_HEX, PACKAGE_ROOT, REPO, binaries, bridge_check, pull, secret_file, serve_bridge, started, stop

FROM_MS, TO_MS = 1735603200000, 1735776000000  # 2024-12-31 .. 2025-01-02, server time
EPOCH = datetime(1970, 1, 1)


def mariadb(folder: pathlib.Path) -> dict:
    script = REPO / "scripts" / "mariadb-instance"
    if not shutil.which("mariadbd") and not os.path.exists("/usr/sbin/mariadbd"):
        raise AssertionError("mariadb-server is not installed: scripts/install-deps installs it (apt-get install -y mariadb-server)")
    result = subprocess.run([str(script), "start", str(folder)], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise AssertionError(f"scripts/mariadb-instance start failed: {result.stderr}")
    return json.loads(result.stdout)


def create_schema(cursor, name: str) -> None:
    """Runs bridges/mtbridge/sql/<name>.sql, statement by statement."""
    schema = re.sub(r"(^|\s)--[^\n]*", r"\1", (PACKAGE_ROOT / "sql" / f"{name}.sql").read_text())
    for statement in schema.split(";"):
        if statement.strip():
            cursor.execute(statement)


def load(url: str, deals: list[dict], accounts: list[dict], symbols: list[dict], daily: list[dict]) -> None:
    import pymysql
    connection = pymysql.connect(**parse_url(url), autocommit=True)
    with connection.cursor() as cursor:
        create_schema(cursor, "mt5_sql_export")
        for year in (2024, 2025):
            cursor.execute(f"CREATE TABLE mt5_deals_{year} LIKE mt5_deals")
        for deal in deals:
            when = EPOCH + timedelta(milliseconds=int(deal["TimeMsc"]))
            cursor.execute(
                f"INSERT INTO mt5_deals_{when.year} (Deal, Timestamp, ExternalID, Login, `Order`, Action, Entry, Reason, Digits, DigitsCurrency, ContractSize,"
                " Time, TimeMsc, Symbol, Price, Volume, VolumeExt, VolumeClosed, VolumeClosedExt, Profit, Storage, Commission, Fee, PositionID, Comment)"
                " VALUES (%s, 1, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (deal["Deal"], deal["ExternalID"], deal["Login"], deal["Order"], deal["Action"], deal["Entry"], deal["Reason"], deal["Digits"],
                 deal["DigitsCurrency"], deal["ContractSize"], EPOCH + timedelta(seconds=int(deal["Time"])), when, deal["Symbol"], deal["Price"],
                 deal["Volume"], deal["VolumeExt"], deal.get("VolumeClosed", 0), deal.get("VolumeClosedExt", 0), deal["Profit"], deal["Storage"],
                 deal["Commission"], deal["Fee"], deal["PositionID"], deal["Comment"]))
        for account in accounts:
            cursor.execute("INSERT IGNORE INTO mt5_groups (`Group`, Timestamp, Currency) VALUES (%s, 1, %s)", (account["group"], account["currency"]))
            client = account.get("client_id", "")
            cursor.execute("INSERT INTO mt5_users (Login, Timestamp, `Group`, ClientID, Leverage, Balance, Credit) VALUES (%s, 1, %s, %s, %s, %s, %s)",
                           (account["login"], account["group"], int(client) if str(client).isdigit() else 0, account["leverage"],
                            account.get("balance", 0), account.get("credit", 0)))
        for symbol in symbols:
            cursor.execute("INSERT INTO mt5_symbols (Symbol, Timestamp, Path, CurrencyBase, CurrencyProfit, CurrencyMargin, Digits, CalcMode, ContractSize)"
                           " VALUES (%s, 1, %s, %s, %s, %s, %s, %s, %s)",
                           (symbol["symbol"], symbol.get("path", ""), symbol["base_currency"], symbol["profit_currency"],
                            symbol.get("margin_currency", symbol["base_currency"]), symbol["digits"], symbol.get("calc_mode", 0), symbol["contract_size"]))
        # The server's own time settings, as the backup server keeps them: a ny-close server is GMT+2 on US DST dates.
        cursor.execute("INSERT INTO mt5_time (TimeZone, Daylight, DaylightState) VALUES (120, 1, %s)", (int(ny_daylight_now()),))
        for record in daily:
            cursor.execute("INSERT INTO mt5_daily (Datetime, Login, Currency, Balance, Credit, ProfitEquity, Profit, BalancePrevDay)"
                           " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                           (int(record["time_ms"]) // 1000, record["login"], record.get("currency", ""), record["balance"], record["credit"],
                            record["equity"], record.get("profit", 0), record.get("balance_prev", 0)))
    connection.close()


class MT5SQLExportBackend(unittest.IsolatedAsyncioTestCase):
    async def test_mtsync_bridge_check_accepts_the_sql_export_backend_on_a_real_mariadb(self):
        mtsync, simulator = binaries()
        folder = pathlib.Path(tempfile.mkdtemp(prefix="mtbridge-mariadb-"))
        folder.chmod(0o711)  # the server runs as the mysql user when we are root: it must reach its folder
        urls = mariadb(folder / "db")
        self.addCleanup(subprocess.run, [str(REPO / "scripts" / "mariadb-instance"), "stop", str(folder / "db")])

        env = dict(os.environ, MTBRIDGE_KEY=KEY_HEX)
        sim, sim_port, _ = started([simulator, "--port", "0", "--server-id", "sim-mt5", "--key-id", "mtsync-1", "--from", "2024-12-31",
                                    "--days", "2", "--deals-per-day", "150", "--seed", "11"], env)
        self.addCleanup(stop, sim)
        deals = [r["data"] for r in await pull(sim_port, "deals", {"from_ms": FROM_MS, "to_ms": TO_MS})]
        accounts = [r["data"] for r in await pull(sim_port, "accounts", {})]
        symbols = [r["data"] for r in await pull(sim_port, "symbols", {})]
        daily = [r["data"] for r in await pull(sim_port, "daily", {"from_ms": FROM_MS, "to_ms": TO_MS})]
        self.assertTrue(any(d["TimeMsc"] < "1735689600000" for d in deals) and any(d["TimeMsc"] >= "1735689600000" for d in deals),
                        "the history must straddle the new year, so both yearly tables are read")
        load(urls["loader"], deals, accounts, symbols, daily)
        info = (await pull(sim_port, "server.info", {}))[0]["data"]

        bridge, port, log, key_file = serve_bridge(folder, server_id="sim-mt5", platform="mt5", time_zone=info["time_zone"]["rule"],
                                                   source=f'kind = "mt5-sql-export"\nurl_file = "{secret_file(folder / "db.url", urls["bridge"])}"')
        self.addCleanup(stop, bridge)

        check = bridge_check(mtsync, port, key_file, "2024-12-31", "2025-01-02", 53, time_zone=info["time_zone"]["rule"])
        self.assertEqual(check.returncode, 0, f"mtsync bridge check:\n{check.stdout}\n{check.stderr}\nbridge log:\n{log.read_text()}")
        report = json.loads(check.stdout)
        self.assertEqual((report["problems"], report["missing_fields"], report["warnings"]), ([], {}, []))
        self.assertEqual(report["records"], len(deals))
        self.assertEqual(report["digest_buckets_matching"], report["digest_buckets"])

        # What the bridge serves from MariaDB is what the simulator served, deal for deal and bucket for bucket.
        served = [r["data"] for r in await pull(port, "deals", {"from_ms": FROM_MS, "to_ms": TO_MS})]
        self.assertEqual([(d["Deal"], d["TimeMsc"], d["VolumeExt"], d["Profit"]) for d in served],
                         [(d["Deal"], d["TimeMsc"], d["VolumeExt"], d["Profit"]) for d in deals])
        for bucket_ms in (3_600_000, 86_400_000):
            params = {"stream": "deals", "from_ms": FROM_MS, "to_ms": TO_MS, "bucket_ms": bucket_ms}
            self.assertEqual([r["data"] for r in await pull(port, "digest", params)], [r["data"] for r in await pull(sim_port, "digest", params)])
        served_daily = [r["data"] for r in await pull(port, "daily", {"from_ms": FROM_MS, "to_ms": TO_MS})]
        self.assertEqual([(d["day"], d["login"], d["balance"]) for d in served_daily], [(d["day"], d["login"], d["balance"]) for d in daily])
        self.assertNotIn(urls["bridge"].split(":")[2].split("@")[0], log.read_text(), "the database password is never logged")

        # mt5_time says the server keeps GMT+5 (the rule was copied from another server): bridge check warns.
        import pymysql
        connection = pymysql.connect(**parse_url(urls["loader"]), autocommit=True)
        with connection.cursor() as cursor:
            cursor.execute("UPDATE mt5_time SET TimeZone = 300, DaylightState = 0")
        connection.close()
        check = bridge_check(mtsync, port, key_file, "2024-12-31T10:00", "2024-12-31T11:00", 53)
        self.assertEqual(check.returncode, 0, "a zone mismatch is a warning, not a protocol problem")
        warnings = json.loads(check.stdout)["warnings"]
        self.assertTrue(any("UTC+05:00 but the bridge's zone rule ny-close" in w for w in warnings), warnings)


if __name__ == "__main__":
    unittest.main()

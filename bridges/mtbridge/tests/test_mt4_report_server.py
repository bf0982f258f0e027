"""The MT4 Report Server backend against a real MariaDB: the MT4 simulator's closed history (trades, balance
operations, cancelled pendings), open trades, users and daily records loaded into the replica's tables, served by
`python3 -m mtbridge` reading with a SELECT-only user, judged by `mtsync bridge check`, with trades and digests
equal to the simulator's.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import tempfile
import unittest
from datetime import datetime, timedelta

from mtbridge.mysql import parse_url

from .support import KEY_HEX, REPO, binaries, bridge_check, pull, secret_file, serve_bridge, started, stop
from .test_mt5_sql_export import create_schema, mariadb

FROM_MS, TO_MS = 1735689600000, 1735862400000  # 2025-01-01 .. 2025-01-03, server time
EPOCH = datetime(1970, 1, 1)


def load(url: str, closed: list[dict], opened: list[dict], accounts: list[dict], daily: list[dict]) -> None:
    import pymysql
    connection = pymysql.connect(**parse_url(url), autocommit=True)
    with connection.cursor() as cursor:
        create_schema(cursor, "mt4_report_server")
        # Newer replicas carry the account's currency (bridge-sources.md §1); the simulator gives accounts of one
        # group different currencies, which only this column can say.
        cursor.execute("ALTER TABLE mt4_users ADD COLUMN CURRENCY char(16) NOT NULL DEFAULT ''")
        for trade in closed + opened:
            cursor.execute(
                "INSERT INTO mt4_trades (TICKET, LOGIN, SYMBOL, DIGITS, CMD, VOLUME, OPEN_TIME, CLOSE_TIME, OPEN_PRICE, CLOSE_PRICE, SL, TP, COMMISSION,"
                " COMMISSION_AGENT, SWAPS, PROFIT, TAXES, MAGIC, COMMENT, REASON, TIMESTAMP) VALUES"
                " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (trade["order"], trade["login"], trade["symbol"], trade["digits"], trade["cmd"], trade["volume"],
                 EPOCH + timedelta(seconds=int(trade["open_time"])), EPOCH + timedelta(seconds=int(trade["close_time"])), trade["open_price"],
                 trade["close_price"], trade["sl"], trade["tp"], trade["commission"], trade["commission_agent"], trade["storage"], trade["profit"],
                 trade["taxes"], trade["magic"], trade["comment"], trade["reason"], trade["timestamp"]))
        for account in accounts:
            cursor.execute("INSERT INTO mt4_users (LOGIN, `GROUP`, LEVERAGE, BALANCE, CREDIT, EQUITY, ID, NAME, EMAIL, CURRENCY)"
                           " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                           (account["login"], account["group"], account["leverage"], account.get("balance", 0), account.get("credit", 0),
                            account.get("equity", 0), account.get("client_id", ""), "Jane Trader", "jane@example.com", account["currency"]))
        for record in daily:
            cursor.execute("INSERT INTO mt4_daily (LOGIN, TIME, `GROUP`, BALANCE_PREV, BALANCE, CREDIT, PROFIT, EQUITY) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                           (record["login"], EPOCH + timedelta(milliseconds=int(record["time_ms"])), "", record.get("balance_prev", 0), record["balance"],
                            record["credit"], record.get("profit", 0), record["equity"]))
    connection.close()


class MT4ReportServerBackend(unittest.IsolatedAsyncioTestCase):
    async def test_mtsync_bridge_check_accepts_the_report_server_backend_on_a_real_mariadb(self):
        mtsync, simulator = binaries()
        folder = pathlib.Path(tempfile.mkdtemp(prefix="mtbridge-mt4-"))
        folder.chmod(0o711)
        urls = mariadb(folder / "db")
        self.addCleanup(subprocess.run, [str(REPO / "scripts" / "mariadb-instance"), "stop", str(folder / "db")])

        env = dict(os.environ, MTBRIDGE_KEY=KEY_HEX)
        sim, sim_port, _ = started([simulator, "--platform", "mt4", "--port", "0", "--server-id", "sim-mt4", "--key-id", "mtsync-1",
                                    "--from", "2025-01-01", "--days", "2", "--deals-per-day", "120", "--seed", "5"], env)
        self.addCleanup(stop, sim)
        closed = [r["data"] for r in await pull(sim_port, "trades", {"set": "closed", "from_ms": FROM_MS, "to_ms": TO_MS})]
        opened = [r["data"] for r in await pull(sim_port, "trades", {"set": "open"})]
        accounts = [r["data"] for r in await pull(sim_port, "accounts", {})]
        daily = [r["data"] for r in await pull(sim_port, "daily", {"from_ms": FROM_MS, "to_ms": TO_MS})]
        self.assertTrue({6, 0, 1} <= {t["cmd"] for t in closed}, "closed history holds trades and balance operations")
        load(urls["loader"], closed, opened, accounts, daily)
        info = (await pull(sim_port, "server.info", {}))[0]["data"]

        source = f"""kind = "mt4-report-server"
url_file = "{secret_file(folder / "db.url", urls["bridge"])}"
customer_id_column = "ID"
[source.group_currencies]
"demo*" = "USD"  # the fallback for replicas without CURRENCY; unused here (the column wins)"""
        bridge, port, log, key_file = serve_bridge(folder, server_id="sim-mt4", platform="mt4", time_zone=info["time_zone"]["rule"], source=source)
        self.addCleanup(stop, bridge)

        check = bridge_check(mtsync, port, key_file, "2025-01-01", "2025-01-03", 41)
        self.assertEqual(check.returncode, 0, f"mtsync bridge check:\n{check.stdout}\n{check.stderr}\nbridge log:\n{log.read_text()}")
        report = json.loads(check.stdout)
        self.assertEqual((report["problems"], report["missing_fields"]), ([], {}))
        self.assertEqual(report["digest_buckets_matching"], report["digest_buckets"])

        fields = ("order", "login", "cmd", "volume", "open_time", "close_time", "profit", "commission", "storage")
        served = [r["data"] for r in await pull(port, "trades", {"set": "closed", "from_ms": FROM_MS, "to_ms": TO_MS})]
        self.assertEqual([[str(t[f]) for f in fields] for t in served], [[str(t[f]) for f in fields] for t in closed])
        served_open = [r["data"] for r in await pull(port, "trades", {"set": "open"})]
        self.assertEqual([t["order"] for t in served_open], [t["order"] for t in opened])
        for bucket_ms in (3_600_000, 86_400_000):
            params = {"stream": "trades", "from_ms": FROM_MS, "to_ms": TO_MS, "bucket_ms": bucket_ms}
            self.assertEqual([r["data"] for r in await pull(port, "digest", params)], [r["data"] for r in await pull(sim_port, "digest", params)])
        served_accounts = [r["data"] for r in await pull(port, "accounts", {})]
        self.assertEqual([(a["login"], a["group"], a["currency"], a.get("client_id")) for a in served_accounts],
                         [(a["login"], a["group"], a["currency"], a.get("client_id")) for a in accounts])
        self.assertTrue(all("jane" not in json.dumps(a).lower() for a in served_accounts), "no personal data leaves the bridge")
        served_daily = [r["data"] for r in await pull(port, "daily", {"from_ms": FROM_MS, "to_ms": TO_MS})]
        self.assertEqual([(d["day"], d["login"], d["balance"]) for d in served_daily], [(d["day"], d["login"], d["balance"]) for d in daily])


if __name__ == "__main__":
    unittest.main()


class GroupCurrencies(unittest.TestCase):
    """Replicas without mt4_users.CURRENCY: the configured masks decide, first match wins; no match sends no currency."""

    def test_first_matching_mask_wins_and_no_match_means_no_currency(self):
        from mtbridge.mt4_report_server import MT4ReportServer
        backend = MT4ReportServer("s", "UTC", "mysql://u:p@127.0.0.1:1/d", group_currencies=[("real\\cent*", "USC"), ("real\\*", "USD")],
                                  pool=object())
        self.assertEqual(backend._currency("real\\cent-a", None), "USC")
        self.assertEqual(backend._currency("real\\std", None), "USD")
        self.assertIsNone(backend._currency("demo\\std", None))
        self.assertEqual(backend._currency("demo\\std", "EUR "), "EUR")

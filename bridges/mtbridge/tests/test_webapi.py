"""The MT5 Web API backend against a stand-in written from MetaQuotes' documentation (tests/webapi_standin.py):
the documented password hash, the handshake, and `mtsync bridge check` accepting the bridge serving the simulator's
history through it while the stand-in rate-limits and drops connections."""

from __future__ import annotations

import json
import os
import pathlib
import tempfile
import unittest

from mtbridge.protocol import BridgeError
from mtbridge.webapi import MT5WebAPI, WebAPIClient, challenge_answer, password_hash

from .support import KEY_HEX, binaries, bridge_check, pull, secret_file, serve_bridge, started, stop
from .webapi_standin import StandIn

FROM_MS, TO_MS = 1735689600000, 1735862400000
RANGE = (1735722000000, 1735729200000)  # two hours around the stand-in's deals: four 30-minute windows


class PasswordHash(unittest.TestCase):
    def test_the_documented_example(self):
        # MQ-AUTH: Password1 with srv_rand 73007dc7… (bridge-sources.md §4, computed from the page's example).
        hashed = password_hash("Password1")
        self.assertEqual(hashed.hex(), "904ba8ecb16273d2f0ae9c3b8a023752")
        self.assertEqual(challenge_answer(hashed, "73007dc7184747ce0f7c98516ef1c851"), "77fe51827f7fa69dd80fbec9aa33f1bb")


class FailureModes(unittest.TestCase):
    def standin(self, **kwargs) -> StandIn:
        # One deal a minute from 10:00: the 10:30 window edge falls between two of them.
        deals = [{"Deal": str(700 + i), "Login": "1001", "Action": "0", "Entry": "0", "Time": str(1735725600 + 60 * i), "TimeMsc": str(1735725600000 + 60_000 * i),
                  "Symbol": "EURUSD", "VolumeExt": "100000000", "Price": "1.0342", "Profit": "0", "Storage": "0", "Commission": "-3.5", "Fee": "0"}
                 for i in range(30)]
        server = StandIn(login="1000", password="Api-Pass-1", deals=deals, **kwargs)
        self.addCleanup(server.stop)
        return server

    def backend(self, server: StandIn, password: str = "Api-Pass-1") -> MT5WebAPI:
        client = WebAPIClient(f"http://127.0.0.1:{server.port}", "1000", password, retry_pauses=(0.05, 0.1, 0.2))
        self.addCleanup(client.close)
        return MT5WebAPI("live-mt5", "UTC", client, window_ms=1_800_000)

    def test_server_info_takes_the_offset_the_trade_server_keeps(self):
        server = self.standin(time_zone_minutes=120, daylight_state=True)
        info = self.backend(server).server_info()  # configured "UTC", but the server says GMT+2 with DST on
        self.assertEqual((info["time_zone"]["rule"], info["time_zone"]["utc_offset_minutes"], info["time_zone"]["dst"], info["time_zone"]["source"]),
                         ("UTC", 180, True, "/api/time/get"))
        self.assertEqual(info["server_time_ms"] - info["utc_time_ms"], 180 * 60_000)

    def test_a_group_currency_changed_by_a_dealer_reaches_the_accounts_without_a_restart(self):
        server = self.standin()
        server.users, server.groups = [{"Login": "1001", "Group": "real\\usd", "Leverage": "100", "Balance": "5", "Credit": "0", "ClientID": "7"}], {"real\\usd": "USD"}
        backend = self.backend(server)
        self.assertEqual(backend.accounts(None, 10)[0]["currency"], "USD")
        server.groups["real\\usd"] = "EUR"
        self.assertEqual(backend.accounts(None, 10)[0]["currency"], "USD", "read once per ten minutes, not per page")
        backend.currencies.ttl_s = 0
        self.assertEqual(backend.accounts(None, 10)[0]["currency"], "EUR")

    def test_pages_are_exact_across_windows_and_deals_at_a_window_edge_are_served_once(self):
        server = self.standin()
        backend = self.backend(server)
        seen, after = [], None
        while page := backend.deals(*RANGE, after, 7):
            seen += [int(d["Deal"]) for d in page]
            after = (int(page[-1]["TimeMsc"]), int(page[-1]["Deal"]))
        self.assertEqual(seen, list(range(700, 730)))

    def test_an_edit_at_the_source_is_seen_by_the_next_run_and_by_digests_not_hidden_by_the_window_kept(self):
        server = self.standin()
        backend = self.backend(server)
        self.assertEqual(backend.deals(*RANGE, None, 5)[0]["Profit"], "0")
        server.deals[0]["Profit"] = "12.5"
        self.assertEqual(backend.deals(*RANGE, None, 5)[0]["Profit"], "12.5", "a run's first page reads the source again")
        server.deals[1]["Profit"] = "7"
        self.assertEqual(next(d for d in backend.history(*RANGE) if d["Deal"] == "701")["Profit"], "7", "so does a digest")

    def test_too_frequent_requests_are_retried_and_a_dropped_session_is_reopened(self):
        server = self.standin(rate_limit_every=3, drop_connection_every=5)
        backend = self.backend(server)
        for _ in range(6):
            self.assertEqual(len(backend.deals(*RANGE, None, 100)), 30)
            backend.windows.forget()  # read again, not from the window kept
        self.assertGreater(server.handshakes, 1, "the session was opened again after the server closed it")

    def test_a_wrong_password_says_which_password_and_never_shows_it(self):
        server = self.standin()
        backend = self.backend(server, password="not-the-api-password")
        with self.assertRaises(BridgeError) as raised:
            backend.deals(*RANGE, None, 10)
        self.assertEqual(raised.exception.code, "mt_unavailable")
        self.assertIn("API password", raised.exception.message)
        self.assertNotIn("not-the-api-password", raised.exception.message)


class BridgeCheckThroughTheWebAPI(unittest.IsolatedAsyncioTestCase):
    async def test_mtsync_bridge_check_accepts_the_web_api_backend(self):
        mtsync, simulator = binaries()
        sim, sim_port, _ = started([simulator, "--port", "0", "--server-id", "sim-mt5", "--key-id", "mtsync-1", "--from", "2025-01-01",
                                    "--days", "2", "--deals-per-day", "150", "--seed", "31"], dict(os.environ, MTBRIDGE_KEY=KEY_HEX))
        self.addCleanup(stop, sim)
        deals = [r["data"] for r in await pull(sim_port, "deals", {"from_ms": FROM_MS, "to_ms": TO_MS})]
        accounts = [r["data"] for r in await pull(sim_port, "accounts", {})]
        symbols = [r["data"] for r in await pull(sim_port, "symbols", {})]
        users = [{"Login": a["login"], "Group": a["group"], "Leverage": a["leverage"], "Balance": a.get("balance", "0"), "Credit": a.get("credit", "0"),
                  "ClientID": "0", "Name": "", "Email": ""} for a in accounts]
        groups = {}
        for account in accounts:
            groups.setdefault(account["group"], account["currency"])
        server = StandIn(login="1000", password="Api-Pass-1", deals=deals, users=users, groups=groups, rate_limit_every=9, drop_connection_every=13,
                         symbols=[{"Symbol": s["symbol"], "Path": s.get("path", ""), "CurrencyBase": s["base_currency"], "CurrencyProfit": s["profit_currency"],
                                   "CurrencyMargin": s.get("margin_currency", s["base_currency"]), "ContractSize": s["contract_size"],
                                   "Digits": s["digits"], "CalcMode": s.get("calc_mode", 0)} for s in symbols])
        self.addCleanup(server.stop)
        info = (await pull(sim_port, "server.info", {}))[0]["data"]

        folder = pathlib.Path(tempfile.mkdtemp(prefix="mtbridge-webapi-"))
        password_file = secret_file(folder / "webapi.password", "Api-Pass-1\n")
        source = f"""kind = "mt5-web-api"
address = "http://127.0.0.1:{server.port}"
login = "1000"
password_file = "{password_file}"
window_minutes = 180"""
        bridge, port, log, key_file = serve_bridge(folder, server_id="sim-mt5", platform="mt5", time_zone=info["time_zone"]["rule"], source=source)
        self.addCleanup(stop, bridge)
        check = bridge_check(mtsync, port, key_file, "2025-01-01", "2025-01-03", 61, time_zone=info["time_zone"]["rule"])
        self.assertEqual(check.returncode, 0, f"mtsync bridge check:\n{check.stdout}\n{check.stderr}\nbridge log:\n{log.read_text()}")
        report = json.loads(check.stdout)
        self.assertEqual((report["problems"], report["missing_fields"], report["records"]), ([], {}, len(deals)))
        self.assertEqual(report["warnings"], [], "the server's own zone (/api/time/get) agrees with the rule configured")
        self.assertEqual(report["digest_buckets_matching"], report["digest_buckets"])
        for bucket_ms in (3_600_000, 86_400_000):
            params = {"stream": "deals", "from_ms": FROM_MS, "to_ms": TO_MS, "bucket_ms": bucket_ms}
            self.assertEqual([r["data"] for r in await pull(port, "digest", params)], [r["data"] for r in await pull(sim_port, "digest", params)])
        self.assertNotIn("Api-Pass-1", log.read_text())

        # The trade server says it is on GMT (a rule copied from another server, say): bridge check warns.
        server.time_zone_minutes, server.daylight_state = 0, False
        check = bridge_check(mtsync, port, key_file, "2025-01-01T10:00", "2025-01-01T11:00", 61, time_zone=info["time_zone"]["rule"])
        warnings = json.loads(check.stdout)["warnings"]
        self.assertTrue(any("the bridge's zone rule ny-close gives" in w for w in warnings), warnings)
        self.assertTrue(any("mtsync's configured zone ny-close" in w for w in warnings), warnings)


if __name__ == "__main__":
    unittest.main()

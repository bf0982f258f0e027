"""The reference bridge's serving throughput (issue 21): deals served per second by `python3 -m mtbridge` from each
backend, over loopback TCP through the real protocol. `scripts/bench-bridge` runs it; see its header for the options.

One throwaway MariaDB (scripts/mariadb-instance) is loaded directly (LOAD DATA of generated files, not through the
simulator) with N realistic MT5 deals in the SQL export's `mt5_deals` (with the `(TimeMsc, Deal)` index the README
asks for) and N closed MT4 trades in the Report Server's `mt4_trades` (with `(CLOSE_TIME, TICKET)`); the same MT5
deals feed the Web API stand-in (tests/webapi_standin.py, in its own process). For each source and page size a fresh
bridge process serves the whole range to a lean client here that counts record lines without parsing them, so the
figure is the bridge's (plus its source's), not the client's. Each row says how much CPU the bridge, its source,
the client and everything else on the machine ("other") used, and the bridge's peak RSS (VmHWM).
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import os
import pathlib
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone

from mtbridge import protocol, records, zones

PACKAGE_ROOT = pathlib.Path(__file__).resolve().parent
REPO = PACKAGE_ROOT.parents[1]
ZONE = "ny-close"
HOUR_MS = 3_600_000
MAX_DIGEST_BUCKETS = 744  # §4.7: a digest request covers at most this many buckets
DEALS_PER_DAY = 20_000
# The history is centred on New York's autumn switch (2025-11-02): on an ny-close server the wall clock runs an
# hour back, so an hour of TimeMsc values holds deals from two real hours, interleaved with their tickets.
DST_SWITCH = date(2025, 11, 2)
WEBAPI_LOGIN, WEBAPI_PASSWORD = "1000", "Bench-Api-Pass-1"

# name, digits, contract size, a price, relative daily move, profit currency
SYMBOLS = [("EURUSD", 5, 100000, 1.0834, 0.005, "USD"), ("GBPUSD", 5, 100000, 1.2711, 0.006, "USD"), ("USDJPY", 3, 100000, 151.42, 0.006, "JPY"),
           ("USDCHF", 5, 100000, 0.8812, 0.005, "CHF"), ("AUDUSD", 5, 100000, 0.6571, 0.006, "USD"), ("USDCAD", 5, 100000, 1.3702, 0.004, "CAD"),
           ("NZDUSD", 5, 100000, 0.5988, 0.006, "USD"), ("EURGBP", 5, 100000, 0.8523, 0.004, "GBP"), ("EURJPY", 3, 100000, 164.05, 0.007, "JPY"),
           ("GBPJPY", 3, 100000, 192.47, 0.008, "JPY"), ("XAUUSD", 2, 100, 2384.55, 0.012, "USD"), ("XAGUSD", 3, 5000, 28.412, 0.02, "USD"),
           ("US30", 1, 1, 39112.4, 0.01, "USD"), ("NAS100", 1, 1, 18254.7, 0.014, "USD"), ("GER40", 1, 1, 18420.3, 0.011, "EUR"),
           ("UK100", 1, 1, 8231.6, 0.008, "GBP"), ("USOIL", 2, 1000, 78.64, 0.02, "USD"), ("BTCUSD", 2, 1, 67412.35, 0.04, "USD"),
           ("ETHUSD", 2, 1, 3521.18, 0.05, "USD"), ("EURUSD.pro", 5, 100000, 1.0834, 0.005, "USD")]
GROUPS = [("real\\standard", "USD"), ("real\\pro", "USD"), ("real\\cent", "USC"), ("real\\eur", "EUR"), ("demo\\standard", "USD")]
MT5_COLUMNS = ("Deal", "Timestamp", "ExternalID", "Login", "Order", "Action", "Entry", "Reason", "Digits", "DigitsCurrency", "ContractSize", "Time",
               "TimeMsc", "Symbol", "Price", "Volume", "VolumeExt", "VolumeClosed", "VolumeClosedExt", "Profit", "Storage", "Commission", "Fee",
               "PositionID", "Comment")
MT4_COLUMNS = ("TICKET", "LOGIN", "SYMBOL", "DIGITS", "CMD", "VOLUME", "OPEN_TIME", "CLOSE_TIME", "OPEN_PRICE", "CLOSE_PRICE", "SL", "TP",
               "COMMISSION", "COMMISSION_AGENT", "SWAPS", "PROFIT", "TAXES", "MAGIC", "COMMENT", "REASON", "TIMESTAMP")


def say(text: str) -> None:
    print(text, flush=True)


# -- the dataset

class Dataset:
    """N MT5 deals and N closed MT4 trades (plus N/50 open ones), deterministic for a seed, in server time."""

    def __init__(self, deals: int, seed: int):
        self.count = deals
        self.days = max(2, math.ceil(deals / DEALS_PER_DAY))
        self.first_day = DST_SWITCH - timedelta(days=self.days // 2)
        self.from_ms = (self.first_day - date(1970, 1, 1)).days * 86_400_000  # server wall clock, as MT keeps it
        self.to_ms = self.from_ms + self.days * 86_400_000
        rng = random.Random(seed)
        self.logins = [rng.randrange(100_000, 90_000_000) for _ in range(max(50, min(20_000, deals // 40)))]
        self.logins = sorted(set(self.logins))
        # A few accounts trade a lot, most a little (Pareto weights).
        self.login_weights = list(_cumulative([rng.paretovariate(1.2) for _ in self.logins]))
        self.group_of = {login: GROUPS[rng.randrange(len(GROUPS))] for login in self.logins}
        self.instants = self._instants(rng)
        self.rng = rng

    def _instants(self, rng: random.Random) -> list[int]:
        """N real instants (UTC ms) whose server wall times fall in the range, weekends thin (crypto only), sorted."""
        start_utc = int(datetime(self.first_day.year, self.first_day.month, self.first_day.day, tzinfo=timezone.utc).timestamp() * 1000) - 10 * HOUR_MS
        span = self.days * 86_400_000 + 20 * HOUR_MS
        chosen: list[int] = []
        while len(chosen) < self.count:
            utc_ms = start_utc + rng.randrange(span)
            wall = server_wall_ms(utc_ms)
            if not self.from_ms <= wall < self.to_ms:
                continue
            if (wall // 86_400_000 + 3) % 7 >= 5 and rng.random() > 0.1:  # Saturday, Sunday (1970-01-01 was a Thursday)
                continue
            chosen.append(utc_ms)
        chosen.sort()
        return chosen

    def mt5_deals(self):
        """(server TimeMsc, the deal's columns as MT5_COLUMNS), ascending ticket, which rises with the real instant.
        The tickets cross 2^32 half-way."""
        rng = random.Random(self.rng.random())
        first_ticket = (1 << 32) - self.count // 2
        prices = {s[0]: s[3] for s in SYMBOLS}
        for index, utc_ms in enumerate(self.instants):
            deal = first_ticket + index
            time_msc = server_wall_ms(utc_ms)
            login = rng.choices(self.logins, cum_weights=self.login_weights)[0]
            kind = rng.random()
            if kind < 0.02:  # a balance (2) or credit (3) operation
                action, entry, symbol, digits, contract, price, volume = (2 if kind < 0.017 else 3), 0, "", 0, 0.0, 0.0, 0
                profit = round(rng.choice((100, 250, 500, 1000, 5000)) * (1 if rng.random() < 0.8 else -1) * 1.0, 2)
                storage = commission = 0.0
                comment, reason, order, position = rng.choice(("Deposit", "Withdrawal", "Bonus", "Transfer")), 2, 0, 0
            else:
                name, digits, contract, _, move, _ = SYMBOLS[rng.randrange(len(SYMBOLS))]
                prices[name] *= 1 + rng.gauss(0, move / 40)
                price = round(prices[name], digits)
                symbol, action, entry = name, rng.randrange(2), rng.randrange(2)
                volume = rng.choice((100, 100, 500, 1000, 1000, 2000, 5000, 10000, 50000, 100000))
                order = deal + 7 * (1 << 20)
                position = order if entry == 0 else order - rng.randrange(1, 400_000)
                profit = round(rng.gauss(0, 40) * volume / 1000, 2) if entry == 1 else 0.0
                storage = round(rng.gauss(0, 1.5), 2) if entry == 1 and rng.random() < 0.3 else 0.0
                commission = round(-3.5 * volume / 10000, 2)
                reason = rng.choice((0, 0, 0, 1, 2, 3, 3, 4, 5)) if entry == 1 else rng.choice((0, 0, 1, 2, 3))
                comment = {4: f"[sl {price}]", 5: f"[tp {price}]"}.get(reason, "")
            yield time_msc, (deal, time_msc, "" if rng.random() < 0.97 else f"EXT-{deal}", login, order, action, entry, reason, digits, 2,
                             float(contract), time_msc // 1000 * 1000, time_msc, symbol, price, volume, volume * 10000,
                             volume if entry == 1 else 0, volume * 10000 if entry == 1 else 0, profit, storage, commission, 0.0, position, comment)

    def mt4_trades(self):
        """The MT4 replica's rows as MT4_COLUMNS: N closed (times to the second, so many share a CLOSE_TIME) and N/50
        open (CLOSE_TIME 1970-01-01). Tickets cross 2^32 half-way."""
        rng = random.Random(self.rng.random())
        first_ticket = (1 << 32) - self.count // 2
        closed = [(first_ticket + i, server_wall_ms(utc_ms) // 1000) for i, utc_ms in enumerate(self.instants)]
        opened = [(first_ticket + self.count + i, self.to_ms // 1000 - rng.randrange(86_400)) for i in range(self.count // 50)]
        for ticket, close_s in closed + [(t, None) for t, _ in opened]:
            login = rng.choices(self.logins, cum_weights=self.login_weights)[0]
            kind = rng.random()
            open_s = (close_s if close_s is not None else self.to_ms // 1000) - rng.randrange(60, 3 * 86_400)
            if kind < 0.02 and close_s is not None:
                cmd, symbol, digits, volume, open_price, close_price = (6 if kind < 0.017 else 7), "", 0, 0, 0.0, 0.0
                profit, open_s = float(rng.choice((100, 250, 500, 1000, 5000))), close_s
                commission = swaps = 0.0
                comment = rng.choice(("Deposit", "Withdrawal", "Bonus"))
            else:
                name, digits, _, price, move, _ = SYMBOLS[rng.randrange(len(SYMBOLS))]
                open_price = round(price * (1 + rng.gauss(0, move)), digits)
                close_price = round(open_price * (1 + rng.gauss(0, move / 3)), digits)
                cmd = rng.randrange(2) if kind > 0.05 or close_s is None else rng.randrange(2, 6)  # 3 %: a cancelled pending order
                symbol, volume = name[:11], rng.choice((1, 1, 5, 10, 10, 20, 50, 100, 500, 1000))
                profit = round(rng.gauss(0, 40) * volume / 10, 2) if cmd < 2 and close_s is not None else 0.0
                commission, swaps = round(-0.35 * volume, 2), round(rng.gauss(0, 1.5), 2) if rng.random() < 0.3 else 0.0
                comment = rng.choice(("", "", "", "[sl]", "[tp]", "so: 50.0%/1234.56/2469.12"))
            yield (ticket, login, symbol, digits, cmd, volume, mysql_time(open_s * 1000), mysql_time(close_s * 1000) if close_s is not None else "1970-01-01 00:00:00",
                   open_price, close_price, 0.0, 0.0, commission, 0.0, swaps, profit, 0.0, rng.choice((0, 0, 0, 20240101)), comment, rng.choice((0, 1, 2, 3)),
                   (close_s if close_s is not None else open_s))


def _cumulative(weights):
    total = 0.0
    for weight in weights:
        total += weight
        yield total


def server_wall_ms(utc_ms: int) -> int:
    offset = zones.offset_at(ZONE, datetime.fromtimestamp(utc_ms / 1000, timezone.utc))
    return utc_ms + int(offset.total_seconds()) * 1000


def mysql_time(wall_ms: int) -> str:
    return (datetime(1970, 1, 1) + timedelta(milliseconds=wall_ms)).isoformat(sep=" ", timespec="milliseconds")


def tsv(value) -> str:
    if isinstance(value, float):
        return repr(value)
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def webapi_deal(row: tuple) -> dict:
    """A deal as the Web API's `deal/get_batch` sends it (every number a string), with the fields the SQL export
    serves, so the two MT5 sources serve the same deals and their digests must agree."""
    data = dict(zip(MT5_COLUMNS, row))
    return {"Deal": str(data["Deal"]), "Login": str(data["Login"]), "Order": str(data["Order"]), "PositionID": str(data["PositionID"]),
            "Action": str(data["Action"]), "Entry": str(data["Entry"]), "Reason": str(data["Reason"]), "Time": str(data["Time"] // 1000),
            "TimeMsc": str(data["TimeMsc"]), "Symbol": data["Symbol"], "Volume": str(data["Volume"]), "VolumeExt": str(data["VolumeExt"]),
            "VolumeClosed": str(data["VolumeClosed"]), "VolumeClosedExt": str(data["VolumeClosedExt"]),
            **{k: records.canonical_decimal(data[k]) for k in ("Price", "Profit", "Storage", "Commission", "Fee", "ContractSize")},
            "Digits": str(data["Digits"]), "DigitsCurrency": str(data["DigitsCurrency"]), "Comment": data["Comment"], "ExternalID": data["ExternalID"]}


def write_files(dataset: Dataset, folder: pathlib.Path) -> dict[str, pathlib.Path]:
    files = {"mt5": folder / "mt5_deals.tsv", "mt4": folder / "mt4_trades.tsv", "webapi": folder / "webapi_deals.txt"}
    with open(files["mt5"], "w") as mt5, open(files["webapi"], "w") as webapi:
        for _, row in dataset.mt5_deals():
            mt5.write("\t".join(tsv(mysql_time(v) if c in ("Time", "TimeMsc") else v) for c, v in zip(MT5_COLUMNS, row)) + "\n")
            deal = webapi_deal(row)
            webapi.write(f"{deal['Time']}\t{json.dumps(deal, separators=(',', ':'))}\n")
    with open(files["mt4"], "w") as mt4:
        for row in dataset.mt4_trades():
            mt4.write("\t".join(tsv(v) for v in row) + "\n")
    return files


def load_mariadb(url: str, dataset: Dataset, files: dict[str, pathlib.Path]) -> None:
    import pymysql

    from mtbridge.mysql import parse_url
    connection = pymysql.connect(**parse_url(url), autocommit=True, local_infile=True)
    with connection.cursor() as cursor:
        for name in ("mt5_sql_export", "mt4_report_server"):
            schema = (PACKAGE_ROOT / "sql" / f"{name}.sql").read_text()
            schema = "\n".join(line.split("--", 1)[0] for line in schema.splitlines())
            for statement in schema.split(";"):
                if statement.strip():
                    cursor.execute(statement)
        cursor.execute(f"LOAD DATA LOCAL INFILE %s INTO TABLE mt5_deals ({', '.join('`Order`' if c == 'Order' else c for c in MT5_COLUMNS)})",
                       (str(files["mt5"]),))
        cursor.execute(f"LOAD DATA LOCAL INFILE %s INTO TABLE mt4_trades ({', '.join(MT4_COLUMNS)})", (str(files["mt4"]),))
        cursor.executemany("INSERT INTO mt5_groups (`Group`, Timestamp, Currency) VALUES (%s, 1, %s)", GROUPS)
        cursor.executemany("INSERT INTO mt5_users (Login, Timestamp, `Group`, Leverage, Balance) VALUES (%s, 1, %s, 100, 1000)",
                           [(login, dataset.group_of[login][0]) for login in dataset.logins])
        cursor.executemany("INSERT INTO mt4_users (LOGIN, `GROUP`, LEVERAGE, BALANCE, ID) VALUES (%s, %s, 100, 1000, '')",
                           [(login, dataset.group_of[login][0].replace("\\", "-")[:16]) for login in dataset.logins])
        cursor.executemany("INSERT INTO mt5_symbols (Symbol, Timestamp, CurrencyBase, CurrencyProfit, CurrencyMargin, Digits, ContractSize)"
                           " VALUES (%s, 1, %s, %s, %s, %s, %s)", [(s[0], s[0][:3], s[5], s[0][:3], s[1], s[2]) for s in SYMBOLS])
        counts = {}
        for table in ("mt5_deals", "mt4_trades"):
            cursor.execute(f"ANALYZE TABLE {table}")
            cursor.fetchall()
            cursor.execute(f"SELECT count(*) FROM {table}")
            counts[table] = cursor.fetchone()[0]
    connection.close()
    expected = {"mt5_deals": dataset.count, "mt4_trades": dataset.count + dataset.count // 50}
    if counts != expected:
        raise SystemExit(f"bench-bridge: MariaDB holds {counts} rows; expected {expected}")


# -- the Web API stand-in, in its own process

def serve_standin(deals_file: str) -> int:
    """tests/webapi_standin.py's StandIn (handshake, sessions, pings, every other call as it is), with `deal/get_batch`
    answered from deals sorted by time and encoded once: the stand-in's own answer scans every deal per call and
    encodes the window each time, which would measure the stand-in rather than the bridge."""
    sys.path.insert(0, str(PACKAGE_ROOT))
    from tests.webapi_standin import StandIn

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})  # for sigwait below; the server's threads inherit it
    times, encoded = [], []
    with open(deals_file, "rb") as file:
        for line in file:
            when, _, text = line.rstrip(b"\n").partition(b"\t")
            times.append(int(when))
            encoded.append(text)
    standin = StandIn(login=WEBAPI_LOGIN, password=WEBAPI_PASSWORD)
    original = standin.server.RequestHandlerClass

    class IndexedDeals(original):
        def do_GET(self):
            if not self.path.startswith("/api/deal/get_batch?") or not getattr(self, "authenticated", False):
                return super().do_GET()
            from urllib.parse import parse_qs, urlsplit
            query = {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}
            low, high = int(query["from"]), int(query["to"])  # inclusive seconds, as MetaQuotes' range calls
            data = b'{"retcode":"0 Done","answer":[' + b",".join(encoded[bisect.bisect_left(times, low):bisect.bisect_right(times, high)]) + b"]}"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    standin.server.RequestHandlerClass = IndexedDeals
    print(f"listening on 127.0.0.1:{standin.port}", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    standin.stop()
    return 0


# -- the bridge under cProfile, every thread

def profiled_bridge(output: str, argv: list[str]) -> int:
    """`python3 -m mtbridge` with a cProfile profile per thread, merged into `output` at exit. `python3 -m cProfile`
    sees the main thread only, and the bridge reads its source in worker threads (asyncio.to_thread)."""
    import cProfile
    import pstats
    import threading

    from mtbridge import __main__ as bridge_main
    profiles, lock, run = [], threading.Lock(), threading.Thread.run

    def profiled_run(thread):
        profile = cProfile.Profile()
        profile.enable()
        try:
            run(thread)
        finally:
            profile.disable()
            with lock:
                profiles.append(profile)

    threading.Thread.run = profiled_run
    main = cProfile.Profile()
    main.enable()
    try:
        return bridge_main.main(argv)
    finally:
        main.disable()
        stats = pstats.Stats(main)
        with lock:
            for profile in profiles:
                stats.add(profile)
        stats.dump_stats(output)


# -- the client: the handshake of §2, then records counted by their line's prefix, not parsed

class Puller:
    def __init__(self, port: int, key_id: str, key: bytes):
        self.socket = socket.create_connection(("127.0.0.1", port))
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.pending: list[bytes] = []
        self.rest = b""
        hello = json.loads(self.line())
        client_nonce, when = protocol.new_nonce(), int(time.time() * 1000)
        self.send({"type": "auth", "version": 1, "key_id": key_id, "client_nonce": client_nonce, "time_ms": when,
                   "mac": protocol.auth_mac(key, hello["nonce"], client_nonce, key_id, str(when))})
        welcome = json.loads(self.line())
        if welcome.get("type") != "welcome" or welcome.get("mac") != protocol.welcome_mac(key, client_nonce, hello["nonce"]):
            raise SystemExit(f"bench-bridge: the bridge did not welcome us: {welcome}")
        self.requests = 0

    def close(self) -> None:
        self.socket.close()

    def send(self, message: dict) -> None:
        self.socket.sendall(protocol.encode(message))

    def line(self) -> bytes:
        while not self.pending:
            data = self.socket.recv(1 << 20)
            if not data:
                raise SystemExit("bench-bridge: the bridge closed the connection")
            self.pending = (self.rest + data).split(b"\n")
            self.rest = self.pending.pop()
            self.pending.reverse()
        return self.pending.pop()

    def request(self, method: str, params: dict, kind: str, keep: bool = False) -> tuple[int, dict, list[dict]]:
        """(records, the end line, the records parsed when `keep`) of one request."""
        self.requests += 1
        self.send({"type": "request", "id": f"r{self.requests}", "method": method, "params": params})
        prefix = b'{"type":"' + kind.encode() + b'"'
        count, kept = 0, []
        while True:
            line = self.line()
            if line.startswith(prefix):
                count += 1
                if keep:
                    kept.append(json.loads(line)["data"])
                continue
            message = json.loads(line)
            if message["type"] == "progress":
                continue
            if message["type"] != "end" or message["count"] != count:
                raise SystemExit(f"bench-bridge: {method} answered {message} after {count} records")
            return count, message, kept

    def pull(self, method: str, params: dict, kind: str, limit: int) -> tuple[int, int]:
        """Every record of a paged method (records, pages), paging as mtsync does."""
        total, pages, after = 0, 0, None
        while True:
            request = dict(params, limit=limit, **({"after": after} if after is not None else {}))
            count, end, _ = self.request(method, request, kind)
            total, pages = total + count, pages + 1
            if not end["more"]:
                return total, pages
            after = end["next"]

    def digest(self, stream: str, from_ms: int, to_ms: int) -> list[dict]:
        buckets = []
        for start in range(from_ms, to_ms, MAX_DIGEST_BUCKETS * HOUR_MS):
            params = {"stream": stream, "from_ms": start, "to_ms": min(to_ms, start + MAX_DIGEST_BUCKETS * HOUR_MS), "bucket_ms": HOUR_MS}
            buckets += self.request("digest", params, "bucket", keep=True)[2]
        return buckets


# -- CPU and memory

HZ = os.sysconf("SC_CLK_TCK")


def machine_busy_ticks() -> int:
    fields = open("/proc/stat").readline().split()
    return sum(int(fields[i]) for i in (1, 2, 3, 6, 7, 8))  # user nice system irq softirq steal


def process_ticks(pid: int) -> int:
    """utime + stime of a process, all its threads."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def peak_rss_kib(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


class CPUWindow:
    """Cores used over a run by the bridge, its source (MariaDB or the stand-in), this client and everything else."""

    def __init__(self, bridge: int, source: int):
        self.bridge, self.source = bridge, source
        self.start = (time.monotonic(), machine_busy_ticks(), process_ticks(bridge), process_ticks(source), sum(os.times()[:2]))

    def end(self) -> dict:
        started, busy, bridge, source, client = self.start
        elapsed = time.monotonic() - started
        bridge = (process_ticks(self.bridge) - bridge) / HZ
        source = (process_ticks(self.source) - source) / HZ
        client = sum(os.times()[:2]) - client
        other = max(0.0, (machine_busy_ticks() - busy) / HZ - bridge - source - client)
        return {"seconds": elapsed, "bridge": bridge / elapsed, "source": source / elapsed, "client": client / elapsed, "other": other / elapsed}


def calibration_us() -> float:
    """µs of one reference line (a deal's dict built from floats and encoded as the bridge does), best of three:
    this machine's speed just before a row. Shared virtual machines change speed between minutes with nothing in
    "other" to show it; rows measured at different speeds are compared through this column."""
    deal = {"Deal": "4294967301", "Login": "51234567", "Action": 1, "Entry": 1, "TimeMsc": "1762041600123", "Symbol": "EURUSD",
            "VolumeExt": "10000000", "Comment": "[sl 1.08341]"}
    best = math.inf
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(5000):
            line = dict(deal, Price=records.canonical_decimal(1.08341), Profit=records.canonical_decimal(-12.4))
            protocol.encode({"type": "deal", "id": "r1", "data": line})
        best = min(best, (time.perf_counter() - started) / 5000 * 1e6)
    return best


# Where a py-spy sample's time goes: each sample counts once, in the first group (in this order) whose text
# appears anywhere in its stack, so the most specific wins (JSON encoding inside `_send` is JSON encoding).
SAMPLE_GROUPS = [("pymysql/", "PyMySQL (protocol, decoding rows)"), ("json/encoder.py", "JSON encoding of lines"),
                 ("encode (mtbridge/protocol.py", "JSON encoding of lines"), ("json/decoder.py", "JSON decoding (Web API answers)"),
                 ("http/client.py", "HTTP client (Web API)"), ("canonical_line", "digest: canonical line, SHA-256, sums"),
                 ("line_prefix", "digest: canonical line, SHA-256, sums"), ("Bucket.add", "digest: canonical line, SHA-256, sums"),
                 ("canonical_decimal", "row to record: canonical_decimal"), ("to_milliseconds", "row to record: DATETIME to ms"),
                 ("to_int", "positions: to_int on strings"), ("deal_position", "positions: to_int on strings"),
                 ("trade_position", "positions: to_int on strings"), ("MT5SQLExport._deal", "row to record: the rest"),
                 ("MT4ReportServer._trade", "row to record: the rest"), ("Session._send", "event loop per line (write, wait_for(drain))"),
                 ("asyncio/", "event loop per line (write, wait_for(drain))"), ("threading.py", "threads"), ("concurrent/futures", "threads")]


def sample_summary(path: pathlib.Path) -> str:
    """py-spy's collapsed stacks (`--format raw`) as shares of the bridge's samples, by SAMPLE_GROUPS."""
    groups: dict[str, int] = {}
    total = worker = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        total += int(count)
        worker += int(count) if "_worker (concurrent" in stack or "Thread._bootstrap" in stack else 0
        group = next((name for text, name in SAMPLE_GROUPS if text in stack), "other")
        groups[group] = groups.get(group, 0) + int(count)
    shares = ", ".join(f"{name} {100 * n / total:.0f} %" for name, n in sorted(groups.items(), key=lambda g: -g[1]) if n * 100 >= total)
    return f"{total} samples; worker thread {100 * worker / max(total, 1):.0f} %: {shares}"


# -- the runs

class Bench:
    def __init__(self, args, workdir: pathlib.Path):
        sys.path.insert(0, str(PACKAGE_ROOT))
        from tests import support
        self.support, self.args, self.workdir = support, args, workdir
        self.key = bytes.fromhex(support.KEY_HEX)
        self.key_file = support.secret_file(workdir / "key", support.KEY_HEX + "\n")
        self.processes: list[subprocess.Popen] = []
        self.rows: list[dict] = []

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()

    def start(self, argv: list[str], name: str) -> tuple[subprocess.Popen, int]:
        process, port, log = self.support.started(argv, dict(os.environ))
        self.processes.append(process)
        shutil.move(str(log), self.workdir / f"{name}.log")
        return process, port

    def bridge(self, name: str, platform: str, source: str, profile: bool) -> tuple[subprocess.Popen, int]:
        config = self.workdir / f"{name}.toml"
        config.write_text(f'[listen]\naddress = "127.0.0.1:0"\n[auth]\nkey_id = "mtsync-1"\nkey_file = "{self.key_file}"\n'
                          f'[server]\nid = "bench-{platform}"\nplatform = "{platform}"\ntime_zone = "{ZONE}"\n[source]\n{source}\n')
        if profile:
            argv = [sys.executable, str(PACKAGE_ROOT / "bench.py"), "profiled-bridge", str(self.args.profile / f"{name}.pstats"), "--config", str(config)]
        else:
            argv = [sys.executable, "-m", "mtbridge", "--config", str(config)]
        return self.start(argv, name)

    def stop(self, process: subprocess.Popen) -> None:
        process.terminate()  # SIGTERM: the bridge stops serving and exits (a profiled one writes its profile)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def measure(self, label: str, platform: str, source: str, source_pid: int, work) -> dict:
        """One row: a fresh bridge process, `work(client)` timed, then the bridge's peak RSS."""
        name = label.split()[0] + "-" + "-".join(label.split()[1:]).replace("/", "")
        profile = self.args.profile is not None
        bridge, port = self.bridge(name, platform, source, profile)
        load = open("/proc/loadavg").read().split()[0]
        calibration = calibration_us()
        sampler = None
        if self.args.py_spy is not None:  # sampling, attached: the bridge runs as it would, py-spy's CPU shows in "other"
            sampler = subprocess.Popen(["py-spy", "record", "--pid", str(bridge.pid), "--rate", "200", "--format", "raw", "--nonblocking",
                                        "--output", str(self.args.py_spy / f"{name}.txt")], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
            self.processes.append(sampler)
            time.sleep(1)
        window = CPUWindow(bridge.pid, source_pid)
        client = Puller(port, "mtsync-1", self.key)
        result = work(client)
        cpu = window.end()
        client.close()
        if sampler is not None:
            sampler.send_signal(signal.SIGINT)  # py-spy writes its file and exits
            sampler.wait(60)
            say(f"    py-spy, {label}: {sample_summary(self.args.py_spy / f'{name}.txt')}")
        row = dict(result, label=label, load=load, calibration=calibration, peak_kib=peak_rss_kib(bridge.pid), **cpu)
        self.stop(bridge)
        self.rows.append(row)
        rate = row["records"] / row["seconds"]
        say(f"    {label}: {row['records']} records in {row['seconds']:.2f} s, {rate:,.0f}/s; bridge {row['peak_kib'] / 1024:.1f} MiB; "
            f"CPU bridge {row['bridge']:.2f}, source {row['source']:.2f}, client {row['client']:.2f}, other {row['other']:.2f} (load before {load}, "
            f"reference line {calibration:.1f} µs)")
        return row

    def source_rows(self, name: str, platform: str, source: str, source_pid: int, dataset: Dataset) -> list[dict]:
        method, kind, stream = ("deals", "deal", "deals") if platform == "mt5" else ("trades", "trade", "trades")
        params = {"from_ms": dataset.from_ms, "to_ms": dataset.to_ms, **({"set": "closed"} if platform == "mt4" else {})}
        for limit in self.args.limits:
            def paged(client, limit=limit):
                records_, pages = client.pull(method, params, kind, limit)
                return {"records": records_, "pages": pages, "limit": limit}
            row = self.measure(f"{name} {method}/{limit}", platform, source, source_pid, paged)
            if row["records"] != dataset.count:
                raise SystemExit(f"bench-bridge: {name} served {row['records']} {method}; {dataset.count} were loaded")

        def digest(client):
            buckets = client.digest(stream, dataset.from_ms, dataset.to_ms)
            return {"records": sum(b["count"] for b in buckets), "buckets": len(buckets), "digest": buckets}
        row = self.measure(f"{name} digest/hour", platform, source, source_pid, digest)
        if row["records"] != dataset.count or row["buckets"] != dataset.days * 24:
            raise SystemExit(f"bench-bridge: {name}'s digest counted {row['records']} records in {row['buckets']} buckets; "
                             f"expected {dataset.count} in {dataset.days * 24}")
        return row["digest"]


def run(args) -> int:
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="mtbridge-bench-"))
    workdir.chmod(0o711)  # MariaDB runs as the mysql user when we are root: it must reach its folder
    instance = REPO / "scripts" / "mariadb-instance"
    bench = None
    mariadb_started = False
    try:
        say(f"==> generating {args.deals} MT5 deals and {args.deals} closed MT4 trades (+ {args.deals // 50} open), seed {args.seed}")
        dataset = Dataset(args.deals, args.seed)
        files = write_files(dataset, workdir)
        say(f"    {dataset.days} server days from {dataset.first_day} ({ZONE}: the wall clock runs back an hour on {DST_SWITCH}), "
            f"{len(dataset.logins)} logins, {len(SYMBOLS)} symbols, tickets {(1 << 32) - args.deals // 2} to {(1 << 32) - args.deals // 2 + args.deals - 1}")
        bench = Bench(args, workdir)
        sources = args.sources
        if {"mt5-sql", "mt4-report"} & set(sources):
            say("==> starting a throwaway MariaDB (scripts/mariadb-instance) and loading it (LOAD DATA)")
            mariadb_started = True
            started = subprocess.run([str(instance), "start", str(workdir / "db")], capture_output=True, text=True, timeout=120)
            if started.returncode != 0:
                raise SystemExit(f"bench-bridge: scripts/mariadb-instance start failed: {started.stderr}")
            urls = json.loads(started.stdout)
            loading = time.monotonic()
            load_mariadb(urls["loader"], dataset, files)
            say(f"    loaded in {time.monotonic() - loading:.1f} s")
            mariadb_pid = int((workdir / "db" / "data" / "mysqld.pid").read_text())
            url_file = bench.support.secret_file(workdir / "db.url", urls["bridge"])
        digests = {}
        if "mt5-sql" in sources:
            say("==> MT5 SQL export (mt5_deals, index (TimeMsc, Deal)) in MariaDB")
            digests["mt5-sql"] = bench.source_rows("mt5-sql", "mt5", f'kind = "mt5-sql-export"\nurl_file = "{url_file}"', mariadb_pid, dataset)
        if "mt4-report" in sources:
            say("==> MT4 Report Server (mt4_trades, index (CLOSE_TIME, TICKET)) in MariaDB")
            source = (f'kind = "mt4-report-server"\nurl_file = "{url_file}"\ncustomer_id_column = "ID"\n'
                      '[source.group_currencies]\n"real-cent*" = "USC"\n"real-eur*" = "EUR"\n"*" = "USD"')
            bench.source_rows("mt4-report", "mt4", source, mariadb_pid, dataset)
        if "webapi" in sources:
            say("==> MT5 Web API stand-in (its own process; window_minutes 60, the default)")
            standin, standin_port = bench.start([sys.executable, str(PACKAGE_ROOT / "bench.py"), "standin", str(files["webapi"])], "standin")
            password = bench.support.secret_file(workdir / "webapi.password", WEBAPI_PASSWORD + "\n")
            source = f'kind = "mt5-web-api"\naddress = "http://127.0.0.1:{standin_port}"\nlogin = "{WEBAPI_LOGIN}"\npassword_file = "{password}"'
            digests["webapi"] = bench.source_rows("webapi", "mt5", source, standin.pid, dataset)
        if len(digests) == 2 and digests["mt5-sql"] != digests["webapi"]:
            raise SystemExit("bench-bridge: the MT5 SQL export's and the Web API's digests of the same deals differ")
        report(bench.rows, dataset, args, len(digests) == 2)
        return 0
    finally:
        if bench is not None:
            bench.stop_all()
        if mariadb_started and not args.keep:
            subprocess.run([str(instance), "stop", str(workdir / "db")], capture_output=True)
        if args.keep:
            say(f"==> kept: {workdir}" + (f" (MariaDB: scripts/mariadb-instance stop {workdir / 'db'})" if mariadb_started else ""))
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def report(rows: list[dict], dataset: Dataset, args, digests_agree: bool) -> None:
    cpu_model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    memory = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal")) / 1048576
    say("")
    say(f"==> {os.cpu_count()} core(s), {cpu_model}, {memory:.0f} GiB; Python {sys.version.split()[0]}; "
        f"{dataset.count} deals over {dataset.days} days; {datetime.now(timezone.utc):%Y-%m-%dT%H:%MZ}"
        + ("" if args.profile is None else "; PROFILED (cProfile in every thread): rates not comparable")
        + ("" if args.py_spy is None else "; sampled by py-spy (its CPU is in other)"))
    say(f"{'run':<28} {'records':>8} {'pages':>6} {'seconds':>8} {'deals/s':>9} {'buckets/s':>9} {'bridge RSS':>10}   CPU: bridge source client other   ref. µs")
    for row in rows:
        per_s = row["records"] / row["seconds"]
        buckets = f"{row['buckets'] / row['seconds']:9.1f}" if "buckets" in row else " " * 9
        pages = str(row.get("pages", row.get("buckets", "")))
        say(f"{row['label']:<28} {row['records']:>8} {pages:>6} {row['seconds']:>8.2f} {per_s:>9.0f} {buckets} {row['peak_kib'] / 1024:>6.1f} MiB"
            f"        {row['bridge']:.2f}   {row['source']:.2f}   {row['client']:.2f}  {row['other']:.2f}   {row['calibration']:7.1f}")
    say("deals/s: records served (MT4: closed trades; digest: deals summed) over the run's wall-clock time, handshake included,")
    say("bridge start-up not; pages: requests (digest: buckets); CPU: cores used over the run by the bridge process, its source")
    say("(mariadbd, or the Web API stand-in), this client, and other work on the machine (not this benchmark); ref. µs: one")
    say("reference line built and encoded in this process just before the row (the machine's speed then: lower is faster).")
    busiest = max(rows, key=lambda row: row["other"])
    if busiest["other"] >= 0.5:
        say(f"Other work used up to {busiest['other']:.2f} cores ({busiest['label']}): the bridge needs one core of {os.cpu_count()}, so rows "
            "beside that much other work are a lower bound. Run again on a quieter machine to compare.")
    if digests_agree:
        say("The MT5 SQL export's and the Web API's digests of the same deals are equal, bucket for bucket.")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["standin"]:
        return serve_standin(argv[1])
    if argv[:1] == ["profiled-bridge"]:
        return profiled_bridge(argv[1], argv[2:])
    parser = argparse.ArgumentParser(prog="scripts/bench-bridge", description=__doc__.split("\n\n")[0])
    parser.add_argument("--deals", type=int, default=200_000, help="MT5 deals, and MT4 closed trades (default 200000)")
    parser.add_argument("--limits", default="1000,10000", help="page sizes (default 1000,10000; the protocol's maximum is 10000)")
    parser.add_argument("--sources", default="mt5-sql,mt4-report,webapi", help="which sources (default mt5-sql,mt4-report,webapi)")
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--profile", type=pathlib.Path, help="run each bridge under cProfile (every thread), a .pstats file per row in this folder")
    parser.add_argument("--py-spy", type=pathlib.Path, help="sample each bridge with py-spy (pip install py-spy): collapsed stacks, DIR/<row>.txt")
    parser.add_argument("--keep", action="store_true", help="leave MariaDB running and the files, and say where")
    args = parser.parse_args(argv)
    args.limits = [int(limit) for limit in args.limits.split(",")]
    args.sources = args.sources.split(",")
    if args.deals < 100 or not all(1 <= limit <= protocol.MAX_LIMIT for limit in args.limits) \
            or not set(args.sources) <= {"mt5-sql", "mt4-report", "webapi"}:
        parser.error("--deals must be >= 100, --limits 1 to 10000, --sources of mt5-sql, mt4-report, webapi")
    for folder in ("profile", "py_spy"):
        if getattr(args, folder) is not None:
            setattr(args, folder, getattr(args, folder).resolve())
            getattr(args, folder).mkdir(parents=True, exist_ok=True)
    if args.py_spy is not None and not shutil.which("py-spy"):
        parser.error("--py-spy needs py-spy (pip install py-spy)")
    # Ctrl-C and SIGTERM unwind through run()'s cleanup: the bridges, the stand-in and MariaDB are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return run(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""The MT5 Web API (HTTPS to the access server) as a source (bridge-sources.md §4).

One authenticated keep-alive connection per bridge, as MetaQuotes' session is tied to its socket: the MD5
challenge-response of `/api/auth/start` + `/api/auth/answer` (the server is checked too, by `cli_rand_answer`), a
ping (`/api/test/access`) every 20 s while idle so the server does not close it at 180 s, and a new connection and
handshake when it is lost. Calls are serialized on it. `too frequent requests` (retcode 12) is retried after short
pauses, then surfaces as `rate_limited`; a lost connection or timeout as `mt_unavailable`.

The Web API has no paging and no cursor for deals: `/api/deal/get_batch?group=*` is read per time window
(`window`, default 1 h) and paged by `DealWindows` (deal_windows.py), which also handles its inclusive `to`. Edits and deletions have no journal: `changes` is not served, and
mtsync's reconcile finds them by `digest`.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import secrets
import ssl
import threading
import time
from decimal import Decimal
from urllib.parse import urlencode, urlsplit

from . import records, zones
from .deal_windows import DealWindows, Expiring
from .protocol import BridgeError

RATE_LIMITED = 12
PING_EVERY_S = 20.0


def password_hash(password: str) -> bytes:
    """MD5(MD5(UTF-16LE(password)) ‖ "WebAPI"), raw (MQ-AUTH step 2; the page's shorthand omits UTF-16LE)."""
    return hashlib.md5(hashlib.md5(password.encode("utf-16-le")).digest() + b"WebAPI").digest()


def challenge_answer(hashed: bytes, random_hex: str) -> str:
    return hashlib.md5(hashed + bytes.fromhex(random_hex)).hexdigest()


def retcode(answer: dict) -> int:
    text = str(answer.get("retcode", ""))
    try:
        return int(text.split(" ", 1)[0])
    except ValueError:
        raise BridgeError("mt_unavailable", "the Web API answered without a retcode") from None


class WebAPIClient:
    def __init__(self, url: str, login: str, password: str, *, agent: str = "mtbridge", version: int = 484, timeout: float = 60,
                 tls: ssl.SSLContext | None = None, ping_every_s: float = PING_EVERY_S, retry_pauses=(0.2, 0.6, 1.5)):
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("the Web API address must look like https://host:port")
        self._secure, self._host, self._port = parts.scheme == "https", parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
        self._login, self._hash = login, password_hash(password)
        self._agent, self._version, self._timeout, self._tls = agent, version, timeout, tls
        self._retry_pauses = retry_pauses
        self._lock = threading.Lock()
        self._connection: http.client.HTTPConnection | None = None
        self._last_used = time.monotonic()
        self._stop = threading.Event()
        self._pinger = threading.Thread(target=self._ping_loop, args=(ping_every_s,), name="webapi-ping", daemon=True)
        self._pinger.start()

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            if self._connection is not None:
                try:
                    self._request("/api/quit", {})
                except Exception:
                    pass
                self._drop()

    # -- the connection

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _request(self, path: str, params: dict) -> dict:
        assert self._connection is not None
        target = path + ("?" + urlencode(params) if params else "")
        self._connection.request("GET", target, headers={"Connection": "keep-alive"})
        response = self._connection.getresponse()
        body = response.read()
        self._last_used = time.monotonic()
        if response.status != 200:
            raise ConnectionError(f"HTTP {response.status}")
        return json.loads(body, parse_float=Decimal)

    def _open(self) -> None:
        if self._secure:
            connection = http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout, context=self._tls or ssl.create_default_context())
        else:
            connection = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        self._connection = connection
        start = self._request("/api/auth/start", {"version": self._version, "agent": self._agent, "login": self._login, "type": "manager"})
        if retcode(start) != 0:
            self._drop()
            raise BridgeError("mt_unavailable", f"the Web API refused the manager login (retcode {retcode(start)})")
        client_random = secrets.token_hex(16)
        answer = self._request("/api/auth/answer", {"srv_rand_answer": challenge_answer(self._hash, start["srv_rand"]), "cli_rand": client_random})
        if retcode(answer) != 0:
            self._drop()
            raise BridgeError("mt_unavailable", f"the Web API refused the password (retcode {retcode(answer)}): is it the manager's API password?")
        if answer.get("cli_rand_answer") != challenge_answer(self._hash, client_random):
            self._drop()
            raise BridgeError("mt_unavailable", "the Web API server did not prove it knows the password: not the configured server?")

    def call(self, path: str, params: dict):
        """The `answer` of a call, on the authenticated connection; reconnects once if the connection was lost."""
        with self._lock:
            for attempt, pause in enumerate((0.0,) + tuple(self._retry_pauses)):
                time.sleep(pause)
                try:
                    if self._connection is None:
                        self._open()
                    result = self._request(path, params)
                except (OSError, http.client.HTTPException, ConnectionError, ValueError) as error:
                    self._drop()  # a lost session: the next attempt connects and authenticates again
                    if attempt == len(self._retry_pauses):
                        raise BridgeError("mt_unavailable", f"the Web API did not answer ({error.__class__.__name__})") from None
                    continue
                code = retcode(result)
                if code == 0:
                    return result.get("answer")
                if code == RATE_LIMITED:
                    if attempt == len(self._retry_pauses):
                        raise BridgeError("rate_limited", "the Web API says requests are too frequent")
                    continue
                raise BridgeError("mt_unavailable", f"the Web API answered {path} with retcode {code}")
        raise AssertionError("unreachable")

    def _ping_loop(self, every: float) -> None:
        while not self._stop.wait(min(every, 5.0)):
            if time.monotonic() - self._last_used < every or not self._lock.acquire(blocking=False):
                continue
            try:
                if self._connection is not None and retcode(self._request("/api/test/access", {})) != 0:
                    self._drop()
            except Exception:
                self._drop()
            finally:
                self._lock.release()


class MT5WebAPI:
    platform = "mt5"

    def __init__(self, server_id: str, time_zone: str, client: WebAPIClient, *, window_ms: int = 3_600_000, currency_ttl_s: float = 600):
        self.server_id, self.time_zone, self.client, self.window_ms = server_id, time_zone, client, window_ms
        self.windows = DealWindows(self._read, window_ms)
        self.currencies = Expiring(currency_ttl_s)

    def capabilities(self) -> list[str]:
        return ["accounts", "symbols", "digest"]

    def server_info(self) -> dict:
        # `/api/time/get` is the trade server's own IMTConTime: its offset, not the configured rule's, goes into
        # server.info, so a wrong rule shows in mtsync bridge check as a clock the rule does not explain.
        answer = self.client.call("/api/time/get", {}) or {}
        try:
            said = zones.SourceTime.from_mt5_time("/api/time/get", int(answer["TimeZone"]), int(answer.get("DaylightState", 0)))
        except (KeyError, TypeError, ValueError):
            said = None  # an answer without the fields: serve the configured rule rather than fail server.info
        return zones.server_info_times(self.time_zone, source=said)

    # -- deals

    def _read(self, from_s: int, to_s: int) -> list[dict]:
        return self.client.call("/api/deal/get_batch", {"group": "*", "from": from_s, "to": to_s}) or []

    def deals(self, from_ms, to_ms, after, limit):
        return self.windows.deals(from_ms, to_ms, after, limit)

    def history(self, from_ms, to_ms):
        return self.windows.history(from_ms, to_ms)

    # -- accounts, symbols

    def _currency(self, group: str) -> str | None:
        return self.currencies.get(group, lambda: (self.client.call("/api/group/get", {"group": group}) or {}).get("Currency") or "") or None

    def accounts(self, after, limit):
        logins = sorted(int(login) for login in self.client.call("/api/user/logins", {"group": "*"}) or [])
        chosen = [login for login in logins if after is None or login > after][:limit]
        if not chosen:
            return []
        users = {int(u["Login"]): u for u in self.client.call("/api/user/get_batch", {"login": ",".join(map(str, chosen))}) or []}
        accounts = []
        for login in chosen:
            user = users.get(login)
            if user is None:  # deleted between the two calls
                continue
            account = {"login": str(login), "group": user["Group"], "leverage": int(user["Leverage"]),
                       "balance": records.canonical_decimal(user.get("Balance")), "credit": records.canonical_decimal(user.get("Credit"))}
            currency = self._currency(user["Group"])
            if currency:
                account["currency"] = currency
            if str(user.get("ClientID", "0")) not in ("", "0"):
                account["client_id"] = str(user["ClientID"])
            accounts.append(account)
        return accounts

    def symbols(self, after, limit):
        found, index = [], 0
        while True:
            batch = self.client.call("/api/symbol/next", {"index": index, "count": 100}) or []
            found += batch
            if len(batch) < 100:
                break
            index += len(batch)
        found.sort(key=lambda s: s["Symbol"].encode("utf-8"))
        chosen = [s for s in found if after is None or s["Symbol"].encode("utf-8") > after.encode("utf-8")][:limit]
        return [{"symbol": s["Symbol"], "path": s.get("Path", ""), "base_currency": s["CurrencyBase"], "profit_currency": s["CurrencyProfit"],
                 "margin_currency": s.get("CurrencyMargin", s["CurrencyBase"]), "contract_size": records.canonical_decimal(s["ContractSize"]),
                 "digits": int(s["Digits"]), "calc_mode": int(s.get("CalcMode", 0))} for s in chosen]

    def closed_trades(self, *args):
        raise NotImplementedError("MT5 serves deals")

    open_trades = daily = changes = closed_trades

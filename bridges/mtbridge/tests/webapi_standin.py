"""A stand-in for the MT5 Web API, written from MetaQuotes' documentation (bridge-sources.md §4), for the tests:
the MD5 challenge-response bound to the keep-alive connection, answers as `{"retcode": "0 Done", "answer": …}`
with every number a string, `deal/get_batch` by group and inclusive seconds, users, groups, symbols, pings — and
the failure modes a bridge must survive: `12 Too frequent requests`, a connection the server closes (the session
is gone with it), a wrong password (`1001 Invalid account`)."""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from mtbridge.webapi import challenge_answer, password_hash


def strings(value):
    """The Web API sends numbers as strings."""
    if isinstance(value, dict):
        return {k: strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strings(v) for v in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool) or type(value).__name__ == "Decimal":
        return str(value)
    return value


def ny_daylight_now() -> bool:
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo
    return bool(datetime.now(timezone.utc).astimezone(ZoneInfo("America/New_York")).dst())


class StandIn:
    def __init__(self, *, login: str, password: str, deals=(), users=(), groups=None, symbols=(), rate_limit_every: int = 0,
                 drop_connection_every: int = 0, time_zone_minutes: int = 120, daylight_state: bool | None = None):
        self.login, self.hash = login, password_hash(password)
        # IMTConTime as /api/time/get answers it; by default a ny-close server (GMT+2, on US daylight saving dates).
        self.time_zone_minutes = time_zone_minutes
        self.daylight_state = ny_daylight_now() if daylight_state is None else daylight_state
        self.deals, self.users, self.groups, self.symbols = list(deals), list(users), dict(groups or {}), list(symbols)
        self.rate_limit_every, self.drop_connection_every = rate_limit_every, drop_connection_every
        self.calls = 0
        self.handshakes = 0
        self.lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # each answer goes out at once, as a real server's would

            def log_message(self, *args):
                pass

            def do_GET(self):
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                status, body, close = standin.answer(self, parts.path, query)
                if body is None:  # the server ends the session: the connection closes, no answer
                    self.close_connection = True
                    return
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if close:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)
                if close:
                    self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    # One handler object lives as long as its connection: the session is its attributes.
    def answer(self, connection, path: str, query: dict):
        done = lambda answer=None: (200, {"retcode": "0 Done", **({"answer": strings(answer)} if answer is not None else {})}, False)
        if path == "/api/auth/start":
            if query.get("login") != self.login or query.get("type") != "manager":
                return 200, {"retcode": "1001 Invalid account"}, True
            connection.srv_rand = secrets.token_hex(16)
            return 200, {"retcode": "0 Done", "version_access": "4755", "srv_rand": connection.srv_rand}, False
        if path == "/api/auth/answer":
            if query.get("srv_rand_answer") != challenge_answer(self.hash, getattr(connection, "srv_rand", "00")):
                return 200, {"retcode": "1001 Invalid account"}, True
            connection.authenticated = True
            with self.lock:
                self.handshakes += 1
            return 200, {"retcode": "0 Done", "version_access": "4755", "version_trade": "4755",
                         "cli_rand_answer": challenge_answer(self.hash, query["cli_rand"])}, False
        if not getattr(connection, "authenticated", False):
            return 403, {"retcode": "8 Not enough permissions"}, True
        with self.lock:
            self.calls += 1
            calls = self.calls
        if path == "/api/test/access":
            return done()
        if path == "/api/quit":
            return 200, {"retcode": "0 Done"}, True
        if self.rate_limit_every and calls % self.rate_limit_every == 0:
            return 200, {"retcode": "12 Too frequent requests"}, False
        if self.drop_connection_every and calls % self.drop_connection_every == 0:
            return 200, None, True  # the server ends the session mid-conversation
        if path == "/api/time/get":
            return done({"TimeZone": self.time_zone_minutes, "Daylight": 1, "DaylightState": int(self.daylight_state)})
        if path == "/api/deal/get_batch":
            if query.get("group") != "*" or "from" not in query or "to" not in query:
                return 200, {"retcode": "3 Invalid parameters"}, False
            low, high = int(query["from"]), int(query["to"])  # inclusive seconds, as MetaQuotes' range calls
            return done([d for d in self.deals if low <= int(d["Time"]) <= high])
        if path == "/api/user/logins":
            return done([u["Login"] for u in self.users])
        if path == "/api/user/get_batch":
            wanted = set(query.get("login", "").split(","))
            return done([u for u in self.users if str(u["Login"]) in wanted])
        if path == "/api/group/get":
            if query.get("group") not in self.groups:
                return 200, {"retcode": "13 Not found"}, False
            return done({"Group": query["group"], "Currency": self.groups[query["group"]]})
        if path == "/api/symbol/next":
            index, count = int(query.get("index", 0)), int(query.get("count", 1))
            return done(self.symbols[index:index + count])
        return 200, {"retcode": "3 Invalid parameters"}, False

"""Serving the protocol over TCP (bridge-protocol §1–§5): one `Session` per connection, on asyncio streams.

Every deadline is the bridge's own: `auth` within 10 s of `hello`, a connection idle for 120 s is closed, a
client that stops reading is dropped after `write_timeout`. Backend calls run in a worker thread; while one runs,
a `progress` line goes out every 10 s so the client's read timeout does not fire.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import ssl
import time
from dataclasses import dataclass, field

from . import VERSION, protocol, records
from .backend import Backend
from .protocol import BridgeError

log = logging.getLogger("mtbridge")
MAX_DIGEST_BUCKETS = 744


@dataclass
class ServeOptions:
    keys: dict[str, bytes]  # key id -> key (≥ 32 bytes)
    bridge_name: str = f"mtbridge/{VERSION}"
    auth_deadline_s: float = protocol.AUTH_DEADLINE_S
    idle_close_s: float = protocol.IDLE_CLOSE_S
    progress_every_s: float = protocol.PROGRESS_EVERY_S
    write_timeout_s: float = 60.0
    # Sessions served at once: each may hold a worker thread and a source connection, so a client (or an attacker
    # past the firewall) opening connections in a loop must meet a limit before the source does. mtsync needs a few.
    max_connections: int = 16
    clock_ms: callable = field(default=lambda: int(time.time() * 1000))
    nonce: callable = field(default=protocol.new_nonce)


class Closed(Exception):
    """The session ends here (after an error that closes, a deadline, or the client leaving)."""


class Session:
    def __init__(self, backend: Backend, options: ServeOptions, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.backend, self.options, self.reader, self.writer = backend, options, reader, writer
        self.peer = writer.get_extra_info("peername")

    async def run(self) -> None:
        try:
            await self._handshake()
            while True:
                await self._serve_one()
        except Closed:
            pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception:  # a bug here must cost this connection only, never the bridge
            log.exception("session with %s failed", self.peer)
            await self._try_send(BridgeError("internal", "the bridge failed on this connection").line(None))
        finally:
            self.writer.close()
            try:
                await asyncio.wait_for(self.writer.wait_closed(), 5)
            except (asyncio.TimeoutError, asyncio.CancelledError, ConnectionError, ssl.SSLError, OSError):
                pass  # closing anyway; a cancelled wait (the bridge shutting down) ends the session all the same

    # -- framing

    async def _send(self, message: dict) -> None:
        self.writer.write(protocol.encode(message))
        await self._drain()

    async def _drain(self) -> None:
        """Waits until the client has taken what was written, at most write_timeout_s (a client that stops reading
        is dropped, not waited for)."""
        try:
            await asyncio.wait_for(self.writer.drain(), self.options.write_timeout_s)
        except asyncio.TimeoutError:
            raise Closed() from None

    async def _try_send(self, message: dict) -> None:
        try:
            await self._send(message)
        except (Closed, ConnectionError, OSError):
            pass

    async def _read(self, timeout: float) -> dict | None:
        """The next message; None for a line that is not one (answered with bad_request by the caller)."""
        try:
            line = await asyncio.wait_for(self.reader.readuntil(b"\n"), timeout)
        except asyncio.TimeoutError:
            raise Closed() from None
        except asyncio.LimitOverrunError:
            await self._try_send(BridgeError("line_too_long", f"a line is longer than {protocol.MAX_LINE} bytes").line(None))
            raise Closed() from None
        except asyncio.IncompleteReadError:
            raise Closed() from None
        if len(line) - 1 > protocol.MAX_LINE + (1 if line.endswith(b"\r\n") else 0):
            await self._try_send(BridgeError("line_too_long", f"a line is longer than {protocol.MAX_LINE} bytes").line(None))
            raise Closed()
        return protocol.decode(line[:-1])

    # -- §2

    async def _handshake(self) -> None:
        nonce = self.options.nonce()
        await self._send({"type": "hello", "protocol": protocol.PROTOCOL, "versions": list(protocol.VERSIONS),
                          "bridge": self.options.bridge_name, "nonce": nonce, "time_ms": self.options.clock_ms()})
        try:
            message = await self._read(self.options.auth_deadline_s)
            auth = protocol.parse_auth(message)
            key = self.options.keys.get(auth.key_id)
            fresh = abs(auth.time_ms - self.options.clock_ms()) <= protocol.AUTH_WINDOW_MS
            expected = protocol.auth_mac(key or b"\0" * 32, nonce, auth.client_nonce, auth.key_id, auth.time_ms_text)
            # Every check runs whatever the others said, and the MAC is compared in constant time.
            if not (hmac.compare_digest(expected, auth.mac) and key is not None and fresh):
                raise BridgeError("auth_failed", "authentication failed")
        except BridgeError as error:
            code = error.code if error.code in ("auth_required", "unsupported_version") else "auth_failed"
            message = {"auth_required": "authenticate first", "unsupported_version": error.message}.get(code, "authentication failed")
            log.info("refused %s: %s", self.peer, code)
            await self._try_send(BridgeError(code, message).line(None))
            raise Closed() from None
        await self._send({"type": "welcome", "version": auth.version, "server_id": self.backend.server_id,
                          "platform": self.backend.platform, "capabilities": self._capabilities(),
                          "mac": protocol.welcome_mac(key, auth.client_nonce, nonce)})

    def _capabilities(self) -> list[str]:
        main = "deals" if self.backend.platform == "mt5" else "trades"
        optional = [c for c in self.backend.capabilities() if c in ("accounts", "symbols", "digest", "changes", "daily")]
        return [main] + optional

    # -- §3

    async def _serve_one(self) -> None:
        try:
            message = await self._read(self.options.idle_close_s)
        except BridgeError as error:  # not a message: say so, keep the connection (the client's bug, not ours)
            await self._send(error.line(None))
            return
        kind = message.get("type")
        request_id = message.get("id")
        if kind == "ping":
            await self._send({"type": "pong", "id": request_id if isinstance(request_id, str) else None})
            return
        if kind != "request":
            await self._send(BridgeError("bad_request", f"expected a request or ping, got {str(kind)[:40]!r}").line(None))
            return
        if not isinstance(request_id, str) or not protocol.REQUEST_ID.fullmatch(request_id):
            await self._send(BridgeError("bad_request", "a request id is 1-64 characters of [A-Za-z0-9._:-]").line(None))
            return
        method, params = message.get("method"), message.get("params", {})
        if params is None:
            params = {}
        try:
            if not isinstance(params, dict):
                raise BridgeError("bad_request", "params must be an object")
            await self._dispatch(request_id, method, params)
        except BridgeError as error:
            await self._send(error.line(request_id))

    async def _dispatch(self, request_id: str, method, params: dict) -> None:
        platform = self.backend.platform
        capabilities = self._capabilities()
        if method == "server.info":
            info = await self._call(request_id, self.backend.server_info)
            data = {"server_id": self.backend.server_id, "platform": platform, "bridge": self.options.bridge_name, **info,
                    "capabilities": capabilities}
            await self._records(request_id, "server_info", [data])
            await self._end(request_id, 1, False, None)
        elif method == "deals" and platform == "mt5":
            await self._deals(request_id, params)
        elif method == "trades" and platform == "mt4":
            await self._trades(request_id, params)
        elif method in ("deals", "trades"):
            other = "deals" if platform == "mt5" else "trades"
            raise BridgeError("unknown_method", f"method {method} is not served by this bridge ({platform.upper()}: use {other})")
        elif method in ("accounts", "symbols", "digest", "changes", "daily") and method in capabilities:
            await getattr(self, "_" + method)(request_id, params)
        else:
            raise BridgeError("unknown_method", f"method {str(method)[:64]} is not served by this bridge")

    async def _call(self, request_id: str, function, *args):
        """Runs a blocking backend call in a thread, sending `progress` while it runs."""
        task = asyncio.ensure_future(asyncio.to_thread(function, *args))
        while True:
            done, _ = await asyncio.wait({task}, timeout=self.options.progress_every_s)
            if done:
                try:
                    return task.result()
                except BridgeError:
                    raise
                except Exception as error:  # the source failed: retryable, without its text (it may hold a DSN)
                    log.warning("a backend call for request %s failed: %s: %s", request_id, error.__class__.__name__, protocol.redact(str(error)))
                    raise BridgeError("mt_unavailable", f"the source did not answer ({error.__class__.__name__})") from None
            await self._send({"type": "progress", "id": request_id})

    async def _records(self, request_id: str, kind: str, rows) -> None:
        # A drain per 64 KiB written, not per line: a guarded drain per record was a third to a half of a pull's
        # time (docs/benchmarks.md). Memory stays bounded by the same 64 KiB, and `end` drains the rest.
        transport = self.writer.transport
        for row in rows:
            self.writer.write(protocol.encode({"type": kind, "id": request_id, "data": row}))
            if transport.get_write_buffer_size() >= 65_536:
                await self._drain()

    async def _end(self, request_id: str, count: int, more: bool, next_position) -> None:
        await self._send({"type": "end", "id": request_id, "count": count, "more": more, "next": next_position if more else None})

    async def _page(self, request_id: str, kind: str, fetch, limit: int, position) -> None:
        rows = await self._call(request_id, fetch, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        await self._records(request_id, kind, rows)
        await self._end(request_id, len(rows), more, position(rows[-1]) if rows else None)

    # -- §4

    async def _deals(self, request_id, params):
        from_ms, to_ms = protocol.time_range(params, "deals")
        limit = protocol.check_limit(params)
        after = params.get("after")
        if after is not None:
            if not isinstance(after, dict):
                raise BridgeError("bad_request", "after must be {time_msc, deal} or null")
            after = (protocol.integer(after.get("time_msc"), "after.time_msc"), protocol.integer(after.get("deal"), "after.deal", minimum=0))
        await self._page(request_id, "deal", lambda n: self.backend.deals(from_ms, to_ms, after, n), limit,
                         lambda r: {"time_msc": records.deal_position(r)[0], "deal": str(records.deal_position(r)[1])})

    async def _trades(self, request_id, params):
        limit = protocol.check_limit(params)
        which = params.get("set", "closed")
        after = params.get("after")
        if which == "open":
            if after is not None:
                if not isinstance(after, dict):
                    raise BridgeError("bad_request", "after must be {order} or null")
                after = protocol.integer(after.get("order"), "after.order", minimum=0)
            await self._page(request_id, "trade", lambda n: self.backend.open_trades(after, n), limit,
                             lambda r: {"order": str(records.to_int(r.get("order")))})
        elif which == "closed":
            from_ms, to_ms = protocol.time_range(params, "trades")
            if after is not None:
                if not isinstance(after, dict):
                    raise BridgeError("bad_request", "after must be {time, order} or null")
                after = (protocol.integer(after.get("time"), "after.time"), protocol.integer(after.get("order"), "after.order", minimum=0))
            await self._page(request_id, "trade", lambda n: self.backend.closed_trades(from_ms, to_ms, after, n), limit,
                             lambda r: {"time": records.trade_position(r)[0], "order": str(records.trade_position(r)[1])})
        else:
            raise BridgeError("bad_request", 'set must be "closed" or "open"')

    async def _accounts(self, request_id, params):
        limit = protocol.check_limit(params)
        after = params.get("after")
        after = None if after is None else protocol.integer(after, "after", minimum=0)
        await self._page(request_id, "account", lambda n: self.backend.accounts(after, n), limit,
                         lambda r: str(records.to_int(r.get("login"))))

    async def _symbols(self, request_id, params):
        limit = protocol.check_limit(params)
        after = params.get("after")
        if after is not None and not isinstance(after, str):
            raise BridgeError("bad_request", "after must be a symbol name or null")
        await self._page(request_id, "symbol", lambda n: self.backend.symbols(after, n), limit, lambda r: str(r.get("symbol")))

    async def _changes(self, request_id, params):
        limit = protocol.check_limit(params)
        since = protocol.integer(params.get("since", 0), "since", minimum=0)
        await self._page(request_id, "change", lambda n: self.backend.changes(since, n), limit, lambda r: {"seq": r["seq"]})

    async def _daily(self, request_id, params):
        from_ms, to_ms = protocol.time_range(params, "daily")
        limit = protocol.check_limit(params)
        after = params.get("after")
        if after is not None:
            if not isinstance(after, dict) or not isinstance(after.get("day"), str):
                raise BridgeError("bad_request", "after must be {day, login} or null")
            after = (after["day"], protocol.integer(after.get("login"), "after.login", minimum=0))
        await self._page(request_id, "daily", lambda n: self.backend.daily(from_ms, to_ms, after, n), limit,
                         lambda r: {"day": r["day"], "login": str(records.to_int(r.get("login")))})

    async def _digest(self, request_id, params):
        platform = self.backend.platform
        stream = params.get("stream")
        if stream != ("deals" if platform == "mt5" else "trades"):
            raise BridgeError("bad_request", f"digest of stream {str(stream)[:20]!r}: this {platform.upper()} bridge digests "
                                             f"{'deals' if platform == 'mt5' else 'trades'}")
        bucket_ms = params.get("bucket_ms")
        try:
            from_ms, to_ms = protocol.time_range(params, "digest")
        except BridgeError:
            from_ms = to_ms = None
        if (bucket_ms not in (3_600_000, 86_400_000) or isinstance(bucket_ms, bool) or from_ms is None
                or from_ms % bucket_ms or to_ms % bucket_ms):
            raise BridgeError("bad_request", "digest needs from_ms < to_ms, multiples of bucket_ms (3600000 or 86400000)")
        count = (to_ms - from_ms) // bucket_ms
        if count > MAX_DIGEST_BUCKETS:
            raise BridgeError("range_too_large", f"at most {MAX_DIGEST_BUCKETS} buckets per request")

        def summed():
            buckets = [records.Bucket(from_ms + i * bucket_ms, from_ms + (i + 1) * bucket_ms) for i in range(count)]
            for record in self.backend.history(from_ms, to_ms):
                when = records.record_time_ms(record, platform)
                if from_ms <= when < to_ms:
                    buckets[(when - from_ms) // bucket_ms].add(record, platform)
            return [b.data() for b in buckets]

        rows = await self._call(request_id, summed)
        await self._records(request_id, "bucket", rows)
        await self._end(request_id, len(rows), False, None)


async def serve(backend: Backend, options: ServeOptions, host: str, port: int, tls: ssl.SSLContext | None = None) -> asyncio.AbstractServer:
    """Starts listening; each connection gets its own Session."""
    open_sessions = 0

    async def accept(reader, writer):
        nonlocal open_sessions
        if open_sessions >= options.max_connections:
            # Over the cap: say so instead of hello (busy is retryable: mtsync backs off and comes back), and close.
            log.warning("refused a connection from %s: %d sessions open (listen.max_connections)", writer.get_extra_info("peername"), open_sessions)
            try:
                writer.write(protocol.encode({"type": "error", "id": None, "code": "busy", "retryable": True,
                                              "message": f"the bridge serves {options.max_connections} connections at most; retry later"}))
                await asyncio.wait_for(writer.drain(), options.write_timeout_s)
            except (asyncio.TimeoutError, ConnectionError, OSError):
                pass
            writer.close()
            return
        open_sessions += 1
        try:
            await Session(backend, options, reader, writer).run()
        finally:
            open_sessions -= 1
    return await asyncio.start_server(accept, host, port, ssl=tls, limit=protocol.MAX_LINE + 2)

"""A session against clients that misbehave and sources that fail, over real loopback TCP (bridge-protocol §1–§5)."""

from __future__ import annotations

import asyncio
import time
import unittest

from mtbridge import protocol, server
from mtbridge.backend import MemoryBackend

from .support import Client

KEY = bytes(range(32))


def deal(ticket: int, time_msc: int, login: int = 1001) -> dict:
    return {"Deal": str(ticket), "Login": str(login), "Order": str(ticket), "PositionID": str(ticket), "Action": 0, "Entry": 0, "Reason": 0,
            "Time": str(time_msc // 1000), "TimeMsc": str(time_msc), "Symbol": "EURUSD", "Volume": "10000", "VolumeExt": "100000000",
            "Price": "1.0342", "Profit": "0", "Storage": "0", "Commission": "-3.5", "Fee": "0", "ContractSize": "100000",
            "Digits": 5, "DigitsCurrency": 2, "Comment": "", "ExternalID": ""}


class SlowBackend(MemoryBackend):
    """Answers `deals` after a pause, or fails the way a source does."""

    def __init__(self, *args, pause: float = 0.0, failure: Exception | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.pause, self.failure = pause, failure

    def deals(self, from_ms, to_ms, after, limit):
        time.sleep(self.pause)
        if self.failure:
            raise self.failure
        return super().deals(from_ms, to_ms, after, limit)


class SessionTests(unittest.IsolatedAsyncioTestCase):
    async def start(self, backend=None, **options) -> int:
        backend = backend or MemoryBackend("live-mt5", "mt5", deals=[deal(700000 + i, 1735725600000 + i) for i in range(10)])
        self.listening = await server.serve(backend, server.ServeOptions(keys={"mtsync-1": KEY}, **options), "127.0.0.1", 0)
        self.addAsyncCleanup(self.stop)
        return self.listening.sockets[0].getsockname()[1]

    async def stop(self):
        self.listening.close()
        await self.listening.wait_closed()

    async def connected(self, port: int) -> Client:
        client = await Client.connect(port)
        self.addAsyncCleanup(client.close)
        _, welcome = await client.authenticate("mtsync-1", KEY)
        self.assertEqual(welcome["type"], "welcome")
        self.assertEqual(welcome["mac"], protocol.welcome_mac(KEY, "c" * 43, _["nonce"]))
        return client

    async def test_hello_carries_a_fresh_43_character_nonce_each_connection(self):
        port = await self.start()
        nonces = set()
        for _ in range(3):
            client = await Client.connect(port)
            hello = await client.read()
            await client.close()
            self.assertEqual(len(hello["nonce"]), 43)
            self.assertEqual(hello["versions"], [1])
            nonces.add(hello["nonce"])
        self.assertEqual(len(nonces), 3)

    async def test_connections_past_the_cap_are_told_busy_and_closed_and_a_freed_place_is_served_again(self):
        port = await self.start(max_connections=2)
        first, second = await self.connected(port), await self.connected(port)
        refused = await Client.connect(port)
        self.addAsyncCleanup(refused.close)
        answer = await refused.read()
        self.assertEqual((answer["type"], answer["code"], answer["retryable"], answer["id"]), ("error", "busy", True, None))
        self.assertIsNone(await refused.read(), "and the connection is closed")
        await first.send({"type": "ping", "id": "k1"})
        self.assertEqual((await first.read())["type"], "pong", "the sessions inside the cap go on")
        await second.close()
        for _ in range(50):  # the bridge notices the close on its next read
            later = await Client.connect(port)
            hello = await later.read()
            await later.close()
            if hello["type"] == "hello":
                break
            await asyncio.sleep(0.05)
        self.assertEqual(hello["type"], "hello")

    async def test_a_wrong_key_an_unknown_key_id_or_a_stale_clock_all_get_the_same_auth_failed_and_a_close(self):
        port = await self.start()
        for key_id, key, skew in [("mtsync-1", b"\xff" * 32, 0), ("nobody", KEY, 0), ("mtsync-1", KEY, 301_000)]:
            with self.subTest(key_id=key_id, skew=skew):
                client = await Client.connect(port)
                _, answer = await client.authenticate(key_id, key, time_ms=int(time.time() * 1000) - skew)
                self.assertEqual((answer["type"], answer["code"], answer["message"], answer["id"]), ("error", "auth_failed", "authentication failed", None))
                self.assertIsNone(await client.read())
                await client.close()

    async def test_an_unsupported_version_is_named(self):
        port = await self.start()
        client = await Client.connect(port)
        self.addAsyncCleanup(client.close)
        await client.read()
        await client.send({"type": "auth", "version": 2, "key_id": "mtsync-1", "client_nonce": "x", "time_ms": 0, "mac": "00"})
        answer = await client.read()
        self.assertEqual(answer["code"], "unsupported_version")
        self.assertIsNone(await client.read())

    async def test_a_client_silent_after_hello_is_closed_at_the_auth_deadline(self):
        port = await self.start(auth_deadline_s=0.3)
        client = await Client.connect(port)
        self.addAsyncCleanup(client.close)
        await client.read()
        started = time.monotonic()
        self.assertIsNone(await client.read(timeout=5))
        self.assertLess(time.monotonic() - started, 3)

    async def test_a_line_over_1_mib_is_refused_with_line_too_long_and_the_connection_closed(self):
        port = await self.start()
        client = await self.connected(port)
        await client.send_raw(b"{" + b" " * (protocol.MAX_LINE + 10))
        answer = await client.read()
        self.assertEqual(answer["code"], "line_too_long")
        self.assertIsNone(await client.read())

    async def test_garbage_after_welcome_is_a_bad_request_and_the_connection_goes_on(self):
        port = await self.start()
        client = await self.connected(port)
        for garbage in [b"not json\n", b"\xff\xfe\n", b"[1,2]\n", b'{"type":"request","id":"bad id!","method":"deals"}\n']:
            await client.send_raw(garbage)
            answer = await client.read()
            self.assertEqual((answer["type"], answer["code"]), ("error", "bad_request"), garbage)
        await client.send({"type": "ping", "id": "k1"})
        self.assertEqual(await client.read(), {"type": "pong", "id": "k1"})

    async def test_paging_serves_every_deal_once_in_order_whatever_the_limit(self):
        port = await self.start()
        client = await self.connected(port)
        for limit in (1, 3, 10, 11):
            with self.subTest(limit=limit):
                seen, after, page = [], None, 0
                while True:
                    page += 1
                    await client.send({"type": "request", "id": f"r{limit}-{page}", "method": "deals",
                                       "params": {"from_ms": 1735689600000, "to_ms": 1735776000000, "after": after, "limit": limit}})
                    while (line := await client.read())["type"] == "deal":
                        seen.append(int(line["data"]["Deal"]))
                    self.assertEqual(line["type"], "end")
                    if not line["more"]:
                        self.assertIsNone(line["next"])
                        break
                    self.assertEqual(line["next"]["deal"], str(seen[-1]))
                    after = line["next"]
                self.assertEqual(seen, [700000 + i for i in range(10)])

    async def test_a_slow_source_sends_progress_until_it_answers(self):
        backend = SlowBackend("live-mt5", "mt5", deals=[deal(1, 1735725600000)], pause=0.8)
        port = await self.start(backend, progress_every_s=0.2)
        client = await self.connected(port)
        await client.send({"type": "request", "id": "r1", "method": "deals", "params": {"from_ms": 1735689600000, "to_ms": 1735776000000}})
        kinds = []
        while (line := await client.read())["type"] != "end":
            kinds.append(line["type"])
        self.assertGreaterEqual(kinds.count("progress"), 2)
        self.assertEqual(kinds[-1], "deal")

    async def test_a_failing_source_is_a_retryable_mt_unavailable_that_never_repeats_the_source_error(self):
        failure = ConnectionRefusedError("mysql://bridge:hunter2@db:3306 refused")
        port = await self.start(SlowBackend("live-mt5", "mt5", failure=failure))
        client = await self.connected(port)
        with self.assertLogs("mtbridge", "WARNING") as logged:
            await client.send({"type": "request", "id": "r1", "method": "deals", "params": {"from_ms": 1735689600000, "to_ms": 1735776000000}})
            answer = await client.read()
        self.assertEqual((answer["code"], answer["retryable"], answer["id"]), ("mt_unavailable", True, "r1"))
        self.assertNotIn("hunter2", answer["message"])
        self.assertIn("mysql://bridge:[redacted]@db:3306 refused", "\n".join(logged.output), "the log says what failed, without the password")
        await client.send({"type": "ping", "id": "k2"})
        self.assertEqual((await client.read())["type"], "pong")

    async def test_methods_of_the_other_platform_and_capabilities_not_served_are_unknown(self):
        port = await self.start(MemoryBackend("live-mt5", "mt5", capabilities=["accounts"]))
        client = await self.connected(port)
        for method in ("trades", "digest", "changes", "nonsense"):
            await client.send({"type": "request", "id": "r1", "method": method, "params": {}})
            self.assertEqual((await client.read())["code"], "unknown_method", method)

    async def test_a_client_that_stops_reading_is_dropped_and_the_bridge_serves_others(self):
        many = [deal(800000 + i, 1735725600000 + i) for i in range(5000)]
        port = await self.start(MemoryBackend("live-mt5", "mt5", deals=many), write_timeout_s=0.5)
        stuck = await self.connected(port)
        await stuck.send({"type": "request", "id": "r1", "method": "deals", "params": {"from_ms": 1735689600000, "to_ms": 1735776000000, "limit": 10000}})
        await asyncio.sleep(1.5)  # never reads: the bridge's writes fill the socket and time out
        other = await self.connected(port)
        await other.send({"type": "ping", "id": "k9"})
        self.assertEqual(await other.read(), {"type": "pong", "id": "k9"})


if __name__ == "__main__":
    unittest.main()

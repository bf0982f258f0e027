"""The golden transcripts of bridge-protocol/transcripts, replayed against mtbridge over real TCP.

Each transcript was recorded from the simulator. Its bridge-side records become a MemoryBackend, the client's
lines are sent as recorded, and every line mtbridge answers must equal the recorded one, volatile fields apart:
the same paging, the same `end` lines, the same digests, the same errors.
"""

from __future__ import annotations

import json
import unittest

from mtbridge import protocol, server
from mtbridge.backend import MemoryBackend

from .support import Client, read_transcript, without

REPLAYED = ["deals-paging", "digest", "accounts", "symbols", "daily", "changes", "server-info", "error-auth-failed",
            "error-auth-required", "error-bad-request", "error-range-too-large", "error-unknown-method"]


def backend_from(header: dict, lines: list[dict]) -> tuple[MemoryBackend, str]:
    simulator = header["simulator"]
    found = {"deal": {}, "account": {}, "symbol": {}, "daily": {}, "change": {}}
    info, bridge_name, capabilities, platform = None, None, None, "mt5"
    for entry in lines:
        line = entry.get("line", {})
        if entry.get("from") != "bridge":
            continue
        kind = line.get("type")
        if kind == "hello":
            bridge_name = line["bridge"]
        elif kind == "welcome":
            capabilities, platform = line["capabilities"], line["platform"]
        elif kind == "server_info":
            info = {k: v for k, v in line["data"].items() if k not in ("server_id", "platform", "bridge", "capabilities")}
        elif kind == "deal":
            found["deal"][line["data"]["Deal"]] = line["data"]
        elif kind == "account":
            found["account"][line["data"]["login"]] = line["data"]
        elif kind == "symbol":
            found["symbol"][line["data"]["symbol"]] = line["data"]
        elif kind == "daily":
            found["daily"][(line["data"]["day"], line["data"]["login"])] = line["data"]
        elif kind == "change":
            found["change"][line["data"]["seq"]] = line["data"]
    optional = [c for c in (capabilities or []) if c not in ("deals", "trades")]
    backend = MemoryBackend(simulator["server_id"], platform, info=info, deals=found["deal"].values(), accounts=found["account"].values(),
                            symbols=found["symbol"].values(), daily=found["daily"].values(), changes=found["change"].values(),
                            capabilities=optional or None)
    return backend, bridge_name or "mtbridge-sim/1"


class TranscriptReplay(unittest.IsolatedAsyncioTestCase):
    async def replay(self, name: str) -> None:
        header, lines = read_transcript(name)
        simulator = header["simulator"]
        backend, bridge_name = backend_from(header, lines)
        options = server.ServeOptions(keys={simulator["key_id"]: bytes.fromhex(simulator["key_hex"])}, bridge_name=bridge_name)
        listening = await server.serve(backend, options, "127.0.0.1", 0)
        port = listening.sockets[0].getsockname()[1]
        volatile = header.get("volatile", [])
        client_key = bytes.fromhex(header.get("client_key_hex", simulator["key_hex"]))
        client = await Client.connect(port)
        try:
            hello = await client.read()
            self.assertEqual(without(hello, volatile), without(lines[0]["line"], volatile), "hello")
            for index, entry in enumerate(lines[1:], start=1):
                line = entry["line"]
                if entry["from"] == "client":
                    if line.get("type") == "auth":
                        import time
                        now = int(time.time() * 1000)
                        mac = protocol.auth_mac(client_key, hello["nonce"], line["client_nonce"], line["key_id"], str(now))
                        line = {**line, "time_ms": now, "mac": mac}
                    await client.send(line)
                else:
                    got = json.loads(json.dumps(await client.read(), default=str))
                    self.assertIsNotNone(got, f"{name}: line {index}: the bridge closed early")
                    self.assertEqual(without(got, volatile), without(line, volatile), f"{name}: line {index}")
            if header.get("closes"):
                self.assertIsNone(await client.read(), f"{name}: the bridge must close the connection")
        finally:
            await client.close()
            listening.close()
            await listening.wait_closed()

    async def test_every_recorded_transcript_is_reproduced(self):
        for name in REPLAYED:
            with self.subTest(transcript=name):
                await self.replay(name)


if __name__ == "__main__":
    unittest.main()

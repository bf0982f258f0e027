"""End to end: the simulator's history, exported to JSON lines, served by `python3 -m mtbridge` as a real process,
and judged by mtsync's own conformance checker, `mtsync bridge check`, with digests compared to the simulator's.

Needs the binaries `scripts/test` builds: MTSYNC_BIN (mtbridge-sim beside it). Without them the test fails and
says so; it never skips.
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import tempfile
import unittest

from .support import KEY_HEX, binaries, bridge_check, pull, serve_bridge, started, stop

FROM_MS, TO_MS = 1735689600000, 1735862400000  # 2025-01-01 .. 2025-01-03, server time


class BridgeCheck(unittest.IsolatedAsyncioTestCase):
    async def test_mtsync_bridge_check_accepts_mtbridge_serving_the_simulators_history(self):
        mtsync, simulator = binaries()
        env = dict(os.environ, MTBRIDGE_KEY=KEY_HEX)
        sim, sim_port, _ = started([simulator, "--port", "0", "--server-id", "sim-mt5", "--key-id", "mtsync-1", "--from", "2025-01-01",
                                    "--days", "2", "--deals-per-day", "150", "--seed", "7"], env)
        self.addCleanup(stop, sim)
        folder = pathlib.Path(tempfile.mkdtemp(prefix="mtbridge-check-"))
        export = folder / "export.jsonl"
        with export.open("w") as file:
            for method, params in [("deals", {"from_ms": FROM_MS, "to_ms": TO_MS}), ("accounts", {}), ("symbols", {}),
                                   ("daily", {"from_ms": FROM_MS, "to_ms": TO_MS})]:
                for row in await pull(sim_port, method, params):
                    file.write(json.dumps({"type": row["type"], "data": row["data"]}) + "\n")
        info = (await pull(sim_port, "server.info", {}))[0]["data"]
        bridge, port, log, key_file = serve_bridge(folder, server_id="sim-mt5", platform="mt5", time_zone=info["time_zone"]["rule"],
                                                   source=f'kind = "jsonl"\npath = "{export}"')
        self.addCleanup(stop, bridge)

        check = await asyncio.to_thread(bridge_check, mtsync, port, key_file, "2025-01-01", "2025-01-03", 97)
        self.assertEqual(check.returncode, 0, f"mtsync bridge check:\n{check.stdout}\n{check.stderr}\nbridge log:\n{log.read_text()}")
        report = json.loads(check.stdout)
        self.assertEqual(report["problems"], [])
        self.assertEqual(report["missing_fields"], {})
        self.assertGreater(report["records"], 250)  # 2 days × ~150 deals
        self.assertEqual((report["accounts"], report["symbols"]), (20, 8))
        self.assertEqual(report["digest_buckets_matching"], report["digest_buckets"])
        self.assertEqual(report["digest_buckets"], 48)

        # Two independent implementations of §4.7 agree, bucket by bucket.
        for bucket_ms in (3_600_000, 86_400_000):
            params = {"stream": "deals", "from_ms": FROM_MS, "to_ms": TO_MS, "bucket_ms": bucket_ms}
            ours, theirs = await pull(port, "digest", params), await pull(sim_port, "digest", params)
            self.assertEqual([r["data"] for r in ours], [r["data"] for r in theirs])
        self.assertNotIn(KEY_HEX, log.read_text())


if __name__ == "__main__":
    unittest.main()

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
import re
import subprocess
import sys
import tempfile
import time
import unittest

from .support import Client

KEY_HEX = "6d746272696467652d746573742d6b65792d6f662d33322d62797465732d2121"
FROM_MS, TO_MS = 1735689600000, 1735862400000  # 2025-01-01 .. 2025-01-03, server time
PACKAGE_ROOT = pathlib.Path(__file__).resolve().parents[1]


def binaries() -> tuple[str, str]:
    mtsync = os.environ.get("MTSYNC_BIN")
    if not mtsync or not os.access(mtsync, os.X_OK):
        raise AssertionError("MTSYNC_BIN must name a built mtsync binary (scripts/test sets it); this test needs mtsync and mtbridge-sim")
    simulator = str(pathlib.Path(mtsync).with_name("mtbridge-sim"))
    if not os.access(simulator, os.X_OK):
        raise AssertionError(f"{simulator} is missing: build the package (swift build) first")
    return mtsync, simulator


def started(argv, env, pattern=r"listening on [0-9.]+:(\d+)", timeout=60) -> tuple[subprocess.Popen, int, pathlib.Path]:
    log = pathlib.Path(tempfile.mkstemp(prefix="mtbridge-test-", suffix=".log")[1])
    with open(log, "wb") as output:
        process = subprocess.Popen(argv, env=env, stdout=output, stderr=subprocess.STDOUT, cwd=PACKAGE_ROOT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(pattern, log.read_text(errors="replace"))
        if match:
            return process, int(match.group(1)), log
        if process.poll() is not None:
            raise AssertionError(f"{argv[0]} exited {process.returncode}: {log.read_text(errors='replace')}")
        time.sleep(0.1)
    process.kill()
    raise AssertionError(f"{argv[0]} did not start: {log.read_text(errors='replace')}")


def stop(process: subprocess.Popen) -> None:
    process.kill()
    process.wait()


async def pull(port: int, method: str, params: dict, position=None) -> list[dict]:
    """Every record of a paged method, as mtsync would page it."""
    client = await Client.connect(port)
    try:
        _, welcome = await client.authenticate("mtsync-1", bytes.fromhex(KEY_HEX))
        assert welcome["type"] == "welcome", welcome
        rows, after, page = [], None, 0
        while True:
            page += 1
            request = dict(params, limit=1000)
            if after is not None:
                request["after"] = after
            await client.send({"type": "request", "id": f"r{page}", "method": method, "params": request})
            while (line := await client.read(timeout=30))["type"] not in ("end", "error"):
                if line["type"] != "progress":
                    rows.append(line)
            assert line["type"] == "end", line
            if not line["more"]:
                return rows
            after = line["next"]
    finally:
        await client.close()


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
        key_file = folder / "key"
        key_file.write_text(KEY_HEX + "\n")
        key_file.chmod(0o600)
        config = folder / "mtbridge.toml"
        config.write_text(f"""
[listen]
address = "127.0.0.1:0"
[auth]
key_id = "mtsync-1"
key_file = "{key_file}"
[server]
id = "sim-mt5"
platform = "mt5"
time_zone = "{info['time_zone']['rule']}"
[source]
kind = "jsonl"
path = "{export}"
""")
        bridge, port, log = started([sys.executable, "-m", "mtbridge", "--config", str(config)], dict(os.environ))
        self.addCleanup(stop, bridge)

        check = await asyncio.to_thread(subprocess.run, [mtsync, "bridge", "check", "--address", f"127.0.0.1:{port}", "--key-id", "mtsync-1", "--key-file", str(key_file),
                                "--from", "2025-01-01", "--to", "2025-01-03", "--page-size", "97", "--json"],
                               capture_output=True, text=True, timeout=300)
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

"""Shared by the tests: the spec folder, a transcript reader, and a minimal protocol client over real TCP."""

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
from decimal import Decimal

from mtbridge import protocol

PACKAGE_ROOT = pathlib.Path(__file__).resolve().parents[1]
REPO = PACKAGE_ROOT.parents[1]
SPEC = REPO / "bridge-protocol"
TRANSCRIPTS = SPEC / "transcripts"


def read_transcript(name: str) -> tuple[dict, list[dict]]:
    lines = [json.loads(line) for line in (TRANSCRIPTS / f"{name}.jsonl").read_text().splitlines() if line.strip()]
    return lines[0]["transcript"], lines[1:]


def without(message: dict, volatile: list[str]) -> dict:
    """The message with its volatile fields (dotted paths, or top-level names anywhere at the top) removed."""
    copy = json.loads(json.dumps(message))
    for path in volatile:
        parts = path.split(".")
        node = copy
        for part in parts[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
            if node is None:
                break
        if isinstance(node, dict):
            node.pop(parts[-1], None)
    return copy


class Client:
    """Speaks the client side of §2–§3 as mtsync does, over a real loopback connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int) -> "Client":
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=protocol.MAX_LINE + 2)
        return cls(reader, writer)

    async def read(self, timeout: float = 10) -> dict | None:
        line = await asyncio.wait_for(self.reader.readline(), timeout)
        if not line:
            return None
        return json.loads(line, parse_float=Decimal)

    async def send(self, message: dict) -> None:
        self.writer.write(protocol.encode(message))
        await self.writer.drain()

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def authenticate(self, key_id: str, key: bytes, *, time_ms: int | None = None, client_nonce: str = "c" * 43) -> tuple[dict, dict | None]:
        import time
        hello = await self.read()
        when = time_ms if time_ms is not None else int(time.time() * 1000)
        mac = protocol.auth_mac(key, hello["nonce"], client_nonce, key_id, str(when))
        await self.send({"type": "auth", "version": 1, "key_id": key_id, "client_nonce": client_nonce, "time_ms": when, "mac": mac})
        answer = await self.read()
        return hello, answer

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass


KEY_HEX = "6d746272696467652d746573742d6b65792d6f662d33322d62797465732d2121"


def binaries() -> tuple[str, str]:
    mtsync = os.environ.get("MTSYNC_BIN")
    if not mtsync or not os.access(mtsync, os.X_OK):
        raise AssertionError("MTSYNC_BIN must name a built mtsync binary (scripts/test sets it); this test needs mtsync and mtbridge-sim")
    simulator = str(pathlib.Path(mtsync).with_name("mtbridge-sim"))
    if not os.access(simulator, os.X_OK):
        raise AssertionError(f"{simulator} is missing: build the package (swift build) first")
    return mtsync, simulator


def started(argv, env, pattern=r"listening on [0-9.]+:(\d{1,5})(?!\d)", timeout=60) -> tuple[subprocess.Popen, int, pathlib.Path]:
    """Starts `argv` and waits for its "listening on HOST:PORT" line: the port is at most five digits and ends where
    the digits end, so a port glued to what another thread wrote next is never misread as a bigger number."""
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


def secret_file(path: pathlib.Path, text: str) -> pathlib.Path:
    """A secret as the bridge wants it: in a file only its owner may read."""
    path.write_text(text)
    path.chmod(0o600)
    return path


def serve_bridge(folder: pathlib.Path, *, server_id: str, platform: str, time_zone: str, source: str):
    """`python3 -m mtbridge` as a real process, on a free port, with the test key in a file and `source` as its
    [source] table; returns (process, port, log, key_file)."""
    key_file = secret_file(folder / "key", KEY_HEX + "\n")
    config = folder / "mtbridge.toml"
    config.write_text(f"""
[listen]
address = "127.0.0.1:0"
[auth]
key_id = "mtsync-1"
key_file = "{key_file}"
[server]
id = "{server_id}"
platform = "{platform}"
time_zone = "{time_zone}"
[source]
{source.strip()}
""")
    process, port, log = started([sys.executable, "-m", "mtbridge", "--config", str(config)], dict(os.environ))
    return process, port, log, key_file


def bridge_check(mtsync: str, port: int, key_file: pathlib.Path, from_day: str, to_day: str, page_size: int,
                 time_zone: str | None = None) -> subprocess.CompletedProcess:
    """`mtsync bridge check --json` against the bridge on `port` (with `--time-zone`: mtsync's zone for the server)."""
    zone = ["--time-zone", time_zone] if time_zone else []
    return subprocess.run([mtsync, "bridge", "check", "--address", f"127.0.0.1:{port}", "--key-id", "mtsync-1", "--key-file", str(key_file),
                           "--from", from_day, "--to", to_day, "--page-size", str(page_size), "--json", *zone],
                          capture_output=True, text=True, timeout=300)

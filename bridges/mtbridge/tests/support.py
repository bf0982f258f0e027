"""Shared by the tests: the spec folder, a transcript reader, and a minimal protocol client over real TCP."""

from __future__ import annotations

import asyncio
import json
import pathlib
from decimal import Decimal

from mtbridge import protocol

SPEC = pathlib.Path(__file__).resolve().parents[3] / "bridge-protocol"
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

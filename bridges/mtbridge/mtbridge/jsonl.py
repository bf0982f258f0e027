"""A source read from a JSON-lines export: `{"type": "deal"|"trade"|"open_trade"|"account"|"symbol"|"daily"|"change",
"data": {...}}` per line, numbers as strings or JSON numbers (read as exact decimals). For tests, demos and brokers
with an export job of their own; the whole file is held in memory, so keep it to what fits."""

from __future__ import annotations

import json
from decimal import Decimal

from . import zones
from .backend import MemoryBackend

KINDS = {"deal": "deals", "trade": "trades", "open_trade": "open_trades", "account": "accounts", "symbol": "symbols",
         "daily": "daily", "change": "changes"}


class JSONLinesBackend(MemoryBackend):
    def __init__(self, server_id: str, platform: str, time_zone: str, path: str):
        found = {name: [] for name in KINDS.values()}
        with open(path, encoding="utf-8") as file:
            for number, line in enumerate(file, start=1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line, parse_float=Decimal)
                    found[KINDS[entry["type"]]].append(entry["data"])
                except (ValueError, KeyError, TypeError):
                    raise ValueError(f"{path}:{number}: not a {{\"type\", \"data\"}} line of a known type") from None
        capabilities = ["digest"] + [c for c in ("accounts", "symbols", "daily", "changes") if found[c]]
        super().__init__(server_id, platform, capabilities=capabilities, **found)
        self.time_zone = time_zone

    def server_info(self) -> dict:
        return zones.server_info_times(self.time_zone)

"""The wire: line framing, messages, the HMAC handshake's MACs and the error table (bridge-protocol §1–§3).

Nothing here does I/O; `mtbridge.server` drives it over asyncio streams.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass

PROTOCOL = "mtbridge"
VERSIONS = (1,)
MAX_LINE = 1_048_576  # §1: bytes, not counting the newline
DEFAULT_PORT = 7465
MAX_LIMIT = 10_000
DEFAULT_LIMIT = 1_000
AUTH_WINDOW_MS = 300_000  # §2.3: ±300 s
AUTH_DEADLINE_S = 10.0  # §2.5
IDLE_CLOSE_S = 120.0  # §3: a bridge MAY close a connection idle this long
PROGRESS_EVERY_S = 10.0  # §3: at least every 15 s
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

# §3's table: code -> retryable.
ERRORS = {
    "bad_request": False,
    "unknown_method": False,
    "unsupported_version": False,
    "auth_required": False,
    "auth_failed": False,
    "line_too_long": False,
    "range_too_large": False,
    "changes_expired": False,
    "rate_limited": True,
    "busy": True,
    "mt_unavailable": True,
    "internal": True,
}


class BridgeError(Exception):
    """An `error` line: `code` from §3's table, a message for humans that never holds a secret."""

    def __init__(self, code: str, message: str):
        if code not in ERRORS:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def retryable(self) -> bool:
        return ERRORS[self.code]

    def line(self, request_id: str | None) -> dict:
        return {"type": "error", "id": request_id, "code": self.code, "retryable": self.retryable, "message": self.message}


def encode(message: dict) -> bytes:
    """One message as one line: compact JSON, UTF-8, `\\n` (§1)."""
    return (json.dumps(message, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def decode(line: bytes) -> dict:
    """A received line as a message; BridgeError `bad_request` when it is not a JSON object with a `type`."""
    if line.endswith(b"\r"):
        line = line[:-1]
    try:
        message = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise BridgeError("bad_request", f"the line is not UTF-8 JSON: {error.__class__.__name__}") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise BridgeError("bad_request", "a message is a JSON object with a string `type`")
    return message


def new_nonce() -> str:
    """32 fresh random bytes, base64url without padding (43 characters), §2.1."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")


def auth_mac(key: bytes, nonce: str, client_nonce: str, key_id: str, time_ms_text: str) -> str:
    text = f"mtbridge-v1 auth\n{nonce}\n{client_nonce}\n{key_id}\n{time_ms_text}"
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def welcome_mac(key: bytes, client_nonce: str, nonce: str) -> str:
    text = f"mtbridge-v1 welcome\n{client_nonce}\n{nonce}"
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Auth:
    """A checked `auth` message's parts."""

    version: int
    key_id: str
    client_nonce: str
    time_ms: int
    time_ms_text: str
    mac: str


def parse_auth(message: dict) -> Auth:
    """Reads `auth` (§2.2). Any malformed part is `auth_failed`: the bridge never says which check failed."""
    failed = BridgeError("auth_failed", "authentication failed")
    if message.get("type") != "auth":
        raise BridgeError("auth_required", "authenticate first: answer hello with auth")
    version, key_id, client_nonce, mac = (message.get(k) for k in ("version", "key_id", "client_nonce", "mac"))
    raw_time = message.get("time_ms")
    if not isinstance(version, int) or isinstance(version, bool):
        raise failed
    if version not in VERSIONS:
        raise BridgeError("unsupported_version", f"this bridge speaks protocol versions {list(VERSIONS)}")
    if not (isinstance(key_id, str) and isinstance(client_nonce, str) and isinstance(mac, str)):
        raise failed
    if isinstance(raw_time, int) and not isinstance(raw_time, bool):
        time_text = str(raw_time)
    elif isinstance(raw_time, str) and raw_time.isascii() and raw_time.isdigit():
        time_text = raw_time
    else:
        raise failed
    return Auth(version, key_id, client_nonce, int(time_text), time_text, mac)


def check_limit(params: dict) -> int:
    limit = params.get("limit", DEFAULT_LIMIT)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise BridgeError("bad_request", f"limit must be 1 to {MAX_LIMIT}")
    return limit


def integer(value, name: str, *, minimum: int = -(2**63), maximum: int = 2**64 - 1) -> int:
    """An integer parameter, sent as a JSON number or a string of digits (§0)."""
    if isinstance(value, bool):
        raise BridgeError("bad_request", f"{name} must be an integer")
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,20}", value):
        value = int(value)
    if not isinstance(value, int) or not minimum <= value <= maximum:
        raise BridgeError("bad_request", f"{name} must be an integer from {minimum} to {maximum}")
    return value


def time_range(params: dict, method: str) -> tuple[int, int]:
    try:
        from_ms = integer(params.get("from_ms"), "from_ms")
        to_ms = integer(params.get("to_ms"), "to_ms")
    except BridgeError:
        raise BridgeError("bad_request", f"{method} needs integer from_ms < to_ms") from None
    if from_ms >= to_ms:
        raise BridgeError("bad_request", f"{method} needs integer from_ms < to_ms")
    return from_ms, to_ms


_URL_PASSWORD = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)\S*@")
_SECRET_SETTING = re.compile(r"(?i)\b(password|passwd|pwd|secret|token|key)(\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|\S+)")


def redact(text: str) -> str:
    """`text` with URL passwords and `password=…`-style values replaced: what a source's error may say, made fit for
    a log (a driver's message can quote the DSN it failed to reach)."""
    return _SECRET_SETTING.sub(r"\1\2[redacted]", _URL_PASSWORD.sub(r"\1[redacted]@", text))


"""The bridge's one configuration file (TOML), checked whole at start: every problem named with its key."""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass

from . import zones


class ConfigError(Exception):
    pass


@dataclass
class Config:
    host: str
    port: int
    key_id: str
    key: bytes
    server_id: str
    platform: str
    time_zone: str
    source: dict
    tls_certificate: str | None = None
    tls_private_key: str | None = None
    tls_client_ca: str | None = None
    max_connections: int = 16

    def __repr__(self) -> str:  # never the key
        return f"Config(server {self.server_id}, {self.platform}, listen {self.host}:{self.port}, key id {self.key_id})"


def load(path: str, environment=os.environ) -> Config:
    try:
        # utf-8-sig: Windows editors (Notepad, PowerShell 5.1's Set-Content) put a byte order mark in front.
        with open(path, encoding="utf-8-sig") as file:
            raw = tomllib.loads(file.read())
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None
    problems = []

    def section(name):
        value = raw.get(name, {})
        if not isinstance(value, dict):
            problems.append(f"[{name}] must be a table")
            return {}
        return value

    listen, auth, server, source = section("listen"), section("auth"), section("server"), section("source")
    unknown = set(raw) - {"listen", "auth", "server", "source"}
    problems += [f"unknown section [{name}]" for name in sorted(unknown)]

    address = str(listen.get("address", "127.0.0.1:7465"))
    host, _, port_text = address.rpartition(":")
    if not host or not port_text.isdigit() or not 0 <= int(port_text) < 65536:
        problems.append(f"listen.address {address!r} must be host:port (port 0: any free port)")
        port = 0
    else:
        port = int(port_text)

    key_id = auth.get("key_id")
    if not isinstance(key_id, str) or not key_id:
        problems.append("auth.key_id is required: the key id mtsync is configured with")
    key = b""
    if "key_file" in auth and "key_env" in auth:
        problems.append("auth: give key_file or key_env, not both")
    elif "key_file" in auth:
        key_text = _read_secret_file(str(auth["key_file"]), "auth.key_file", problems)
        key = _key(key_text, "auth.key_file", problems) if key_text is not None else b""
    else:
        variable = str(auth.get("key_env", "MTBRIDGE_KEY"))
        key_text = environment.get(variable)
        if key_text is None:
            problems.append(f"no key: set auth.key_file, or the environment variable {variable}")
        else:
            key = _key(key_text.strip(), f"${variable}", problems)

    server_id = server.get("id")
    if not isinstance(server_id, str) or not server_id:
        problems.append("server.id is required: the id mtsync knows this server by")
    platform = server.get("platform")
    if platform not in ("mt5", "mt4"):
        problems.append('server.platform must be "mt5" or "mt4"')
    time_zone = str(server.get("time_zone", ""))
    try:
        zones.check(time_zone)
    except ValueError as error:
        problems.append(f"server.{error}")
    kind = source.get("kind")
    if kind == "jsonl":
        if not isinstance(source.get("path"), str):
            problems.append("source.path is required: the JSON-lines export to serve")
    elif kind == "mt5-sql-export":
        if platform != "mt5":
            problems.append('source.kind "mt5-sql-export" serves an MT5 server: server.platform must be "mt5"')
        source = dict(source, url=_database_url(source, environment, problems))
    elif kind == "mt4-report-server":
        if platform != "mt4":
            problems.append('source.kind "mt4-report-server" serves an MT4 server: server.platform must be "mt4"')
        currencies = source.get("group_currencies", {})
        if not isinstance(currencies, dict) or not all(isinstance(v, str) and 3 <= len(v) <= 4 for v in currencies.values()):
            problems.append('source.group_currencies maps group masks to currencies, first match wins: { "real*" = "USD" }')
        column = source.get("customer_id_column")
        if column is not None and column not in ("ID", "COMMENT", "LEAD_SOURCE"):
            problems.append('source.customer_id_column must be "ID", "COMMENT" or "LEAD_SOURCE" (the mt4_users column holding your customer id)')
        source = dict(source, url=_database_url(source, environment, problems))
    elif kind == "mt5-web-api":
        if platform != "mt5":
            problems.append('source.kind "mt5-web-api" serves an MT5 server: server.platform must be "mt5"')
        if not str(source.get("address", "")).startswith(("https://", "http://")):
            problems.append("source.address must be the access server's https://host:port")
        if not str(source.get("login", "")).isdigit():
            problems.append("source.login must be the manager's login (digits)")
        source = dict(source, password=_secret(source, "password", "MTBRIDGE_WEBAPI_PASSWORD", environment, problems))
    elif kind == "mt5-manager":
        source = _mt5_manager(source, platform, environment, problems)
    else:
        problems.append('source.kind must be "jsonl", "mt5-sql-export", "mt4-report-server", "mt5-web-api" or "mt5-manager"')
    if kind in ("mt5-sql-export", "mt4-report-server"):
        _database_changes(source, problems)

    max_connections = listen.get("max_connections", 16)
    if not isinstance(max_connections, int) or isinstance(max_connections, bool) or not 1 <= max_connections <= 1024:
        problems.append("listen.max_connections must be an integer from 1 to 1024 (sessions served at once)")
        max_connections = 16
    tls = {k: listen.get(k) for k in ("tls_certificate", "tls_private_key", "tls_client_ca")}
    if bool(tls["tls_certificate"]) != bool(tls["tls_private_key"]):
        problems.append("listen: tls_certificate and tls_private_key go together")
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems))
    return Config(host, port, key_id, key, server_id, platform, time_zone, source, **tls, max_connections=max_connections)


def _integers_at_least(source: dict, bounds, problems: list) -> None:
    """Each optional `source.<name>` of `bounds` ((name, minimum), …), when given, an integer of at least its minimum."""
    for name, minimum in bounds:
        value = source.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < minimum):
            problems.append(f"source.{name} must be an integer of at least {minimum}")


def _database_changes(source: dict, problems: list) -> None:
    """`changes` for a report database: on when `journal` names the file the sweep keeps its journal in."""
    if "journal" in source and (not isinstance(source["journal"], str) or not source["journal"]):
        problems.append("source.journal is the file the changes journal is kept in (SQLite), on a local disk; leave it out to serve no changes")
    _integers_at_least(source, (("changes_window_days", 1), ("retention_days", 7), ("max_changes", 1000)), problems)
    minutes = source.get("sweep_minutes")
    if minutes is not None and (not isinstance(minutes, (int, float)) or isinstance(minutes, bool) or not 0.01 <= minutes <= 1440):
        problems.append("source.sweep_minutes must be a number of minutes from 0.01 to 1440 (how often the window is compared)")


def _mt5_manager(source: dict, platform, environment, problems: list) -> dict:
    """The Manager API's settings, checked; the password from `password_file` or `password_env`."""
    if platform != "mt5":
        problems.append('source.kind "mt5-manager" serves an MT5 server: server.platform must be "mt5"')
    if not isinstance(source.get("address"), str) or ":" not in source["address"]:
        problems.append('source.address must be the MT5 access server as host:port, e.g. "mt5.example.com:443"')
    if not str(source.get("login", "")).isdigit():
        problems.append("source.login must be the manager's login (digits)")
    if not isinstance(source.get("journal"), str) or not source["journal"]:
        problems.append("source.journal is required: the file the changes journal is kept in (SQLite), on a local disk")
    modes = source.get("pump_modes", ["ORDERS", "POSITIONS", "GROUPS", "SYMBOLS", "TIME"])
    if not isinstance(modes, list) or not all(isinstance(m, str) for m in modes):
        problems.append('source.pump_modes is a list of pump mode names, e.g. ["ORDERS", "POSITIONS", "GROUPS", "SYMBOLS", "TIME"]')
    elif not {"ORDERS", "POSITIONS"} <= set(modes):
        problems.append("source.pump_modes must include ORDERS and POSITIONS: the deal sink that feeds `changes` gets no events without them")
    if not isinstance(source.get("group_mask", "*"), str):
        problems.append('source.group_mask is a group mask ("*": every group the manager may see)')
    _integers_at_least(source, (("window_minutes", 1), ("retention_days", 7), ("max_changes", 1000)), problems)
    return dict(source, password=_secret(source, "password", "MTBRIDGE_MANAGER_PASSWORD", environment, problems))


def _secret(source: dict, name: str, default_env: str, environment, problems: list) -> str:
    """A secret of the source (a password): from `<name>_file` (chmod 600) or `<name>_env`, never from this file."""
    if name in source:
        problems.append(f"source.{name}: secrets never go in this file: use source.{name}_file (chmod 600) or ${default_env}")
        return ""
    if f"{name}_file" in source:
        return _read_secret_file(str(source[f"{name}_file"]), f"source.{name}_file", problems) or ""
    variable = str(source.get(f"{name}_env", default_env))
    value = environment.get(variable)
    if not value:
        problems.append(f"no {name}: set source.{name}_file, or the environment variable {variable}")
        return ""
    return value


def _database_url(source: dict, environment, problems: list) -> str:
    """The report database's URL (it holds a password): from `url_file` or `url_env`, never from this file."""
    return _secret(source, "url", "MTBRIDGE_DB_URL", environment, problems)


def _read_secret_file(path: str, where: str, problems: list) -> str | None:
    """A secret's file, refused when others may read it; None (and a problem) when it cannot be read."""
    try:
        if os.name == "posix" and os.stat(path).st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            problems.append(f"{where} {path} is readable by others: chmod 600 it")
        with open(path, encoding="utf-8-sig") as file:
            return file.read().strip()
    except OSError as error:
        problems.append(f"{where} {path}: {error.strerror}")
        return None


def _key(text: str, where: str, problems: list) -> bytes:
    try:
        key = bytes.fromhex(text)
    except ValueError:
        problems.append(f"{where} must hold the key as hex")
        return b""
    if len(key) < 32:
        problems.append(f"{where} holds {len(key)} bytes; a key is at least 32 random bytes (64 hex characters)")
    return key

"""`python3 -m mtbridge --config mtbridge.toml`: serve one MetaTrader server to mtsync (bridge-protocol/)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import ssl
import sys

from . import VERSION, config, server
from .jsonl import JSONLinesBackend


def make_backend(settings):
    if settings.source["kind"] == "jsonl":
        return JSONLinesBackend(settings.server_id, settings.platform, settings.time_zone, settings.source["path"])
    if settings.source["kind"] == "mt4-report-server":
        from .mt4_report_server import MT4ReportServer
        return MT4ReportServer(settings.server_id, settings.time_zone, settings.source["url"],
                               group_currencies=list(settings.source.get("group_currencies", {}).items()),
                               customer_id_column=settings.source.get("customer_id_column"))
    if settings.source["kind"] == "mt5-web-api":
        from .webapi import MT5WebAPI, WebAPIClient
        tls = None
        if settings.source.get("tls_ca"):
            tls = ssl.create_default_context(cafile=settings.source["tls_ca"])
        client = WebAPIClient(settings.source["address"], str(settings.source["login"]), settings.source["password"], tls=tls)
        return MT5WebAPI(settings.server_id, settings.time_zone, client, window_ms=int(settings.source.get("window_minutes", 60)) * 60_000)
    if settings.source["kind"] == "mt5-manager":
        from . import mt5manager
        source = settings.source
        package = mt5manager.load_package()
        journal = mt5manager.ChangeJournal(source["journal"], retention_days=int(source.get("retention_days", 14)),
                                           max_changes=int(source.get("max_changes", 5_000_000)))
        session = mt5manager.ManagerSession(package, source["address"], int(source["login"]), source["password"],
                                            pump_modes=tuple(source.get("pump_modes", mt5manager.DEFAULT_PUMP_MODES)))
        return mt5manager.MT5Manager(settings.server_id, settings.time_zone, session, journal, group_mask=source.get("group_mask", "*"),
                                     window_ms=int(source.get("window_minutes", 60)) * 60_000)
    from .mt5_sql_export import MT5SQLExport
    return MT5SQLExport(settings.server_id, settings.time_zone, settings.source["url"])


def with_changes(settings, backend):
    """A report database with `source.journal` also serves `changes`, swept from the database (db_changes.py); the
    sweep is returned to be started when serving (not for --check-config). Other sources: as they are, no sweep."""
    if settings.source["kind"] not in ("mt5-sql-export", "mt4-report-server") or not settings.source.get("journal"):
        return backend, None
    from .db_changes import DatabaseChanges, WithDatabaseChanges
    from .journal import ChangeJournal
    source = settings.source
    journal = ChangeJournal(source["journal"], retention_days=int(source.get("retention_days", 14)),
                            max_changes=int(source.get("max_changes", 5_000_000)))
    sweep = DatabaseChanges(backend, journal, window_days=int(source.get("changes_window_days", 3)),
                            sweep_minutes=float(source.get("sweep_minutes", 5)))
    return WithDatabaseChanges(backend, journal), sweep


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="mtbridge", description=__doc__)
    parser.add_argument("--config", required=True, help="the TOML configuration file")
    parser.add_argument("--check-config", action="store_true", help="check the configuration and the source, then exit")
    parser.add_argument("--version", action="version", version=f"mtbridge {VERSION}")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = config.load(args.config)
        backend, sweep = with_changes(settings, make_backend(settings))
    except (config.ConfigError, ValueError, OSError, ImportError) as error:
        print(f"mtbridge: {error}", file=sys.stderr)
        return 78  # EX_CONFIG, as mtsync
    if args.check_config:
        try:
            backend.server_info()
            backend.accounts(None, 1) if "accounts" in backend.capabilities() else None
        except Exception as error:  # the source is unreachable or refuses: name the kind of failure, not its text
            print(f"mtbridge: the source does not answer: {error.__class__.__name__}", file=sys.stderr)
            return 69  # EX_UNAVAILABLE
    if args.check_config:
        print(f"ok: {settings!r}, capabilities {backend.capabilities()}")
        return 0
    if sweep is not None:
        sweep.start()
    try:
        return asyncio.run(run(settings, backend, tls_context(settings)))
    finally:
        if sweep is not None:
            sweep.stop()


def tls_context(settings) -> ssl.SSLContext | None:
    """The listener's TLS (bridge-protocol §1): 1.2 or later; mtsync's client certificate required with tls_client_ca."""
    if not settings.tls_certificate:
        return None
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.minimum_version = ssl.TLSVersion.TLSv1_2
    tls.load_cert_chain(settings.tls_certificate, settings.tls_private_key)
    if settings.tls_client_ca:
        tls.load_verify_locations(settings.tls_client_ca)
        tls.verify_mode = ssl.CERT_REQUIRED
    return tls


async def run(settings, backend, tls, stop: asyncio.Event | None = None) -> int:
    """Serves until SIGINT or SIGTERM, or until `stop` is set (the Windows service sets it: windows_service.py)."""
    options = server.ServeOptions(keys={settings.key_id: settings.key}, max_connections=settings.max_connections)
    listening = await server.serve(backend, options, settings.host, settings.port, tls)
    address = listening.sockets[0].getsockname()
    logging.getLogger("mtbridge").info("serving %s (%s) on %s:%d%s", settings.server_id, settings.platform, address[0], address[1],
                                       " over TLS" if tls else "")
    # One write with its newline: print() writes the text and the newline apart, and unbuffered (PYTHONUNBUFFERED,
    # a service manager) a log line from another thread landed between them, gluing the port to its timestamp.
    sys.stdout.write(f"listening on {address[0]}:{address[1]}\n")
    sys.stdout.flush()
    if stop is None:
        stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signal_number, stop.set)
        except NotImplementedError:  # Windows: Ctrl-C still raises KeyboardInterrupt
            pass
    async with listening:
        await stop.wait()
        listening.close()
        # From Python 3.12 on, leaving this block waits until every connection has ended, and mtsync keeps its
        # connections open (a ping every 30 s): end the sessions now; each closes its connection on the way out.
        for task in asyncio.all_tasks() - {asyncio.current_task()}:
            task.cancel()
    return 0


if __name__ == "__main__":
    sys.exit(main())

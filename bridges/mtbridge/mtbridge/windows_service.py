"""The bridge as a Windows service (pywin32), registered by install/install.ps1; Windows only.

    python -m mtbridge.windows_service [--config=PATH] install|update|remove|start|stop|restart|debug

is pywin32's own service command line (`win32serviceutil.HandleCommandLine`), plus `--config=PATH`, kept in the
service's registry key (`Parameters\\config`) and read at every start (default %ProgramData%\\mtbridge\\mtbridge.toml).
The service runs exactly what `mtbridge --config PATH` runs (`__main__.run`); a stop or a system shutdown sets the
stop event that SIGTERM sets on Linux, so the listener closes and the sessions end the same way.

Why pythonservice.exe, and why it works from a venv: pywin32 hosts a service in `pythonservice.exe`, which embeds
Python and imports the class named in the service's `PythonClass` registry value. Since pywin32 305, registering a
service copies `pythonservice.exe` into `sys.exec_prefix` (the venv's own folder, beside `pyvenv.cfg`, so the
embedded Python finds the venv's site-packages the way a venv's python.exe does) and `pywintypesXY.dll` beside the
base Python's `pythonXY.dll`. What it cannot do is make `pythonXY.dll` findable from the venv's folder: install.ps1
puts the base Python's folder on the service's own PATH (its `Environment` registry value). The alternatives are
worse: a venv's `Scripts\\python.exe` is a launcher that starts the base python.exe as a child process, which the
service control manager does not know; pywin32's post-install script must not be run in a venv (its README).

The class is registered by its dotted name (`mtbridge.windows_service.MTBridgeService`), not by file path as
pywin32 does by default: pythonservice.exe then imports it as a module of the package, so its imports work.
"""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import os
import sys
import threading

import servicemanager  # pywin32: this module is imported on Windows only (install.ps1, pythonservice.exe)
import win32service
import win32serviceutil

from . import __main__ as entry
from . import config

SERVICE_NAME = "mtbridge"
CLASS_STRING = "mtbridge.windows_service.MTBridgeService"
DEFAULT_CONFIG = os.path.join(os.environ.get("ProgramData", r"C:\ProgramData"), "mtbridge", "mtbridge.toml")
STOP_WAIT_HINT_MS = 30_000  # sessions end at once; a backend call in flight may take a few seconds to return


class ServiceFailed(Exception):
    """The bridge could not start or stopped with an error: raised out of SvcDoRun, so pywin32 reports the service
    stopped with an error and Windows applies the recovery actions (install.ps1 sets restart on failure)."""


def config_path() -> str:
    return win32serviceutil.GetServiceCustomOption(SERVICE_NAME, "config", DEFAULT_CONFIG)


def log_to_file(folder: str) -> None:
    """The bridge's log lines, as on Linux's journal, in <folder>\\mtbridge.log (10 MiB, 5 kept). The service has no
    console: what goes to stdout/stderr is dropped. Start, stop and failures also go to the Windows Event Log."""
    handlers: list[logging.Handler] = []
    try:
        os.makedirs(folder, exist_ok=True)
        handlers.append(logging.handlers.RotatingFileHandler(os.path.join(folder, "mtbridge.log"), maxBytes=10 << 20,
                                                             backupCount=5, encoding="utf-8"))
    except OSError as error:
        servicemanager.LogWarningMsg(f"mtbridge: cannot write its log in {folder} ({error.strerror}); "
                                     "only the Event Log will have its messages")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        handlers=handlers or [logging.NullHandler()], force=True)
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w")
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")


class MTBridgeService(win32serviceutil.ServiceFramework):
    _svc_name_ = SERVICE_NAME
    _svc_display_name_ = "mtbridge (MetaTrader export bridge for mtsync)"
    _svc_description_ = ("Serves one MetaTrader server's deal history to mtsync over bridge-protocol version 1. "
                         "Configuration: %ProgramData%\\mtbridge\\mtbridge.toml; log: %ProgramData%\\mtbridge\\logs.")

    def __init__(self, args):
        super().__init__(args)
        # SvcStop comes on the service control thread, SvcDoRun runs on the service's own: the lock orders the
        # hand-over of the loop, and a stop that comes before the loop runs is remembered.
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._stopping = False

    def SvcStop(self):
        self.ReportServiceStatus(win32service.SERVICE_STOP_PENDING, waitHint=STOP_WAIT_HINT_MS)
        with self._lock:
            self._stopping = True
            loop, stop = self._loop, self._stop
        if loop is not None:
            loop.call_soon_threadsafe(stop.set)

    # Windows shutting down: stop the same way (ServiceFramework accepts the control because this method exists).
    SvcShutdown = SvcStop

    def SvcDoRun(self):
        path = config_path()
        log_to_file(os.path.join(os.path.dirname(path), "logs"))
        log = logging.getLogger("mtbridge")
        try:
            settings = config.load(path)
            backend = entry.make_backend(settings)
            tls = entry.tls_context(settings)
        except (config.ConfigError, ValueError, OSError, ImportError) as error:
            # As `mtbridge --check-config` says it (no secret: config and backends never put one in an error).
            message = f"mtbridge: {error}"
            log.error("%s", message)
            servicemanager.LogErrorMsg(message)
            raise ServiceFailed(message) from None
        servicemanager.LogInfoMsg(f"mtbridge: serving {settings.server_id} on {settings.host}:{settings.port} ({path})")
        try:
            asyncio.run(self._serve(settings, backend, tls))
        except Exception as error:
            log.exception("mtbridge stopped on an error")
            servicemanager.LogErrorMsg(f"mtbridge stopped on an error: {error.__class__.__name__}: {error}")
            raise ServiceFailed(f"{error.__class__.__name__}: {error}") from None
        log.info("stopped")
        servicemanager.LogInfoMsg("mtbridge: stopped")

    async def _serve(self, settings, backend, tls) -> int:
        stop = asyncio.Event()
        with self._lock:
            self._loop, self._stop = asyncio.get_running_loop(), stop
            if self._stopping:
                stop.set()
        try:
            return await entry.run(settings, backend, tls, stop)
        finally:
            with self._lock:
                self._loop = None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    chosen = [argument for argument in argv[1:] if argument.startswith("--config=")]
    argv = [argument for argument in argv if argument not in chosen]
    status = win32serviceutil.HandleCommandLine(MTBridgeService, serviceClassString=CLASS_STRING, argv=argv)
    if any(command in argv[1:] for command in ("install", "update")):
        if chosen:
            win32serviceutil.SetServiceCustomOption(SERVICE_NAME, "config", os.path.abspath(chosen[-1].split("=", 1)[1]))
        # Registered now, by the administrator installing: the service's own account may not write the registry.
        servicemanager.SetEventSourceName(SERVICE_NAME, True)
    return status or 0


if __name__ == "__main__":
    sys.exit(main())

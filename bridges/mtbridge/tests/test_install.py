"""The installation path (issue 21): install/install.sh, the systemd unit, the example configuration, the build
backend, and the Windows service and installer as far as Linux can check them.

What runs for real: install.sh into a staging root (`--root`, `--no-systemd`, as the current user: no root, no
network, no systemd needed), twice; the installed `mtbridge` checking and serving the example configuration; the
unit file through `systemd-analyze verify` and `security` when the tool is there (else a parse for the settings
that matter, which also runs when it is); every source block of the example through the bridge's own config reader.

`mtsync bridge check` judging the installed bridge, with the installer's key and key id, needs the binaries
`scripts/test` builds (MTSYNC_BIN, mtbridge-sim beside it): without them that test fails and says so.

What Linux cannot check, and what stands in for it:
- `mtbridge/windows_service.py` needs pywin32, which exists on Windows only. It is parsed, and its service class
  runs here against a stand-in for the few pywin32 calls it makes (their signatures as in pywin32's
  win32serviceutil.py): it serves, and a stop from another thread ends it cleanly with a client still connected.
  pythonservice.exe, the service control manager and the Event Log are not exercised.
- `install/install.ps1` needs Windows PowerShell, the service control manager, icacls and Windows Firewall. With
  `pwsh` on the PATH its syntax is parsed; without it (as on the project's machines) a static check asserts that
  it takes every step the installation needs. Neither runs it.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import importlib
import inspect
import io
import json
import logging
import os
import pathlib
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import tomllib
import types
import unittest
import zipfile
from unittest import mock

from mtbridge import config

from .support import KEY_HEX, PACKAGE_ROOT, Client, binaries, pull, started, stop

INSTALL = PACKAGE_ROOT / "install"
EXAMPLE = INSTALL / "mtbridge.example.toml"
SOURCE_KINDS = ("jsonl", "mt5-sql-export", "mt4-report-server", "mt5-web-api", "mt5-manager")


def run_install(root: pathlib.Path, *options: str) -> subprocess.CompletedProcess:
    user = subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
    return subprocess.run(["bash", str(INSTALL / "install.sh"), "--root", str(root), "--no-systemd", "--user", user, *options],
                          capture_output=True, text=True, timeout=120)


def staged_config(root: pathlib.Path, export: pathlib.Path) -> pathlib.Path:
    """The installed example with its host paths moved into the staging root, listening on a free loopback port."""
    text = (root / "etc/mtbridge/mtbridge.toml").read_text()
    text = text.replace('address = "0.0.0.0:7465"', 'address = "127.0.0.1:0"')
    text = text.replace('"/etc/mtbridge/', f'"{root}/etc/mtbridge/').replace('"/var/lib/mtbridge/export.jsonl"', f'"{export}"')
    path = root / "etc/mtbridge/staged.toml"
    path.write_text(text)
    return path


def unit_settings(text: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


class Installed:
    """One install.sh run into a staging root, shared by the tests that look at it (the re-run test runs it again)."""

    folder: pathlib.Path | None = None

    @classmethod
    def get(cls) -> type:
        if cls.folder is None:
            cls.folder = pathlib.Path(tempfile.mkdtemp(prefix="mtbridge-install-"))
            cls.root = cls.folder / "root"
            began = time.monotonic()
            cls.first = run_install(cls.root)
            cls.first_seconds = time.monotonic() - began
            if cls.first.returncode != 0:
                raise AssertionError(f"install.sh exited {cls.first.returncode}:\n{cls.first.stdout}\n{cls.first.stderr}")
            cls.venv = cls.root / "opt/mtbridge"
            cls.key_file = cls.root / "etc/mtbridge/key"
            cls.key = cls.key_file.read_text().strip()
        return cls


def tearDownModule():
    if Installed.folder is not None:
        shutil.rmtree(Installed.folder, ignore_errors=True)


class InstallShTests(unittest.TestCase):
    """install.sh into a staging root, and what it installed."""

    @classmethod
    def setUpClass(cls):
        installed = Installed.get()
        cls.folder, cls.root, cls.first, cls.first_seconds = installed.folder, installed.root, installed.first, installed.first_seconds
        cls.venv, cls.key_file, cls.key = installed.venv, installed.key_file, installed.key

    def test_installs_the_command_a_config_folder_and_a_private_key(self):
        self.assertLess(self.first_seconds, 30, "install.sh took too long for the test suite")
        version = subprocess.run([str(self.venv / "bin/mtbridge"), "--version"], capture_output=True, text=True)
        self.assertEqual(version.returncode, 0, version.stderr)
        self.assertRegex(version.stdout, r"^mtbridge \d+\.\d+\.\d+")
        self.assertRegex(self.key, r"^[0-9a-f]{64}$")
        self.assertEqual(stat.S_IMODE(self.key_file.stat().st_mode), 0o600)
        self.assertEqual(stat.S_IMODE((self.root / "etc/mtbridge").stat().st_mode), 0o750)
        self.assertEqual(stat.S_IMODE((self.root / "etc/mtbridge/mtbridge.toml").stat().st_mode), 0o640)
        self.assertEqual(stat.S_IMODE((self.root / "var/lib/mtbridge").stat().st_mode), 0o750)
        self.assertTrue((self.root / "etc/systemd/system/mtbridge.service").is_file())
        # The key is shown once, at its creation, with what to do with it; never on stderr.
        self.assertEqual(self.first.stdout.count(self.key), 1)
        self.assertIn("key id: mtbridge-", self.first.stdout)
        self.assertNotIn(self.key, self.first.stderr)
        # The package only: tests, SQL and installer files are not installed; the clone gets no build files.
        site = next((self.venv / "lib").glob("python3*/site-packages"))
        self.assertTrue((site / "mtbridge/__main__.py").is_file())
        self.assertFalse((site / "tests").exists())
        self.assertFalse((PACKAGE_ROOT / "build").exists())
        self.assertEqual(list(PACKAGE_ROOT.glob("*.egg-info")), [])

    def test_the_installed_bridge_checks_and_serves_the_example_and_never_logs_the_key(self):
        export = self.root / "var/lib/mtbridge/export.jsonl"
        export.write_text('{"type":"deal","data":{"Deal":1,"Login":1000,"Action":2,"Entry":0,"Time":1735725600,'
                          '"TimeMsc":1735725600000,"Profit":"100","Symbol":""}}\n')
        path = staged_config(self.root, export)
        command = str(self.venv / "bin/mtbridge")
        check = subprocess.run([command, "--config", str(path), "--check-config"], capture_output=True, text=True, timeout=60)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.assertIn("ok: Config(server live-mt5", check.stdout)
        self.assertNotIn(self.key, check.stdout + check.stderr)

        key_id = tomllib.loads(path.read_text())["auth"]["key_id"]
        bridge, port, log = started([command, "--config", str(path)], dict(os.environ))
        self.addCleanup(log.unlink)
        try:
            key = bytes.fromhex(self.key)

            async def stopped_with_a_client_connected():
                good = await Client.connect(port)
                _, welcome = await good.authenticate(key_id, key)
                bad = await Client.connect(port)
                _, refused = await bad.authenticate(key_id, bytes(32))
                await bad.close()
                # SIGTERM, as systemd stops it, while an authenticated client stays connected.
                stopped = time.monotonic()
                bridge.send_signal(signal.SIGTERM)
                while bridge.poll() is None and time.monotonic() - stopped < 20:
                    await asyncio.sleep(0.05)
                await good.close()
                return welcome, refused, time.monotonic() - stopped

            welcome, refused, seconds = asyncio.run(stopped_with_a_client_connected())
            self.assertEqual(welcome["type"], "welcome", welcome)
            self.assertEqual(refused["code"], "auth_failed", refused)
            self.assertEqual(bridge.poll(), 0)
            self.assertLess(seconds, 10)
        finally:
            if bridge.poll() is None:
                bridge.kill()
                bridge.wait()
        text = log.read_text(errors="replace")
        self.assertIn("serving live-mt5", text)
        self.assertNotIn(self.key, text)
        self.assertNotIn(self.key.upper(), text)

    def test_a_rerun_upgrades_in_place_and_keeps_the_configuration_and_the_key(self):
        config_file = self.root / "etc/mtbridge/mtbridge.toml"
        edited = config_file.read_text() + "\n# edited by the broker\n"
        config_file.write_text(edited)
        started = time.monotonic()
        second = run_install(self.root)
        self.assertEqual(second.returncode, 0, second.stdout + second.stderr)
        self.assertLess(self.first_seconds + time.monotonic() - started, 30)
        self.assertEqual(config_file.read_text(), edited)
        self.assertEqual(self.key_file.read_text().strip(), self.key)
        self.assertEqual(stat.S_IMODE(self.key_file.stat().st_mode), 0o600)
        self.assertNotIn(self.key, second.stdout + second.stderr)
        self.assertIn("kept the configuration", second.stdout)
        self.assertIn("kept the key", second.stdout)
        self.assertEqual(subprocess.run([str(self.venv / "bin/mtbridge"), "--version"], capture_output=True).returncode, 0)

    def test_the_unit_runs_the_check_first_as_the_service_user_in_a_sandbox(self):
        text = (self.root / "etc/systemd/system/mtbridge.service").read_text()
        settings = unit_settings(text)
        user = subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
        expected = {
            "Type": ["exec"], "User": [user], "Restart": ["on-failure"], "NoNewPrivileges": ["yes"],
            "ProtectSystem": ["strict"], "ReadWritePaths": ["/var/lib/mtbridge"], "StateDirectory": ["mtbridge"],
            "PrivateTmp": ["yes"], "ProtectHome": ["yes"], "PrivateDevices": ["yes"], "CapabilityBoundingSet": [""],
            "ExecStartPre": ["/opt/mtbridge/bin/mtbridge --config /etc/mtbridge/mtbridge.toml --check-config"],
            "ExecStart": ["/opt/mtbridge/bin/mtbridge --config /etc/mtbridge/mtbridge.toml"],
            "WantedBy": ["multi-user.target"],
        }
        for key, value in expected.items():
            self.assertEqual(settings.get(key), value, key)
        self.assertNotIn(self.key, text)
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            return  # the parse above is the whole check on a host without systemd (said in the module docstring)
        # verify looks for the programs: point the copy at the staged ones. It warns on stderr and still exits 0.
        copy = self.folder / "mtbridge.service"
        copy.write_text(text.replace("/opt/mtbridge/", f"{self.venv}/"))
        verify = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60)
        self.assertEqual((verify.returncode, verify.stderr.strip()), (0, ""), verify.stdout)
        # The sandbox's exposure, as systemd rates it: at most 2.0 of 10 (mtsync's own unit rates 3.2).
        security = subprocess.run([analyze, "security", "--offline=yes", "--threshold=20", str(copy)], capture_output=True,
                                  text=True, timeout=60)
        self.assertEqual(security.returncode, 0, security.stdout[-2000:] + security.stderr)


class InstalledBridgeCheck(unittest.IsolatedAsyncioTestCase):
    async def test_mtsync_bridge_check_accepts_the_installed_bridge_with_the_installers_key(self):
        """The walkthrough's last step (bridge-protocol/bridges.md): mtsync given the key id and key the installer
        made accepts the installed bridge, here serving the simulator's history as a JSON-lines export."""
        mtsync, simulator = binaries()
        installed = Installed.get()
        sim, sim_port, _ = started([simulator, "--port", "0", "--server-id", "live-mt5", "--key-id", "mtsync-1", "--from", "2025-01-01",
                                    "--days", "1", "--deals-per-day", "60", "--seed", "11"], dict(os.environ, MTBRIDGE_KEY=KEY_HEX))
        self.addCleanup(stop, sim)
        export = installed.folder / "simulator.jsonl"
        with export.open("w") as file:
            for method, params in [("deals", {"from_ms": 1735689600000, "to_ms": 1735776000000}), ("accounts", {}), ("symbols", {})]:
                for row in await pull(sim_port, method, params):
                    file.write(json.dumps({"type": row["type"], "data": row["data"]}) + "\n")
        zone = (await pull(sim_port, "server.info", {}))[0]["data"]["time_zone"]["rule"]
        path = staged_config(installed.root, export)
        path.write_text(path.read_text().replace('time_zone = "ny-close"', f'time_zone = "{zone}"'))
        bridge, port, log = started([str(installed.venv / "bin/mtbridge"), "--config", str(path)], dict(os.environ))
        self.addCleanup(stop, bridge)
        self.addCleanup(log.unlink)
        key_id = tomllib.loads(path.read_text())["auth"]["key_id"]
        check = await asyncio.to_thread(subprocess.run, [mtsync, "bridge", "check", "--address", f"127.0.0.1:{port}", "--key-id", key_id,
                                                         "--key-file", str(installed.key_file), "--from", "2025-01-01", "--to", "2025-01-02",
                                                         "--json"], capture_output=True, text=True, timeout=300)
        self.assertEqual(check.returncode, 0, f"mtsync bridge check:\n{check.stdout}\n{check.stderr}\nbridge log:\n{log.read_text()}")
        report = json.loads(check.stdout)
        self.assertEqual(report["problems"], [])
        self.assertGreater(report["records"], 30)
        self.assertEqual(report["digest_buckets_matching"], report["digest_buckets"])
        self.assertNotIn(installed.key, log.read_text() + check.stdout + check.stderr)


class InstallShOptionTests(unittest.TestCase):
    def test_uninstall_removes_the_venv_and_keeps_configuration_and_key_unless_purged(self):
        with tempfile.TemporaryDirectory() as folder:
            root = pathlib.Path(folder)
            for path in ("opt/mtbridge/bin", "etc/mtbridge", "var/lib/mtbridge"):
                (root / path).mkdir(parents=True)
            (root / "opt/mtbridge/pyvenv.cfg").write_text("home = /usr/bin\n")
            (root / "etc/mtbridge/key").write_text("00" * 32)
            kept = run_install(root, "--uninstall")
            self.assertEqual(kept.returncode, 0, kept.stderr)
            self.assertFalse((root / "opt/mtbridge").exists())
            self.assertTrue((root / "etc/mtbridge/key").exists())
            purged = run_install(root, "--uninstall", "--purge")
            self.assertEqual(purged.returncode, 0, purged.stderr)
            self.assertFalse((root / "etc/mtbridge").exists())
            self.assertFalse((root / "var/lib/mtbridge").exists())

    def test_bad_options_are_refused_before_anything_is_written(self):
        with tempfile.TemporaryDirectory() as folder:
            root = pathlib.Path(folder) / "root"
            for options, status in ((("--bogus",), 64), (("--prefix", "relative"), 1), (("--key-id", "a b"), 1)):
                result = run_install(root, *options)
                self.assertEqual(result.returncode, status, (options, result.stderr))
                self.assertFalse((root / "opt").exists(), options)


class ExampleConfigurationTests(unittest.TestCase):
    """Every source block of the example, uncommented, is a configuration the bridge accepts."""

    def blocks(self) -> dict[str, str]:
        text = EXAMPLE.read_text()
        head = text[: text.index("\n[source]\n") + 1]
        blocks = {"jsonl": text[text.index("\n[source]\n") + 1: text.index("\n# --- ")]}
        for match in re.finditer(r"\n# \[source\]\n((?:#.*\n?)*)", text):
            lines = ["[source]"] + [re.sub(r"^# ?", "", line) for line in match.group(1).splitlines()]
            body = "\n".join(lines)
            kind = re.search(r'^kind = "([^"]+)"', body, re.M).group(1)
            blocks[kind] = body
        return {kind: head + body for kind, body in blocks.items()}

    def test_the_example_has_a_block_for_every_source_kind_and_each_loads(self):
        blocks = self.blocks()
        self.assertEqual(sorted(blocks), sorted(SOURCE_KINDS))
        with tempfile.TemporaryDirectory() as folder:
            folder = pathlib.Path(folder)
            secrets = {"key": "ab" * 32, "db.url": "mysql://reader:secret@db.example:3306/mt5",
                       "webapi.password": "api-secret", "manager.password": "manager-secret"}
            for name, value in secrets.items():
                (folder / name).write_text(value)
                (folder / name).chmod(0o600)
            for kind, text in blocks.items():
                with self.subTest(kind=kind):
                    text = text.replace('"/etc/mtbridge/', f'"{folder}/').replace('"/var/lib/mtbridge/', f'"{folder}/')
                    if kind == "mt4-report-server":
                        text = text.replace('platform = "mt5"', 'platform = "mt4"')
                    path = folder / f"{kind}.toml"
                    path.write_text(text)
                    settings = config.load(str(path), environment={})
                    self.assertEqual(settings.source["kind"], kind)
                    self.assertNotIn("ab" * 32, repr(settings))


class BuildBackendTests(unittest.TestCase):
    def test_the_wheel_holds_the_package_its_entry_point_and_a_record_that_matches(self):
        sys.path.insert(0, str(INSTALL))
        try:
            backend = importlib.import_module("mtbridge_build")
        finally:
            sys.path.remove(str(INSTALL))
        from mtbridge import VERSION
        with tempfile.TemporaryDirectory() as folder:
            wheel = pathlib.Path(folder) / backend.build_wheel(folder)
            self.assertEqual(wheel.name, f"mtbridge-{VERSION}-py3-none-any.whl")
            with zipfile.ZipFile(wheel) as archive:
                names = archive.namelist()
                self.assertIn("mtbridge/__main__.py", names)
                self.assertIn("mtbridge/windows_service.py", names)
                self.assertFalse([n for n in names if n.startswith(("tests/", "install/", "sql/")) or "__pycache__" in n])
                entry_points = archive.read(f"mtbridge-{VERSION}.dist-info/entry_points.txt").decode()
                self.assertIn("mtbridge = mtbridge.__main__:main", entry_points)
                metadata = archive.read(f"mtbridge-{VERSION}.dist-info/METADATA").decode()
                self.assertIn("Requires-Python: >=3.11", metadata)
                self.assertIn("Requires-Dist: PyMySQL>=1.0; extra == 'mysql'", metadata)
                self.assertIn("Requires-Dist: pywin32>=306; (sys_platform == 'win32') and extra == 'windows'", metadata)
                record = archive.read(f"mtbridge-{VERSION}.dist-info/RECORD").decode().splitlines()
                self.assertEqual(sorted(line.split(",")[0] for line in record), sorted(names))
            sdist = pathlib.Path(folder) / backend.build_sdist(folder)
            with tarfile.open(sdist) as archive:
                self.assertIn(f"mtbridge-{VERSION}/install/mtbridge_build.py", archive.getnames())


class FakePywin32:
    """The pywin32 calls windows_service.py makes, with pywin32's signatures (win32serviceutil.py), recording them."""

    SERVICE_STOPPED, SERVICE_STOP_PENDING, SERVICE_RUNNING = 1, 3, 4

    def __init__(self, options: dict):
        self.events: list[tuple[str, str]] = []
        self.options = options
        self.handled: list[tuple] = []
        fake = self
        servicemanager = types.ModuleType("servicemanager")
        servicemanager.LogInfoMsg = lambda message: fake.events.append(("info", message))
        servicemanager.LogErrorMsg = lambda message: fake.events.append(("error", message))
        servicemanager.LogWarningMsg = lambda message: fake.events.append(("warning", message))
        servicemanager.SetEventSourceName = lambda name, register_now=False: fake.events.append(("source", name))
        win32service = types.ModuleType("win32service")
        win32service.SERVICE_STOPPED, win32service.SERVICE_STOP_PENDING = self.SERVICE_STOPPED, self.SERVICE_STOP_PENDING
        win32service.SERVICE_RUNNING = self.SERVICE_RUNNING
        win32serviceutil = types.ModuleType("win32serviceutil")

        class ServiceFramework:
            def __init__(self, args):
                self.statuses = []

            def ReportServiceStatus(self, serviceStatus, waitHint=5000, win32ExitCode=0, svcExitCode=0):
                self.statuses.append(serviceStatus)

        win32serviceutil.ServiceFramework = ServiceFramework
        win32serviceutil.GetServiceCustomOption = lambda name, option, defaultValue=None: fake.options.get(option, defaultValue)
        win32serviceutil.SetServiceCustomOption = lambda name, option, value: fake.options.__setitem__(option, value)
        win32serviceutil.HandleCommandLine = lambda cls, serviceClassString=None, argv=None, **_: fake.handled.append(
            (cls, serviceClassString, argv)) or 0
        self.modules = {"servicemanager": servicemanager, "win32service": win32service, "win32serviceutil": win32serviceutil}


class WindowsServiceTests(unittest.TestCase):
    def setUp(self):
        from mtbridge import __main__ as entry
        self.assertTrue(hasattr(entry, "tls_context") and "stop" in inspect.signature(entry.run).parameters,
                        "windows_service.py runs the bridge as `mtbridge` does: __main__ must offer tls_context(settings) and "
                        "run(settings, backend, tls, stop)")
        self.folder = pathlib.Path(tempfile.mkdtemp(prefix="mtbridge-service-"))
        self.addCleanup(shutil.rmtree, self.folder, True)
        self.key = "cd" * 32
        (self.folder / "key").write_text(self.key)
        (self.folder / "key").chmod(0o600)
        (self.folder / "export.jsonl").write_text("")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.config = self.folder / "mtbridge.toml"
        self.config.write_text(f'[listen]\naddress = "127.0.0.1:{self.port}"\n[auth]\nkey_id = "mtsync-1"\n'
                               f'key_file = "{self.folder}/key"\n[server]\nid = "win-mt5"\nplatform = "mt5"\n'
                               f'time_zone = "UTC"\n[source]\nkind = "jsonl"\npath = "{self.folder}/export.jsonl"\n')
        self.pywin32 = FakePywin32({"config": str(self.config)})
        root = logging.getLogger()
        saved = root.handlers[:], root.level
        self.addCleanup(lambda: (setattr(root, "handlers", saved[0]), root.setLevel(saved[1])))
        with mock.patch.dict(sys.modules, self.pywin32.modules):
            sys.modules.pop("mtbridge.windows_service", None)
            self.module = importlib.import_module("mtbridge.windows_service")
        sys.modules.pop("mtbridge.windows_service", None)

    def test_it_parses_and_registers_by_dotted_name(self):
        ast.parse((PACKAGE_ROOT / "mtbridge/windows_service.py").read_text())
        self.assertEqual(self.module.CLASS_STRING, "mtbridge.windows_service.MTBridgeService")
        self.assertEqual(self.module.MTBridgeService._svc_name_, "mtbridge")
        with mock.patch.dict(sys.modules, self.pywin32.modules):
            status = self.module.main(["windows_service.py", "--config=C:/ProgramData/mtbridge/other.toml", "--startup", "delayed", "install"])
        self.assertEqual(status, 0)
        cls, class_string, argv = self.pywin32.handled[-1]
        self.assertEqual((cls, class_string), (self.module.MTBridgeService, self.module.CLASS_STRING))
        self.assertEqual(argv, ["windows_service.py", "--startup", "delayed", "install"])
        self.assertTrue(self.pywin32.options["config"].endswith("other.toml"))
        self.assertIn(("source", "mtbridge"), self.pywin32.events)

    def test_a_stop_from_the_control_thread_ends_the_service_cleanly_with_a_client_connected(self):
        service = self.module.MTBridgeService(["mtbridge"])
        outcome = {}

        def controller():
            try:
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    try:
                        socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                        break
                    except OSError:
                        time.sleep(0.05)

                async def authenticate():
                    client = await Client.connect(self.port)
                    _, welcome = await client.authenticate("mtsync-1", bytes.fromhex(self.key))
                    outcome["welcome"] = welcome
                    outcome["stopped_at"] = time.monotonic()
                    service.SvcStop()  # as the service control manager's thread does, while the session is open
                    outcome["closed"] = await client.reader.read()  # the bridge ends the session: end of stream
                asyncio.run(authenticate())
            except BaseException as error:  # reported by the main thread
                outcome["error"] = error
                service.SvcStop()

        thread = threading.Thread(target=controller)
        thread.start()
        with contextlib.redirect_stdout(io.StringIO()):  # run() says "listening on"; the service drops it
            service.SvcDoRun()  # the service's own thread; here the main one, where asyncio may install signal handlers
        returned_at = time.monotonic()
        thread.join(20)
        self.assertNotIn("error", outcome, outcome.get("error"))
        self.assertEqual(outcome["welcome"]["type"], "welcome")
        self.assertLess(returned_at - outcome["stopped_at"], 5)
        self.assertEqual(outcome["closed"], b"")
        self.assertIn(FakePywin32.SERVICE_STOP_PENDING, service.statuses)
        self.assertEqual([kind for kind, _ in self.pywin32.events], ["info", "info"])
        self.assertIn("serving win-mt5", self.pywin32.events[0][1])
        log = (self.folder / "logs/mtbridge.log").read_text()
        self.assertIn("serving win-mt5", log)
        self.assertNotIn(self.key, log + repr(self.pywin32.events))

    def test_a_stop_before_the_loop_runs_is_not_lost(self):
        service = self.module.MTBridgeService(["mtbridge"])
        service.SvcStop()
        started = time.monotonic()
        with contextlib.redirect_stdout(io.StringIO()):
            service.SvcDoRun()
        self.assertLess(time.monotonic() - started, 5)

    def test_a_bad_configuration_fails_the_service_so_windows_restarts_it_and_says_why(self):
        self.config.write_text(self.config.read_text().replace('platform = "mt5"', 'platform = "mt6"'))
        service = self.module.MTBridgeService(["mtbridge"])
        with self.assertRaises(self.module.ServiceFailed):
            service.SvcDoRun()
        kind, message = self.pywin32.events[-1]
        self.assertEqual(kind, "error")
        self.assertIn('server.platform must be "mt5" or "mt4"', message)
        self.assertNotIn(self.key, message)


class InstallPs1Tests(unittest.TestCase):
    SCRIPT = INSTALL / "install.ps1"

    def test_it_parses_or_at_least_takes_every_step(self):
        text = self.SCRIPT.read_text()
        pwsh = shutil.which("pwsh")
        if pwsh:
            parse = ("$errors = $null; [System.Management.Automation.Language.Parser]::ParseFile("
                     f"'{self.SCRIPT}', [ref]$null, [ref]$errors) | Out-Null; "
                     "if ($errors) { $errors | ForEach-Object { $_.ToString() }; exit 1 }")
            result = subprocess.run([pwsh, "-NoProfile", "-NonInteractive", "-Command", parse], capture_output=True, text=True, timeout=120)
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        # Without pwsh the steps below are the whole check; with it they still say what the script must do.
        self.assertTrue(text.startswith("#Requires -RunAsAdministrator"))
        steps = {
            "Python 3.11+ through the py launcher": r"py -3 .*sys\.executable",
            "the version check": r"sys\.version_info >= \(3, 11\)",
            "a venv under Program Files": r"\$env:ProgramFiles 'mtbridge'[\s\S]*'-m', 'venv'",
            "the windows extra (pywin32)": r"\$extras = @\('windows'\)",
            "PyMySQL when asked": r"\$extras \+= 'mysql'",
            "MT5Manager when asked": r"\$extras \+= 'manager-api'",
            "the service registered by pywin32 from the venv": r"'-m', 'mtbridge\.windows_service', \"--config=\$Config\", '--startup', 'delayed', 'install'",
            "a virtual account": r"\$ServiceAccount = \"NT SERVICE\\\$ServiceName\"[\s\S]*'obj=', \$ServiceAccount",
            "delayed automatic start": r"'start=', 'delayed-auto'",
            "restart on failure": r"'failure', \$ServiceName, 'reset=', '86400', 'actions=', 'restart/",
            "recovery also on an error stop": r"'failureflag', \$ServiceName, '1'",
            "the base Python on the service's PATH": r"Services\\\$ServiceName\" -Name 'Environment' -PropertyType MultiString",
            "an ACL of SYSTEM, Administrators and the service": r"'/inheritance:r', '/grant:r', '\*S-1-5-18:\(OI\)\(CI\)F', '\*S-1-5-32-544:\(OI\)\(CI\)F', \"\$\{ServiceAccount\}:\(OI\)\(CI\)RX\"",
            "a 32-byte key from the system's generator": r"New-Object byte\[\] 32[\s\S]*RandomNumberGenerator",
            "the example only when missing": r"if \(-not \(Test-Path \$Config\)\)",
            "the key only when missing": r"if \(-not \(Test-Path \$KeyFile\)\)",
            "UTF-8 without a byte order mark": r"UTF8Encoding\(\$false\)",
            "the firewall for the mtsync host only": r"New-NetFirewallRule [\s\S]*-RemoteAddress \$AllowFrom",
            "the configuration checked before the start": r"& \$Command --config \$Config --check-config\s*\nif \(\$LASTEXITCODE -eq 0\)",
            "an uninstall that keeps the key unless purged": r"if \(\$Purge\)",
        }
        for step, pattern in steps.items():
            self.assertRegex(text, pattern, step)
        # Windows PowerShell 5.1 passes embedded double quotes to programs unescaped: none in a python -c.
        for line in text.splitlines():
            match = re.search(r"-c '([^']|'')*'", line)
            if match:
                self.assertNotIn('"', match.group(0), line)


if __name__ == "__main__":
    unittest.main()

"""mtbridge's build backend (PEP 517): a pure-Python wheel of the `mtbridge` package, from the standard library alone.

Why not setuptools: a broker's host may have no network, and setuptools cannot build a wheel without the `wheel`
package before 70.1 (Python 3.11 bundles 65.5 without it), while Python 3.12's venvs bundle no setuptools at all.
This backend needs nothing pip does not already have, so `pip install --no-index <folder>` works offline on every
Python the bridge supports. It reads its metadata from pyproject.toml's [project] table and builds only what
mtbridge needs: one package, pure Python, console scripts, optional dependencies.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import io
import os
import pathlib
import tarfile
import time
import tomllib
import zipfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
# Reproducible archives: the same sources give the same bytes (SOURCE_DATE_EPOCH as reproducible-builds.org says).
EPOCH = max(int(os.environ.get("SOURCE_DATE_EPOCH", "315532800")), 315532800)  # zip cannot go before 1980


def _project() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as file:
        return tomllib.load(file)["project"]


def _version() -> str:
    """VERSION in mtbridge/__init__.py, read without importing the package."""
    tree = ast.parse((ROOT / "mtbridge" / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "VERSION" for t in node.targets):
            return ast.literal_eval(node.value)
    raise RuntimeError("mtbridge/__init__.py has no VERSION")


def _metadata(project: dict, version: str) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {project['name']}", f"Version: {version}",
             f"Summary: {project.get('description', '')}", f"Requires-Python: {project.get('requires-python', '')}"]
    lines += [f"Requires-Dist: {requirement}" for requirement in project.get("dependencies", [])]
    for extra, requirements in project.get("optional-dependencies", {}).items():
        lines.append(f"Provides-Extra: {extra}")
        for requirement in requirements:
            requirement, _, marker = requirement.partition(";")
            condition = f"({marker.strip()}) and extra == '{extra}'" if marker.strip() else f"extra == '{extra}'"
            lines.append(f"Requires-Dist: {requirement.strip()}; {condition}")
    readme = project.get("readme")
    if readme:
        lines.append("Description-Content-Type: text/markdown")
        return "\n".join(lines) + "\n\n" + (ROOT / readme).read_text(encoding="utf-8")
    return "\n".join(lines) + "\n"


def _package_files() -> list[pathlib.Path]:
    return sorted(path for path in (ROOT / "mtbridge").rglob("*.py") if "__pycache__" not in path.parts)


def _dist_name(project: dict) -> str:
    return project["name"].replace("-", "_")


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    project, version = _project(), _version()
    dist_info = f"{_dist_name(project)}-{version}.dist-info"
    files = {path.relative_to(ROOT).as_posix(): path.read_bytes() for path in _package_files()}
    files[f"{dist_info}/METADATA"] = _metadata(project, version).encode()
    files[f"{dist_info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: mtbridge_build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    scripts = project.get("scripts", {})
    if scripts:
        entry_points = "[console_scripts]\n" + "".join(f"{name} = {target}\n" for name, target in scripts.items())
        files[f"{dist_info}/entry_points.txt"] = entry_points.encode()
    record = "".join(f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}\n"
                     for name, data in files.items())
    files[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\n").encode()
    name = f"{_dist_name(project)}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(pathlib.Path(wheel_directory) / name, "w", zipfile.ZIP_DEFLATED) as wheel:
        for path, data in files.items():  # RECORD last, as the wheel spec asks
            info = zipfile.ZipInfo(path, _zip_time())
            info.external_attr = 0o644 << 16
            wheel.writestr(info, data, zipfile.ZIP_DEFLATED)
    return name


def build_sdist(sdist_directory, config_settings=None):
    project, version = _project(), _version()
    base = f"{_dist_name(project)}-{version}"
    sources = ["pyproject.toml", "README.md", "install/mtbridge_build.py"] + [p.relative_to(ROOT).as_posix() for p in _package_files()]
    name = f"{base}.tar.gz"
    with tarfile.open(pathlib.Path(sdist_directory) / name, "w:gz") as archive:
        entries = [(f"{base}/PKG-INFO", _metadata(project, version).encode())]
        entries += [(f"{base}/{source}", (ROOT / source).read_bytes()) for source in sources]
        for path, data in entries:
            info = tarfile.TarInfo(path)
            info.size, info.mtime, info.mode = len(data), EPOCH, 0o644
            archive.addfile(info, io.BytesIO(data))
    return name


def _zip_time() -> tuple:
    moment = time.gmtime(EPOCH)
    return (moment.tm_year, moment.tm_mon, moment.tm_mday, moment.tm_hour, moment.tm_min, moment.tm_sec)

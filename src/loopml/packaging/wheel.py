"""A wheel of the running loopml, built in-process: no subprocess, no network, no build backend.

The image must run the same loopml that built its context, including code not released
yet, so the package folder this process imports is zipped as it is. The archive is
reproducible: entries are sorted and every timestamp is fixed, so the same source gives
the same bytes (and the same Docker layer).
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import zipfile
from pathlib import Path

import loopml

from ..errors import NotFound

TAG = "py3-none-any"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
ENTRY_POINTS = "[console_scripts]\nloopml = loopml.cli:main\n"


def wheel_name(version: str = loopml.__version__) -> str:
    """``loopml-<version>-py3-none-any.whl``."""
    return f"loopml-{version}-{TAG}.whl"


def build_wheel(directory: Path) -> Path:
    """Write the wheel of the running loopml into ``directory``; return its path."""
    version = loopml.__version__
    dist_info = f"loopml-{version}.dist-info"
    entries = package_files(Path(loopml.__file__).parent)
    entries += [
        (f"{dist_info}/METADATA", _metadata(version).encode()),
        (f"{dist_info}/WHEEL", _wheel_file(version).encode()),
        (f"{dist_info}/entry_points.txt", ENTRY_POINTS.encode()),
    ]
    record = f"{dist_info}/RECORD"
    entries.append((record, _record(entries, record).encode()))
    path = directory / wheel_name(version)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return path


def package_files(package: Path) -> list[tuple[str, bytes]]:
    """Every file of the package folder but bytecode, as (``loopml/...`` name, content)."""
    found = []
    for path in package.rglob("*"):
        relative = path.relative_to(package)
        if "__pycache__" in relative.parts or path.suffix == ".pyc" or not path.is_file():
            continue
        found.append((f"loopml/{relative.as_posix()}", path.read_bytes()))
    return sorted(found)


def record_hash(data: bytes) -> str:
    """The hash of a RECORD line: ``sha256=`` and the URL-safe base64 digest without padding."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={digest.decode()}"


def _metadata(version: str) -> str:
    try:
        installed = importlib.metadata.metadata("loopml")
        requires = importlib.metadata.requires("loopml") or []
    except importlib.metadata.PackageNotFoundError:
        raise NotFound(
            "loopml's distribution metadata is not installed, so its dependencies are unknown",
            hint="install loopml with pip (pip install -e . in a checkout) and build again",
        ) from None
    lines = [
        "Metadata-Version: 2.1",
        "Name: loopml",
        f"Version: {version}",
        f"Requires-Python: {installed.get('Requires-Python') or '>=3.11'}",
    ]
    lines += [f"Provides-Extra: {extra}" for extra in installed.get_all("Provides-Extra") or []]
    lines += [f"Requires-Dist: {requirement}" for requirement in requires]
    return "\n".join(lines) + "\n"


def _wheel_file(version: str) -> str:
    return (
        "Wheel-Version: 1.0\n"
        f"Generator: loopml.packaging ({version})\n"
        "Root-Is-Purelib: true\n"
        f"Tag: {TAG}\n"
    )


def _record(entries: list[tuple[str, bytes]], record: str) -> str:
    lines = [f"{name},{record_hash(data)},{len(data)}" for name, data in entries]
    return "\n".join([*lines, f"{record},,"]) + "\n"

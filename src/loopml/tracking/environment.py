"""What a run records about where it ran: code version, host, Python, imported packages."""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import platform
import socket
import subprocess
import sys
import threading
from pathlib import Path

from blake3 import blake3

from .runs import RunOrigin

_GIT_TIMEOUT_S = 10


def capture_origin() -> RunOrigin:
    """The code version (git commit, dirty flag, diff hash), entry point, host and Python."""
    source = _entry_point()
    folder = Path(source).parent if source and Path(source).is_file() else Path.cwd()
    commit, dirty, diff_hash = git_state(folder)
    return RunOrigin(
        source=source,
        git_commit=commit,
        git_dirty=dirty,
        git_diff_hash=diff_hash,
        host=socket.gethostname(),
        pid=os.getpid(),
        python_version=platform.python_version(),
    )


def git_state(folder: Path) -> tuple[str | None, bool | None, str | None]:
    """``(commit, dirty, diff_hash)`` of the repository holding ``folder``, or Nones.

    ``dirty`` covers tracked files only (untracked files do not change what runs unless
    imported, and they would make every scratch file count). ``diff_hash`` is the BLAKE3
    of ``git diff HEAD``, so two runs with the same commit and the same local edits share
    it, and it changes with any edit to a tracked file.
    """
    commit = _git(folder, "rev-parse", "HEAD")
    if commit is None:
        return None, None, None
    commit_text = commit.decode().strip()
    status = _git(folder, "status", "--porcelain", "--untracked-files=no")
    dirty = bool(status and status.strip())
    diff_hash = None
    if dirty:
        diff = _git(folder, "diff", "HEAD", "--no-ext-diff", "--binary")
        diff_hash = blake3(diff or b"").hexdigest()
    return commit_text, dirty, diff_hash


def imported_packages() -> dict[str, str]:
    """Pinned versions of the installed distributions whose modules this process imported."""
    owners, versions = _installed()
    found: dict[str, str] = {}
    stdlib = sys.stdlib_module_names
    for name in list(sys.modules):
        top = name.partition(".")[0]
        if top in stdlib or top.startswith("_"):
            continue
        for dist in owners.get(top, ()):
            version = versions.get(dist)
            if version and dist not in found:
                found[dist] = version
    return dict(sorted(found.items(), key=lambda item: item[0].lower()))


def environment_record() -> dict[str, object]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "packages": imported_packages(),
    }


def warm_up() -> None:
    """Start reading the installed distributions in the background, once per process.

    Reading every package's metadata takes 0.1-0.2 s; done while the run trains, it is
    ready when the run ends, so ``end_run`` does not pay for it.
    """
    global _warming
    with _scan_lock:
        if _scanned is not None or _warming is not None:
            return
        _warming = threading.Thread(target=_installed, name="loopml-packages", daemon=True)
    _warming.start()


_scan_lock = threading.Lock()
_scanned: tuple[dict[str, list[str]], dict[str, str]] | None = None
_warming: threading.Thread | None = None


def _installed() -> tuple[dict[str, list[str]], dict[str, str]]:
    """(top-level module -> distributions, distribution -> version), read once per process.

    The answer only changes when packages are installed or removed, which changes the
    modification time of a site-packages directory; it is cached on disk under that key,
    so only the first process after a ``pip install`` pays for reading every package.
    """
    global _scanned
    with _scan_lock:
        if _scanned is None:
            cache = _cache_file()
            _scanned = _read_cache(cache) if cache else None
            if _scanned is None:
                _scanned = _scan_distributions()
                if cache:
                    _write_cache(cache, _scanned)
        return _scanned


def _scan_distributions() -> tuple[dict[str, list[str]], dict[str, str]]:
    versions: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name and name not in versions:
            versions[name] = dist.version
    return importlib.metadata.packages_distributions(), versions


def packages_stamp() -> str | None:
    """A hash that changes whenever a package is installed or removed (it changes the
    modification time of a site-packages directory), or None outside any."""
    stamps = []
    for entry in sys.path:
        if entry.endswith(("site-packages", "dist-packages")):
            try:
                stamps.append(f"{entry}:{os.stat(entry).st_mtime_ns}")
            except OSError:
                continue
    if not stamps:
        return None
    return blake3("\n".join([sys.prefix, platform.python_version(), *stamps]).encode()).hexdigest()


def _cache_file() -> Path | None:
    stamp = packages_stamp()
    if stamp is None:
        return None
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "loopml"
    return base / f"packages-{stamp[:24]}.json"


def _read_cache(path: Path) -> tuple[dict[str, list[str]], dict[str, str]] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data["owners"], data["versions"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_cache(path: Path, scanned: tuple[dict[str, list[str]], dict[str, str]]) -> None:
    # A cache that cannot be written (read-only home) only costs speed.
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"owners": scanned[0], "versions": scanned[1]}), "utf-8")
        os.replace(tmp, path)


def _entry_point() -> str | None:
    """The script that is running, or None (``python -c``, stdin, a notebook, a REPL)."""
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    if path and Path(path).is_file():
        return str(Path(path).resolve())
    return None


def _git(folder: Path, *args: str) -> bytes | None:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=folder,
            capture_output=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None

"""What a run records about where it ran: code version, host, Python, imported packages."""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import socket
import subprocess
import sys
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
    owners = _module_owners()
    found: dict[str, str] = {}
    stdlib = sys.stdlib_module_names
    for name in list(sys.modules):
        top = name.partition(".")[0]
        if top in stdlib or top.startswith("_"):
            continue
        for dist in owners.get(top, ()):
            if dist not in found:
                version = _version(dist)
                if version:
                    found[dist] = version
    return dict(sorted(found.items(), key=lambda item: item[0].lower()))


def environment_record() -> dict[str, object]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "packages": imported_packages(),
    }


@functools.cache
def _module_owners() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


@functools.cache
def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _entry_point() -> str | None:
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path:
        return str(Path(path).resolve())
    return sys.argv[0] or None if sys.argv else None


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

"""Walk a folder for ``loopml data add``: every regular file with its stat, in path order.

Symbolic links are followed (a dataset holds the content they point at); a link that
leads back into a folder already on the walk is a loop and is refused with both names.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
from collections.abc import Iterator
from pathlib import Path
from stat import S_ISDIR, S_ISREG
from typing import NamedTuple

from ..errors import InvalidInput, NotFound
from .statcache import FileStat


@contextlib.contextmanager
def bulk_allocation() -> Iterator[None]:
    """Pause the cyclic garbage collector while tens of thousands of tuples are built.

    Adding a folder of 50,000 files allocates a few hundred thousand objects (walk,
    manifest, stat cache rows), none of them in a reference cycle, yet the collector
    would scan them again and again as they pile up: a tenth of a second, for nothing.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class FoundFile(NamedTuple):
    relative: str
    """POSIX path inside the folder."""
    path: str
    """Absolute path (a string: 50,000 Path objects cost more than the walk)."""
    stat: FileStat


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_relative(relative: str) -> str:
    """A file's path inside a dataset, as ``add`` accepts and ``get`` writes it.

    Relative, without ``.`` or ``..`` parts, without control characters, valid UTF-8
    (colons and other characters a POSIX file name may hold are fine).
    """
    parts = relative.split("/")
    if relative.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise InvalidInput(f"'{relative}' is not a relative path inside the dataset")
    if _CONTROL.search(relative):
        raise InvalidInput(
            f"file name {relative!r} holds a control character", hint="rename the file"
        )
    try:
        relative.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(
            f"file name {relative!r} is not valid UTF-8", hint="rename the file"
        ) from None
    return relative


def scan_folder(root: Path) -> list[FoundFile]:
    """All files under ``root`` (made absolute), sorted by relative path."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise NotFound(f"no folder at {root}", hint="check the path")
    found: list[FoundFile] = []
    _walk(str(root), "", found, {_identity(root): root})
    # Names are checked all at once: one search over 50,000 names costs less than
    # 50,000 calls, and only a failing folder pays for finding the culprit.
    names = "/".join(item.relative for item in found)
    if _CONTROL.search(names) or not _utf8(names):
        for item in found:
            check_relative(item.relative)
    found.sort()  # by relative path: relative paths are unique, so later fields never count
    return found


def _walk(folder: str, prefix: str, found: list[FoundFile], ancestors: dict) -> None:
    try:
        entries = list(os.scandir(folder))  # the whole list is sorted once, at the end
    except PermissionError:
        raise InvalidInput(f"cannot read folder {folder}", hint="check its permissions") from None
    append = found.append
    for entry in entries:
        try:
            stat = entry.stat()  # follows symbolic links
        except FileNotFoundError:
            raise InvalidInput(
                f"{Path(entry.path)} is a broken symbolic link", hint="remove it or fix its target"
            ) from None
        except OSError as exc:  # ELOOP: a link pointing at itself
            raise InvalidInput(
                f"cannot follow {Path(entry.path)}: {exc.strerror}", hint="remove the link"
            ) from None
        mode = stat.st_mode
        if S_ISREG(mode):
            # The stat tuple is built inline: this loop runs once per file.
            key = (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
            append(FoundFile(prefix + entry.name, entry.path, key))
        elif S_ISDIR(mode):
            identity = (stat.st_dev, stat.st_ino)
            if identity in ancestors:
                raise InvalidInput(
                    f"symbolic link loop: {Path(entry.path)} leads back to {ancestors[identity]}",
                    hint="remove the link or add the folder it points at instead",
                )
            ancestors[identity] = Path(entry.path)
            _walk(entry.path, f"{prefix}{entry.name}/", found, ancestors)
            del ancestors[identity]


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes in the name (surrogate escapes)
        return False
    return True


def _identity(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_dev, stat.st_ino

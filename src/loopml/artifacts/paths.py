"""Artifact paths given by users: relative, forward-slash, and never able to escape the store."""

from __future__ import annotations

from pathlib import PurePosixPath

from ..errors import InvalidInput

MAX_PATH_LENGTH = 1024


def clean_artifact_path(path: str, *, what: str = "artifact path") -> str:
    """Return ``path`` normalised (``a//b/./c`` -> ``a/b/c``) or raise :class:`InvalidInput`.

    Refused: empty paths, absolute paths, ``..`` segments, backslashes, drive letters,
    control characters and paths longer than :data:`MAX_PATH_LENGTH` characters. These
    are refused rather than silently rewritten, so a caller never writes somewhere other
    than where they asked.
    """
    if not isinstance(path, str):
        raise InvalidInput(f"{what} must be a string, got {type(path).__name__}")
    hint = "use a relative path such as 'plots/roc.png'"
    if not path or not path.strip():
        raise InvalidInput(f"{what} is empty", hint=hint)
    if len(path) > MAX_PATH_LENGTH:
        raise InvalidInput(f"{what} is {len(path)} characters; the limit is {MAX_PATH_LENGTH}")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in path):
        raise InvalidInput(f"{what} {path!r} contains a control character", hint=hint)
    if "\\" in path:
        raise InvalidInput(f"{what} {path!r} contains a backslash", hint="separate with '/'")
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        raise InvalidInput(f"{what} {path!r} is absolute", hint=hint)
    parts = [part for part in PurePosixPath(path).parts if part != "."]
    if ".." in parts:
        raise InvalidInput(f"{what} {path!r} climbs out with '..'", hint=hint)
    if not parts:
        raise InvalidInput(f"{what} {path!r} names no file", hint=hint)
    return "/".join(parts)


def join_artifact_path(prefix: str | None, name: str) -> str:
    """``prefix/name`` with both parts checked; ``prefix`` may be None or empty."""
    name = clean_artifact_path(name)
    if not prefix:
        return name
    return clean_artifact_path(f"{clean_artifact_path(prefix)}/{name}")

"""Where things live: the store directory, the metadata database, the artifact store.

Resolution order, highest first:

1. environment variables (``LOOPML_HOME``, ``LOOPML_DB_URL``, ``LOOPML_ARTIFACTS_URL``,
   ``LOOPML_USER``; ``LOOPML_SERVER`` and ``LOOPML_TOKEN`` send everything to a team server);
2. the ``store:`` section of the project's ``loopml.yaml``;
3. defaults: a ``.loopml/`` directory found by walking up from the working directory, as
   git finds ``.git/``; SQLite at ``.loopml/loopml.db``; blobs under ``.loopml/artifacts``.
"""

from __future__ import annotations

import functools
import getpass
import os
from dataclasses import dataclass
from pathlib import Path

STORE_DIRNAME = ".loopml"
PROJECT_FILENAME = "loopml.yaml"

#: Every setting, with the environment variable that sets it; docs/configuration.md lists
#: them all and a test keeps the two in step.
ENVIRONMENT_VARIABLES: dict[str, str] = {
    "LOOPML_HOME": "the store directory (default: .loopml/ found upwards from the working dir)",
    "LOOPML_DB_URL": "metadata database URL (default: sqlite:///<home>/loopml.db)",
    "LOOPML_ARTIFACTS_URL": "artifact store: a directory or s3://bucket/prefix",
    "LOOPML_USER": "the actor recorded on runs and audit events (default: the OS user)",
    "LOOPML_SERVER": "a team server (http://host:port): every SDK call and command goes "
    "through it instead of a local store",
    "LOOPML_TOKEN": "the API token sent to LOOPML_SERVER (loopml token create)",
    "LOOPML_REMOTE": "the default remote of `loopml data push|pull` (s3://bucket/prefix)",
    "LOOPML_DEPLOYMENT": "the name a container's server logs predictions under "
    "(default: the model folder's name)",
    "LOOPML_SERVER_LOG_LEVEL": "uvicorn's log level for `loopml serve` (default: warning)",
}


@dataclass(frozen=True)
class Config:
    """The resolved locations one process works with."""

    home: Path
    """The store directory (``.loopml``); holds the SQLite file and local blobs by default."""
    project_dir: Path | None
    """The directory holding ``.loopml/`` and ``loopml.yaml``, when one was found."""
    db_url: str
    artifacts_url: str
    user: str
    home_exists: bool
    """Whether ``home`` was found on disk (False: it will be created on the first write)."""
    server_url: str | None = None
    """A team server to work through instead of the database and artifact store."""
    token: str | None = None
    """The API token for ``server_url``."""


def find_store_dir(start: Path) -> Path | None:
    """Walk up from ``start`` and return the first ``.loopml`` directory, like git does."""
    for folder in (start, *start.parents):
        candidate = folder / STORE_DIRNAME
        if candidate.is_dir():
            return candidate
    return None


def resolve(cwd: Path | None = None, *, here: bool = False) -> Config:
    """Resolve the configuration for a process running in ``cwd`` (default: os.getcwd()).

    With ``here``, the store is ``cwd/.loopml`` even if a parent directory has one: that
    is what ``loopml init`` creates, as ``git init`` does inside another repository.
    """
    cwd = Path(cwd or os.getcwd()).resolve()
    env_home = os.environ.get("LOOPML_HOME")
    if here and not env_home:
        home, project_dir = cwd / STORE_DIRNAME, cwd
        exists = home.is_dir()
    elif env_home:
        home = Path(env_home).expanduser().resolve()
        project_dir = home.parent if (home.parent / PROJECT_FILENAME).is_file() else None
        exists = home.is_dir()
    else:
        found = find_store_dir(cwd)
        exists = found is not None
        home = found or cwd / STORE_DIRNAME
        project_dir = home.parent

    settings = _project_store_settings(project_dir) if project_dir else {}
    db_url = os.environ.get("LOOPML_DB_URL") or settings.get("db_url") or _sqlite_url(home)
    artifacts_url = (
        os.environ.get("LOOPML_ARTIFACTS_URL")
        or settings.get("artifacts_url")
        or str(home / "artifacts")
    )
    if project_dir and "://" not in artifacts_url and not Path(artifacts_url).is_absolute():
        artifacts_url = str(project_dir / artifacts_url)
    return Config(
        home=home,
        project_dir=project_dir,
        db_url=db_url,
        artifacts_url=artifacts_url,
        user=current_user(),
        home_exists=exists,
        server_url=os.environ.get("LOOPML_SERVER") or None,
        token=os.environ.get("LOOPML_TOKEN") or None,
    )


def current_user() -> str:
    """The actor for runs and audit events: ``LOOPML_USER`` or the OS login name."""
    user = os.environ.get("LOOPML_USER")
    if user:
        return user
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, as in some containers
        return f"uid-{os.getuid()}"


def _sqlite_url(home: Path) -> str:
    return f"sqlite:///{home / 'loopml.db'}"


def _project_store_settings(project_dir: Path) -> dict[str, str]:
    path = project_dir / PROJECT_FILENAME
    try:
        stat = path.stat()
    except FileNotFoundError:
        return {}
    return dict(_read_store_settings(path, stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=32)
def _read_store_settings(path: Path, _mtime_ns: int, _size: int) -> tuple[tuple[str, str], ...]:
    # Cached by the file's stamp: every SDK call resolves the config, few change the file.
    from .project import load_project  # yaml is only imported when a project file exists

    return tuple(load_project(path).store.items())

"""The UI under test: ``ui_app(store)`` is the one place the app is built, so these tests
can later run against the full team server instead."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from loopml.config import resolve
from loopml.store import Store, close_default_stores, open_store
from loopml.ui import ui_routes

from .support import World, build_world

_ENV = ("LOOPML_HOME", "LOOPML_DB_URL", "LOOPML_ARTIFACTS_URL", "LOOPML_EXPERIMENT")


@pytest.fixture
def ui_app(store: Store) -> Starlette:
    """The web UI over ``store``, as the server mounts it at ``/``."""
    app = Starlette(routes=ui_routes())
    app.state.store = store
    return app


@pytest.fixture
def client(ui_app: Starlette) -> Iterator[TestClient]:
    """An in-process HTTP client for ``ui_app``."""
    with TestClient(ui_app) as http:
        yield http


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A project holding one of everything (see ``support.build_world``), built once per
    session on SQLite; tests read it and never change it."""
    root = tmp_path_factory.mktemp("world")
    with pytest.MonkeyPatch.context() as patch:
        for name in _ENV:
            patch.delenv(name, raising=False)
        patch.setenv("LOOPML_HOME", str(root / ".loopml"))
        patch.setenv("LOOPML_USER", "tester")
        patch.chdir(root)
        opened = open_store(resolve())
        try:
            built = build_world(opened, root)
        finally:
            close_default_stores()
    yield built
    opened.close()


def artifacts_dir(fallback: Path) -> Path:
    """Where screenshots go: ``$LOOPML_TEST_ARTIFACTS`` (kept by CI) or a temp folder."""
    folder = Path(os.environ.get("LOOPML_TEST_ARTIFACTS") or fallback)
    folder.mkdir(parents=True, exist_ok=True)
    return folder

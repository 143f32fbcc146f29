"""A real team server (uvicorn on loopback) over a fresh store per test, with helpers to
make tokens and call it as a user would."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from loopml.config import resolve
from loopml.server.app import ServerSettings, build_app
from loopml.server.tokens import create_token
from loopml.store import Store, close_default_stores, open_store


@dataclass
class Served:
    url: str
    store: Store
    """The server's own store (to look inside)."""

    def token(self, role: str, user: str | None = None, **options: Any) -> str:
        return create_token(self.store, user or f"{role}-user", role, **options).token

    def client(self, token: str | None = None, **headers: str) -> httpx2.Client:
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx2.Client(base_url=self.url, headers=headers, timeout=30)


@pytest.fixture
def serve(
    project: Path, team_server: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Served]]:
    """Start the team server over the project's store: ``serve(auth=True, ...)``."""
    opened: list[Store] = []

    def start(**settings: Any) -> Served:
        store = open_store(resolve())
        opened.append(store)
        team_server.target.app = build_app(store, ServerSettings(**settings))
        return Served(team_server.url, store)

    yield start
    close_default_stores()
    team_server.target.app = None
    for store in opened:
        store.close()


@pytest.fixture
def served(serve: Callable[..., Served]) -> Served:
    """The team server with its defaults (auth turns on with the first token)."""
    return serve()


def remote_env(monkeypatch: pytest.MonkeyPatch, served: Served, token: str | None) -> None:
    """Point this process's SDK at ``served`` with ``token``."""
    close_default_stores()
    monkeypatch.setenv("LOOPML_SERVER", served.url)
    if token:
        monkeypatch.setenv("LOOPML_TOKEN", token)
    else:
        monkeypatch.delenv("LOOPML_TOKEN", raising=False)

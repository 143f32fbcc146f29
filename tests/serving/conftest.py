"""A registered model pair behind a deployment, served in-process and by a real server.

``churn`` version 1 (``@champion``) and version 2 (``@challenger``) are logistic
regressions on three float columns; version 2 learnt the opposite labels, so on rows away
from the decision boundary the two always disagree and an answer shows which one gave it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

import loopml
from loopml.registry import register, set_alias
from loopml.serving import deployments
from loopml.serving.app import ServerSettings
from loopml.serving.server import make_app
from loopml.store import Store

from .support import (
    DEPLOYMENT,
    FEATURES,
    MODEL,
    ClientFactory,
    Server,
    ServerFactory,
    churned,
    customers,
    wait_for,
)


@pytest.fixture(scope="session")
def model_folders(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """Saved model folders: 1 predicts churn, 2 predicts its opposite."""
    from sklearn.linear_model import LogisticRegression

    frame = customers()
    labels = churned(frame)
    root = tmp_path_factory.mktemp("models")
    folders = {}
    for version, target in ((1, labels), (2, 1 - labels)):
        model = LogisticRegression().fit(frame[FEATURES], target)
        folders[version] = root / f"v{version}"
        loopml.models.save(model, folders[version], input_example=frame[FEATURES][:5])
    return folders


@pytest.fixture
def registered(store: Store, model_folders: dict[int, Path]) -> Store:
    """``churn/1`` as ``@champion`` and ``churn/2`` as ``@challenger``."""
    for version in (1, 2):
        register(store, model_folders[version], MODEL)
    set_alias(store, MODEL, "champion", 1)
    set_alias(store, MODEL, "challenger", 2)
    return store


@pytest.fixture
def deployment(registered: Store) -> str:
    """A deployment sending all traffic to ``churn@champion``."""
    deployments.create(registered, DEPLOYMENT, f"{MODEL}@champion")
    return DEPLOYMENT


@pytest.fixture
def open_client(store: Store, deployment: str) -> ClientFactory:
    """Opens the scoring app in-process (lifespan included) once its model is loaded:
    ``with open_client(max_body_bytes=100) as client: ...``. Leaving the block runs the
    app's shutdown, which writes the prediction log's segment."""

    @contextlib.contextmanager
    def opened(name: str = deployment, **settings: Any) -> Iterator[TestClient]:
        settings.setdefault("reload_interval", 0.1)
        app = make_app(store, name, settings=ServerSettings(**settings))
        with TestClient(app) as client:
            wait_for(
                lambda: client.get("/v2/health/ready").status_code == 200,
                what=f"deployment '{name}' to load",
            )
            yield client

    return opened


@pytest.fixture
def client(open_client: ClientFactory) -> Iterator[TestClient]:
    """The scoring app of the deployment, in-process, ready to score."""
    with open_client() as opened:
        yield opened


@pytest.fixture
def start_server(project: Path, deployment: str, tmp_path: Path) -> Iterator[ServerFactory]:
    """Starts ``loopml serve --deployment churn-prod`` (extra arguments appended) as a
    subprocess and waits until it is ready; every server still running at the end of the
    test is stopped with SIGTERM."""
    started: list[Server] = []

    def start(*args: str, ready: bool = True) -> Server:
        logs = tmp_path / f"server-{len(started)}.log"
        server = Server(project, ["--deployment", deployment, *args], logs)
        started.append(server)
        return server.wait_ready() if ready else server

    yield start
    for server in started:
        try:
            server.stop(timeout=30)
        except Exception:
            server.kill()
            raise


@pytest.fixture
def server(start_server: ServerFactory) -> Server:
    """A real server following the deployment every 0.2 s."""
    return start_server("--reload-interval", "0.2")

"""A canary driven by a real server under traffic: promoted when it holds its limits,
rolled back when it breaches them — with nobody running a command in between."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx2
import numpy as np
import pandas as pd
import pytest

import loopml
from loopml.registry import get_version, register
from loopml.registry.aliases import alias_history
from loopml.serving import deployments
from loopml.store import Store

from .support import DEPLOYMENT, FEATURES, MODEL, ROW, wait_for

pytestmark = pytest.mark.slow


class Traffic:
    """Requests in a loop from a thread until stopped; counts answers by status."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.statuses: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        body = {"dataframe_split": {"columns": FEATURES, "data": [ROW]}}
        with httpx2.Client(base_url=self.url, timeout=10) as client:
            while not self._stop.is_set():
                status = client.post("/invocations", json=body).status_code
                self.statuses[status] = self.statuses.get(status, 0) + 1


def _canary_status(store: Store) -> str | None:
    canary = deployments.get(store, DEPLOYMENT).spec.canary
    return None if canary is None else canary.status


def test_a_canary_within_its_limits_steps_up_and_is_promoted(registered: Store, server) -> None:
    deployments.canary(
        registered,
        DEPLOYMENT,
        f"{MODEL}@challenger",
        steps=[20, 60, 100],
        interval_s=0.5,
        max_error_rate=0.05,
    )
    with Traffic(server.url) as traffic:
        wait_for(lambda: _canary_status(registered) == "promoted", timeout=60, what="promotion")
    assert set(traffic.statuses) == {200}
    deployment = deployments.get(registered, DEPLOYMENT)
    assert [(v.name, v.model, v.weight) for v in deployment.spec.variants] == [
        ("main", f"{MODEL}@champion", 100)
    ]
    # The stable variant follows an alias, so promotion moved the alias.
    assert get_version(registered, f"{MODEL}@champion").version == 2
    assert alias_history(registered, MODEL, "champion")[-1].reason == "canary"
    actions = [r.action for r in deployments.history(registered, DEPLOYMENT)]
    assert actions == ["create", "canary", "canary-step", "canary-step", "canary-step"]


def test_a_canary_that_fails_its_requests_is_rolled_back(
    registered: Store, server, tmp_path: Path
) -> None:
    # Version 3 expects a column the traffic does not carry: every request it gets fails.
    from sklearn.linear_model import LogisticRegression

    frame = pd.DataFrame({"other": np.arange(20.0)})
    model = LogisticRegression().fit(frame, np.arange(20) % 2)
    loopml.models.save(model, tmp_path / "v3", input_example=frame[:5])
    register(registered, tmp_path / "v3", MODEL)
    deployments.canary(
        registered, DEPLOYMENT, f"{MODEL}/3", steps=[50, 100], interval_s=600, max_error_rate=0.01
    )
    with Traffic(server.url) as traffic:
        wait_for(lambda: _canary_status(registered) == "rolled_back", timeout=60, what="rollback")
    canary = deployments.get(registered, DEPLOYMENT).spec.canary
    assert canary is not None
    assert "error rate" in (canary.reason or "")
    assert traffic.statuses.get(400, 0) >= 1  # the canary's failures, before it was stopped
    assert get_version(registered, f"{MODEL}@champion").version == 1
    spec = deployments.get(registered, DEPLOYMENT).spec
    assert [(v.name, v.weight) for v in spec.variants] == [("main", 100)]

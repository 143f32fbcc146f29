"""``loopml monitor serve`` in-process: its routes, and the tick that settles canaries,
retrains on a schedule and runs every policy's monitor."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from loopml.clock import now_ms
from loopml.monitoring.loop import list_retrains, retrain
from loopml.monitoring.policy import Policy, set_policy
from loopml.monitoring.records import list_reports
from loopml.monitoring.service import make_app, tick
from loopml.serving import deployments
from loopml.store import Store
from loopml.store.schema import monitor_policies

from ..helpers import free_port
from .support import DEPLOYMENT, MODEL, Production, wait_until, write_pipeline

QUIET = "quiet-prod"


def test_the_routes_answer(drifted: Production) -> None:
    store = drifted.store
    with TestClient(make_app(store, every_s=0)) as client:
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/reports").json() == []
        assert "loopml_monitor_drift_share{" not in client.get("/metrics").text
        set_policy(store, Policy(DEPLOYMENT))
        lines = tick(store)
        (report,) = client.get("/reports").json()

    assert lines == [f"{DEPLOYMENT}: report #{report['id']}, 1 breach(es)"]
    assert (report["deployment"], report["rows"], report["dataset_drift"]) == (
        DEPLOYMENT,
        800,
        True,
    )


def test_one_deployments_trouble_does_not_stop_the_others(drifted: Production) -> None:
    store = drifted.store
    deployments.create(store, QUIET, f"{MODEL}@champion")
    set_policy(store, Policy(QUIET))
    set_policy(store, Policy(DEPLOYMENT, rules=("drift", "rows < 1")))

    lines = tick(store)

    (report,) = list_reports(store)
    assert lines[0] == f"{DEPLOYMENT}: report #{report.id}, 1 breach(es)"
    assert lines[1].startswith(f"{QUIET}: deployment '{QUIET}' logged no predictions")
    assert len(lines) == 2


def test_a_tick_retrains_on_a_due_schedule_then_settles_the_canary(
    production: Production, db: Store
) -> None:
    store = production.store
    write_pipeline(production.root)
    set_policy(store, Policy(DEPLOYMENT, schedule="0 3 * * 0", pipeline="retrain.py"))
    eight_days_ago = now_ms() - 8 * 86_400_000  # it last acted before last Sunday 03:00
    with db.write() as connection:
        connection.execute(update(monitor_policies).values(last_scheduled=eight_days_ago))

    lines = tick(store)

    (started,) = list_retrains(store)
    assert lines == [f"{DEPLOYMENT}: scheduled retrain #{started.id} canary"]
    assert started.trigger == "schedule"
    again = tick(store)  # the slot is taken, and a retrain is active
    assert len(list_retrains(store)) == 1
    (line,) = again
    assert line.startswith(f"{DEPLOYMENT}: deployment '{DEPLOYMENT}' logged no predictions")
    found = deployments.get(store, DEPLOYMENT)
    while found.spec.canary is not None and found.spec.canary.status == "running":
        deployments.advance_canary(store, DEPLOYMENT, found.revision, "next", "healthy")
        found = deployments.get(store, DEPLOYMENT)

    lines = tick(store)

    assert lines[0] == f"retrain #{started.id}: promoted"
    assert list_retrains(store)[0].status == "promoted"


def test_the_service_ticks_on_its_own(
    drifted: Production, caplog: pytest.LogCaptureFixture
) -> None:
    store = drifted.store
    set_policy(store, Policy(DEPLOYMENT))
    caplog.set_level(logging.INFO, logger="loopml.monitor")
    with TestClient(make_app(store, every_s=3600)) as client:
        wait_until(lambda: list_reports(store), what="the first tick's report")
        wait_until(lambda: "breach(es)" in caplog.text, what="the first tick to end")
        assert client.get("/reports").json()[0]["deployment"] == DEPLOYMENT
    assert len(list_reports(store)) == 1  # one tick: the next is an hour away


def test_retrains_started_by_hand_are_settled_by_the_tick(production: Production) -> None:
    store: Store = production.store
    write_pipeline(production.root)
    set_policy(store, Policy(DEPLOYMENT, pipeline="retrain.py"))
    started = retrain(store, DEPLOYMENT)
    deployments.abort_canary(store, DEPLOYMENT, reason="bad latency")

    lines = tick(store)

    assert lines[0] == f"retrain #{started.id}: rejected"
    assert list_retrains(store)[0].detail == "canary bad latency"


def test_sigterm_lets_the_tick_in_progress_store_its_report(
    steady: Production, tmp_path: Path
) -> None:
    """A service is stopped with SIGTERM while its first tick runs (it starts with the
    server, and the first run of a model also computes its reference): the report that
    tick was making is stored before the process exits."""
    set_policy(steady.store, Policy(DEPLOYMENT))
    port = free_port()
    logs = tmp_path / "monitor-serve.log"
    loopml = Path(sys.executable).with_name("loopml")
    with open(logs, "wb") as output:
        service = subprocess.Popen(
            [str(loopml), "monitor", "serve", "--every", "1h", "--port", str(port)],
            cwd=steady.root, env=dict(os.environ), stdout=output, stderr=output,
        )  # fmt: skip
    try:

        def up() -> bool:
            assert service.poll() is None, logs.read_text()
            try:
                return httpx2.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
            except httpx2.TransportError:
                return False

        wait_until(up, what="loopml monitor serve", timeout=60)
        service.send_signal(signal.SIGTERM)
        service.wait(timeout=60)
    finally:
        if service.poll() is None:
            service.kill()
    (report,) = list_reports(steady.store, DEPLOYMENT)
    assert report.rows == 800, logs.read_text()

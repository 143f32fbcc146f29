"""``loopml monitor`` as a user runs it: the real console script on a project whose
``churn-prod`` deployment has logged predictions (see tests/monitoring/support.py)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loopml.config import resolve
from loopml.monitoring.policy import Policy, set_policy
from loopml.store import open_store

from ..helpers import loopml_cli
from ..monitoring.support import (
    DEPLOYMENT,
    MODEL,
    Production,
    build_production,
    customers,
    write_pipeline,
)


@pytest.fixture
def production(project: Path) -> Iterator[Production]:
    """churn-prod serving churn@champion, no predictions yet."""
    store = open_store(resolve())
    try:
        yield build_production(store, project)
    finally:
        store.close()


@pytest.fixture
def steady(production: Production) -> Production:
    production.score(customers(600, seed=1), labelled=400)
    return production


@pytest.fixture
def drifted(production: Production) -> Production:
    production.score(customers(600, seed=2, drift=True), labelled=400)
    return production


def monitor(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return loopml_cli("monitor", *args, cwd=project)


def ok_json(project: Path, *args: str) -> Any:
    done = monitor(project, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_monitor_run_prints_and_stores_a_report(steady: Production) -> None:
    root = steady.root
    shown = ok_json(root, "run", DEPLOYMENT, "--window", "1h")

    assert (shown["rows"], shown["labelled"], shown["model"]) == (600, 400, f"{MODEL}/1")
    assert shown["reference"] == "customers@1"
    assert shown["metrics"]["f1"] > 0.7 and shown["metrics"]["estimated_f1"] > 0.7
    assert shown["breaches"] == [] and shown["retrain"] is None
    assert shown["data"]["dataset_drift"] is False

    done = monitor(root, "run", DEPLOYMENT, "--html", "report.html")
    assert done.returncode == 0, done.stderr
    assert f"Report #{shown['id'] + 1} of {DEPLOYMENT}: 600 predictions (400 labelled)" in (
        done.stdout
    )
    assert "no dataset drift" in done.stdout
    assert "report page: report.html" in done.stdout
    assert (root / "report.html").read_text().lstrip().lower().startswith("<!doctype html")

    listed = ok_json(root, "reports", DEPLOYMENT)
    assert [report["id"] for report in listed] == [shown["id"] + 1, shown["id"]]
    stored = ok_json(root, "report", str(shown["id"]))
    assert stored["metrics"] == shown["metrics"]


def test_monitor_check_exits_1_on_a_breach_and_0_otherwise(drifted: Production) -> None:
    root = drifted.root
    breached = monitor(root, "check", DEPLOYMENT)  # the default policy: drift
    assert breached.returncode == 1, breached.stderr
    assert "breached: drift (value 1" in breached.stderr

    fine = monitor(root, "check", DEPLOYMENT, "--on", "rows < 10", "--on", "f1 < 0.1")
    assert fine.returncode == 0, fine.stderr
    assert "ok: no rule breached over 600 predictions" in fine.stdout

    alerts = monitor(root, "alerts", DEPLOYMENT)  # the breach's; the passing check raised none
    assert alerts.returncode == 0, alerts.stderr
    (row,) = [line for line in alerts.stdout.splitlines() if DEPLOYMENT in line]
    assert "drift" in row and "none" in row


def test_monitor_run_on_an_empty_window_exits_2_with_one_line(production: Production) -> None:
    done = monitor(production.root, "run", DEPLOYMENT, "--window", "1h")
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "churn-prod' logged no predictions" in line and "--window" in line
    assert ok_json(production.root, "reports") == []


def test_monitor_policy_refuses_an_unknown_metric(production: Production) -> None:
    done = monitor(production.root, "policy", DEPLOYMENT, "--on", "nonsense < 1")
    assert done.returncode == 2
    assert "unknown metric 'nonsense'" in done.stderr
    assert "known metrics: dataset_drift" in done.stderr
    shown = monitor(production.root, "policy", DEPLOYMENT, "--show")
    assert shown.returncode != 0 and "has no monitoring policy" in shown.stderr


def test_monitor_policy_set_show_and_delete(production: Production) -> None:
    root = production.root
    write_pipeline(root)
    policy = ok_json(
        root, "policy", DEPLOYMENT, "--on", "drift", "--on", "f1 < 0.7",
        "--pipeline", "retrain.py", "--canary", "20,100", "-p", "gate=roc_auc >= 0.5",
    )  # fmt: skip
    assert policy["rules"] == ["drift", "f1 < 0.7"]
    assert policy["canary"] == [20, 100]
    assert policy["params"] == {"gate": "roc_auc >= 0.5"}
    assert policy["pipeline"] == str(root / "retrain.py")
    assert ok_json(root, "policy", DEPLOYMENT, "--show") == policy
    bad = monitor(root, "policy", DEPLOYMENT, "--canary", "10,fifty")
    assert bad.returncode == 2 and "invalid --canary" in bad.stderr
    gone = monitor(root, "policy", DEPLOYMENT, "--delete")
    assert gone.returncode == 0 and f"Removed the policy of {DEPLOYMENT}" in gone.stdout


def test_monitor_retrain_and_retrains(production: Production) -> None:
    root = production.root
    write_pipeline(root)
    set_policy(production.store, Policy(DEPLOYMENT, pipeline="retrain.py"))

    started = ok_json(root, "retrain", DEPLOYMENT)
    assert (started["status"], started["candidate"]) == ("canary", f"{MODEL}/2")
    again = monitor(root, "retrain", DEPLOYMENT)
    assert again.returncode != 0 and "is still canary" in again.stderr

    table = monitor(root, "retrains", DEPLOYMENT)
    assert table.returncode == 0, table.stderr
    (row,) = [line for line in table.stdout.splitlines() if DEPLOYMENT in line]
    assert "manual" in row and "canary" in row and f"{MODEL}/2" in row

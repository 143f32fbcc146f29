"""What the UI tests share: runs, datasets, a pipeline run, a model with ``champion``, a
deployment with a canary and logged predictions, and a monitor report, all made through
the real service functions (``build_world``), plus small factories for single tests."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import loopml.pipelines
from loopml.data.versioning import add as add_dataset_version
from loopml.monitoring.monitor import monitor
from loopml.registry import evaluate_version, set_alias
from loopml.serving import deployments
from loopml.store import Store
from loopml.tracking import FINISHED, create_run, log_metrics, log_params, set_run_status
from loopml.tracking.entities import Run

from ..monitoring.support import (
    DATASET,
    DEPLOYMENT,
    MODEL,
    TARGET,
    build_production,
    customers,
    train_version,
)

MODELS = ("xgb", "lgbm", "rf")
STEPS = 10

PIPELINE = """
import pandas as pd
import loopml


@loopml.step
def ingest() -> pd.DataFrame:
    return loopml.data.load("customers")


@loopml.step
def features(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(value=frame["monthly"] * frame["tenure"])


@loopml.step
def summary(frame: pd.DataFrame) -> dict:
    return {"rows": len(frame), "value": float(frame["value"].mean())}


@loopml.step(cache=False)
def publish(frame: pd.DataFrame, facts: dict) -> int:
    return facts["rows"]


@loopml.pipeline
def churn_features():
    frame = features(ingest())
    publish(frame, summary(frame))
"""


def make_runs(
    store: Store, count: int, *, experiment: str = "churn", steps: int = STEPS
) -> list[Run]:
    """``count`` finished runs: params ``model`` (xgb, lgbm, rf in turn) and ``lr``, and
    ``auc`` and ``loss`` histories of ``steps`` steps; run ``i`` ends at auc 0.5 + i/100."""
    made = []
    for index in range(count):
        run = create_run(store, experiment=experiment, name=f"{experiment}-{index:03d}")
        log_params(store, run.id, {"model": MODELS[index % 3], "lr": round(0.01 * (index + 1), 2)})
        for step in range(steps):
            progress = (step + 1) / steps
            log_metrics(
                store,
                run.id,
                {"auc": 0.5 + progress * index / 100, "loss": 1 - progress * 0.5},
                step=step,
            )
        made.append(set_run_status(store, run.id, FINISHED))
    return made


def add_versions(store: Store) -> None:
    """``customers@2``: drifted customers, for a diff against ``customers@1``."""
    add_dataset_version(store, DATASET, customers(1000, seed=3, drift=True), message="drifted")


@dataclass
class World:
    store: Store
    root: Path
    runs: list[Run]
    pipeline_run_id: str
    report_id: int


def build_world(store: Store, root: Path) -> World:
    """Everything a page can show, once (run it with the project's environment set)."""
    production = build_production(store, root)  # customers@1, churn/1 champion, churn-prod
    add_versions(store)
    evaluate_version(store, f"{MODEL}@champion", f"{DATASET}@1", target=TARGET)
    train_version(f"{DATASET}@1")  # churn/2
    set_alias(store, MODEL, "challenger", 2)
    deployments.canary(store, DEPLOYMENT, f"{MODEL}@challenger", steps=[20, 50], interval_s=600)
    production.score(customers(400, seed=2, drift=True), labelled=300)
    report = monitor(store, DEPLOYMENT, window="1h", rules=["drift"])
    path = root / "pipe.py"
    path.write_text(textwrap.dedent(PIPELINE).lstrip(), encoding="utf-8")
    loopml.pipelines.run(path)
    second = loopml.pipelines.run(path)  # every step but publish is a cache hit
    runs = make_runs(store, 30) + make_runs(store, 5, experiment="fraud")
    assert report.id is not None
    return World(store, root, runs, second.id, report.id)

"""What the monitoring tests share: a churn model in production, and retraining pipelines.

``customers@1`` (3,000 seeded rows: three numbers, a plan, the ``churned`` target and an
id) is read by a training run inside ``loopml.start_run``, which logs a scikit-learn
Pipeline (one-hot ``plan``, standardised numbers, logistic regression) as ``churn/1``;
the version holds ``champion`` and deployment ``churn-prod`` serves ``churn@champion``.
Predictions are made by the real scoring app in-process (starlette TestClient) and labels
are sent to its ``/feedback`` route, so a monitor run reads the same log a server writes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from starlette.testclient import TestClient

import loopml
from loopml.clock import now_ms
from loopml.registry import set_alias
from loopml.serving import deployments
from loopml.serving.app import ServerSettings
from loopml.serving.server import make_app
from loopml.store import Store

DEPLOYMENT = "churn-prod"
MODEL = "churn"
DATASET = "customers"
NUMERIC = ["tenure", "monthly", "support_calls"]
CATEGORICAL = "plan"
INPUTS = [*NUMERIC, CATEGORICAL]
TARGET = "churned"
PLANS = ["basic", "plus", "family"]


def customers(rows: int = 3000, seed: int = 0, *, drift: bool = False) -> pd.DataFrame:
    """Seeded customers with their ``churned`` outcome. ``drift`` moves ``monthly``'s mean
    from 70 to 100 and turns the plan mix from mostly basic to mostly family."""
    rng = np.random.default_rng(seed)
    shares = [0.15, 0.25, 0.6] if drift else [0.6, 0.25, 0.15]
    frame = pd.DataFrame(
        {
            "tenure": rng.uniform(1, 72, rows).round(1),
            "monthly": rng.normal(100 if drift else 70, 20, rows).round(2),
            "support_calls": rng.poisson(2, rows).astype(float),
            CATEGORICAL: rng.choice(PLANS, rows, p=shares),
        }
    )
    score = (
        -0.08 * frame["tenure"]
        + 0.03 * frame["monthly"]
        + 0.4 * frame["support_calls"]
        + 0.5 * (frame[CATEGORICAL] == "basic")
        + rng.normal(0, 0.5, rows)
    )
    frame[TARGET] = (score > 1.0).astype(int)
    frame["customer_id"] = np.arange(rows) + seed * 100_000
    return frame


def fit_churn(frame: pd.DataFrame) -> Any:
    """The model: plan one-hot encoded, the numbers standardised, a logistic regression."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    encode = ColumnTransformer(
        [
            ("plan", OneHotEncoder(handle_unknown="ignore"), [CATEGORICAL]),
            ("numbers", StandardScaler(), NUMERIC),  # scaled, it converges in a few steps
        ]
    )
    model = Pipeline([("encode", encode), ("model", LogisticRegression(max_iter=1000))])
    return model.fit(frame[INPUTS], frame[TARGET])


def train_version(dataset: str = DATASET) -> int:
    """A training run reading ``dataset`` (lineage) and registering the next churn version."""
    with loopml.start_run(experiment="churn"):
        frame = loopml.data.load(dataset)
        model = fit_churn(frame)
        info = loopml.log_model(model, input_example=frame[INPUTS].head(5), registered_name=MODEL)
    return int(info.version.version)


def wait_until(probe: Callable[[], Any], *, what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := probe()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)
    return result


@dataclass
class Production:
    """``churn-prod`` serving ``churn@champion`` in the project at ``root``."""

    store: Store
    root: Path

    def score(self, frame: pd.DataFrame, *, labelled: int = 0, batch: int = 100) -> list[str]:
        """Score ``frame``'s rows through the scoring app, then send the true ``churned`` of
        the first ``labelled`` rows as feedback; returns the rows' prediction ids."""
        app = make_app(self.store, DEPLOYMENT, settings=ServerSettings(reload_interval=0.1))
        ids: list[str] = []
        with TestClient(app) as client:
            wait_until(
                lambda: client.get("/v2/health/ready").status_code == 200,
                what=f"{DEPLOYMENT} to load",
            )
            for start in range(0, len(frame), batch):
                part = frame.iloc[start : start + batch]
                assert len(part) > 1, "a one-row request's id has no :row suffix"
                split = json.loads(part[INPUTS].to_json(orient="split", index=False))
                answer = client.post("/invocations", json={"dataframe_split": split})
                assert answer.status_code == 200, answer.text
                request_id = answer.headers["x-prediction-id"]
                ids += [f"{request_id}:{row}" for row in range(len(part))]
            if labelled:
                truth = frame[TARGET].head(labelled).tolist()
                items = [
                    {"id": i, "label": int(label)} for i, label in zip(ids, truth, strict=False)
                ]
                answer = client.post("/feedback", json=items)
                assert answer.status_code == 200, answer.text
                assert answer.json()["stored"] == labelled
        return ids

    def window(self, frame: pd.DataFrame, *, labelled: int = 0) -> tuple[int, int]:
        """Score ``frame`` as :meth:`score` does; the (since, until) that hold just it."""
        since = now_ms()
        self.score(frame, labelled=labelled)
        return since, now_ms() + 1


def build_production(store: Store, root: Path) -> Production:
    """``customers@1``, ``churn/1`` trained on it (``champion``), ``churn-prod`` serving it."""
    loopml.data.add(DATASET, customers(3000, seed=0), message="training customers")
    version = train_version(f"{DATASET}@1")
    set_alias(store, MODEL, "champion", version)
    deployments.create(store, DEPLOYMENT, f"{MODEL}@champion")
    return Production(store, root)


RETRAIN_PIPELINE = '''
"""Retrains churn on the newest customers; promotes it to ``alias`` if it passes ``gate``."""

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import loopml
from loopml.errors import GateFailed

INPUTS = ["tenure", "monthly", "support_calls", "plan"]
TARGET = "churned"


@loopml.step
def train(dataset: str, fail: str = "") -> tuple[int, pd.DataFrame]:
    if fail == "error":
        raise RuntimeError("the warehouse is down")
    if fail == "interrupt":
        raise KeyboardInterrupt
    frame = loopml.data.load(dataset)
    train_set = frame.sample(frac=0.75, random_state=0)
    test_set = frame.drop(train_set.index).reset_index(drop=True)
    encode = ColumnTransformer(
        [
            ("plan", OneHotEncoder(handle_unknown="ignore"), ["plan"]),
            ("numbers", StandardScaler(), INPUTS[:3]),
        ]
    )
    model = Pipeline([("encode", encode), ("model", LogisticRegression(max_iter=1000))])
    model.fit(train_set[INPUTS], train_set[TARGET])
    info = loopml.log_model(
        model, input_example=train_set[INPUTS].head(5), registered_name="churn"
    )
    return info.version.version, test_set


@loopml.step
def promote(version: int, test_set: pd.DataFrame, alias: str, gate: str) -> str:
    if not gate:
        return "not promoted"
    try:
        loopml.promote(
            "churn", version, to=alias, against="champion", gates=[gate], data=test_set,
            target=TARGET, reason=f"retrained, for {alias}",
        )
    except GateFailed:
        return "refused"
    return "promoted"


@loopml.pipeline
def retraining(
    dataset: str = "customers",
    alias: str = "champion",
    gate: str = "roc_auc >= champion.roc_auc - 0.05",  # "": no promotion
    fail: str = "",  # error | interrupt: the training step raises
):
    version, test_set = train(dataset, fail)
    promote(version, test_set, alias, gate)
'''

NO_ALIAS_PIPELINE = """
import loopml


@loopml.step
def count(dataset: str) -> int:
    return len(loopml.data.load(dataset))


@loopml.pipeline
def counting(dataset: str = "customers"):
    count(dataset)
"""


def write_pipeline(root: Path, source: str = RETRAIN_PIPELINE, name: str = "retrain.py") -> Path:
    """A pipeline file in the project directory."""
    path = root / name
    path.write_text(source.lstrip(), encoding="utf-8")
    return path

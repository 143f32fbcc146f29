"""The churn pipeline: ingest and validate, preprocess, train, evaluate, register, promote.

loopml pipeline run pipeline.py                       # every step runs; churn/1 is champion
loopml pipeline run pipeline.py                       # every step is reused
loopml pipeline run pipeline.py -p train.max_depth=6  # retrained: churn/2 faces the gates
loopml pipeline explain <run>                         # why each step ran or not
loopml models show churn                              # versions and alias history
"""

from __future__ import annotations

from pathlib import Path

import features
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

import loopml
from loopml.errors import GateFailed

TARGET = "churned"
SCHEMA = Path(__file__).parent / "schema.yaml"


@loopml.step
def ingest(dataset: str) -> pd.DataFrame:
    """Load the dataset version and check it against the project's schema."""
    frame = loopml.data.load(dataset)
    loopml.data.validate(frame, schema=SCHEMA)  # raises on missing columns, bad values...
    return frame


@loopml.step
def preprocess(
    frame: pd.DataFrame, test_size: float = 0.25, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    table = features.encode(features.add_features(frame.drop(columns=["customer_id"])))
    train, test = train_test_split(
        table, test_size=test_size, random_state=seed, stratify=table[TARGET]
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)


@loopml.step(retries=1)
def train(
    train_set: pd.DataFrame, max_depth: int = 4, n_estimators: int = 200, seed: int = 0
) -> RandomForestClassifier:
    model = RandomForestClassifier(
        n_estimators=n_estimators, max_depth=max_depth, random_state=seed, n_jobs=1
    )
    model.fit(train_set.drop(columns=[TARGET]), train_set[TARGET])
    return model


@loopml.step
def evaluate(
    model: RandomForestClassifier, train_set: pd.DataFrame, test_set: pd.DataFrame
) -> dict:
    """Holdout metrics, and the train-vs-holdout gap that flags overfitting."""
    result = loopml.evaluate(model, test_set, target=TARGET, train_data=train_set)
    metrics = {key: result.metrics[key] for key in ("roc_auc", "accuracy", "f1", "overfit_gap")}
    loopml.log_metrics(metrics)
    return metrics


@loopml.step
def register(model: RandomForestClassifier, test_set: pd.DataFrame, metrics: dict) -> int:
    """Log the model with its signature and requirements; make it churn's next version."""
    info = loopml.log_model(
        model, input_example=test_set.drop(columns=[TARGET]).head(5), registered_name="churn"
    )
    return info.version.version


@loopml.step
def promote(version: int, test_set: pd.DataFrame, min_auc: float = 0.75) -> str:
    """Make the new version champion only if it is good enough and no worse than the
    current champion on the same holdout; a refusal keeps the champion and says why."""
    try:
        promotion = loopml.promote(
            "churn",
            version,
            to="champion",
            gates=[f"roc_auc >= {min_auc}", "roc_auc >= champion.roc_auc - 0.005"],
            data=test_set,
            target=TARGET,
            reason="trained by the churn pipeline",
        )
    except GateFailed as refused:
        print(refused.message)
        return "refused"
    return promotion.status


@loopml.pipeline
def churn(dataset: str = "customers"):
    train_set, test_set = preprocess(ingest(dataset))
    model = train(train_set)
    metrics = evaluate(model, train_set, test_set)
    promote(register(model, test_set, metrics), test_set)

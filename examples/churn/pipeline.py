"""The churn pipeline: ingest and validate, preprocess, train, evaluate.

loopml pipeline run pipeline.py                       # every step runs
loopml pipeline run pipeline.py                       # every step is reused
loopml pipeline run pipeline.py -p train.max_depth=6  # train and evaluate run again
loopml pipeline explain <run>                         # why each step ran or not
"""

from __future__ import annotations

from pathlib import Path

import features
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.model_selection import train_test_split

import loopml

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
def evaluate(model: RandomForestClassifier, test_set: pd.DataFrame) -> dict:
    X, y = test_set.drop(columns=[TARGET]), test_set[TARGET]
    scores = model.predict_proba(X)[:, 1]
    metrics = {
        "roc_auc": float(roc_auc_score(y, scores)),
        "accuracy": float(accuracy_score(y, scores >= 0.5)),
        "f1": float(f1_score(y, scores >= 0.5)),
    }
    loopml.log_metrics(metrics)
    return metrics


@loopml.pipeline
def churn(dataset: str = "customers"):
    train_set, test_set = preprocess(ingest(dataset))
    model = train(train_set)
    evaluate(model, test_set)

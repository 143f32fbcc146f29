"""The churn pipeline: ingest and validate, preprocess, train, evaluate, register, promote.

loopml pipeline run pipeline.py                       # every step runs; churn/1 is champion
loopml pipeline run pipeline.py                       # every step is reused
loopml pipeline run pipeline.py -p train.max_depth=6  # retrained: churn/2 faces the gates
loopml pipeline run pipeline.py -p alias=challenger   # moves churn@challenger instead,
                                                      # if it matches churn@champion
loopml pipeline explain <run>                         # why each step ran or not
loopml models show churn                              # versions and alias history

The model is a scikit-learn Pipeline, one-hot encoding then LightGBM, whose inputs are
the raw customer columns: a server receives customers as they are, and its logged
requests compare column for column with the dataset for drift monitoring.
"""

from __future__ import annotations

from pathlib import Path

import features
import pandas as pd
from lightgbm import LGBMClassifier
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

import loopml
from loopml.errors import Conflict, GateFailed

TARGET = features.TARGET
SCHEMA = Path(__file__).parent / "schema.yaml"
MODEL = "churn"
MARGIN = 0.005  # how much holdout AUC a new version may lose against the champion


@loopml.step
def ingest(dataset: str) -> pd.DataFrame:
    """Load the dataset's newest version and check it against the project's schema."""
    frame = loopml.data.load(dataset)
    loopml.data.validate(frame, schema=SCHEMA)  # raises on missing columns, bad values...
    return frame


@loopml.step
def preprocess(
    frame: pd.DataFrame, test_size: float = 0.25, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Clean and type the table (see features.clean), then a stratified holdout split."""
    table = features.clean(frame)
    train, test = train_test_split(
        table, test_size=test_size, random_state=seed, stratify=table[TARGET]
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)


@loopml.step(retries=1)
def train(
    train_set: pd.DataFrame,
    n_estimators: int = 200,
    learning_rate: float = 0.05,
    num_leaves: int = 7,
    max_depth: int = 4,
    min_child_samples: int = 50,
    seed: int = 0,
) -> Pipeline:
    """One-hot encode the categories, pass the numbers through, fit LightGBM."""
    encode = ColumnTransformer(
        [
            ("categories", OneHotEncoder(handle_unknown="ignore"), features.CATEGORICAL),
            ("numbers", "passthrough", features.NUMERIC),
        ],
        sparse_threshold=0,
    )
    boost = LGBMClassifier(
        n_estimators=n_estimators,
        learning_rate=learning_rate,
        num_leaves=num_leaves,
        max_depth=max_depth,
        min_child_samples=min_child_samples,
        random_state=seed,
        n_jobs=1,
        verbose=-1,
    )
    model = Pipeline([("encode", encode), ("model", boost)])
    model.fit(train_set[features.INPUTS], train_set[TARGET])
    return model


@loopml.step
def evaluate(model: Pipeline, train_set: pd.DataFrame, test_set: pd.DataFrame) -> dict:
    """Holdout metrics, and the train-vs-holdout gap that flags overfitting."""
    result = loopml.evaluate(model, test_set, target=TARGET, train_data=train_set)
    metrics = {key: result.metrics[key] for key in ("roc_auc", "accuracy", "f1", "overfit_gap")}
    loopml.log_metrics(metrics)
    return metrics


@loopml.step
def register(model: Pipeline, test_set: pd.DataFrame, metrics: dict) -> int:
    """Log the model with its signature and requirements; make it churn's next version."""
    info = loopml.log_model(
        model, input_example=test_set[features.INPUTS].head(5), registered_name=MODEL
    )
    return info.version.version


@loopml.step
def promote(
    version: int, test_set: pd.DataFrame, alias: str = "champion", min_auc: float = 0.75
) -> str:
    """Point ``churn@alias`` at the new version if it is good enough and no worse than
    ``churn@champion`` on the same holdout; a refusal keeps the alias and says why."""
    try:
        promotion = loopml.promote(
            MODEL,
            version,
            to=alias,
            against="champion",  # whatever alias moves, the bar is the champion
            gates=[f"roc_auc >= {min_auc}", f"roc_auc >= champion.roc_auc - {MARGIN}"],
            data=test_set,
            target=TARGET,
            reason=f"trained by the churn pipeline, for {alias}",
        )
    except GateFailed as refused:
        print(refused.message)
        return "refused"
    except Conflict as same:  # the alias already points at this version
        print(same.message)
        return "unchanged"
    return promotion.status


@loopml.pipeline
def churn(dataset: str = "customers", alias: str = "champion"):
    train_set, test_set = preprocess(ingest(dataset))
    model = train(train_set)
    metrics = evaluate(model, train_set, test_set)
    promote(register(model, test_set, metrics), test_set, alias)

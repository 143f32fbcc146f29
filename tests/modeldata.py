"""Small real data and models shared by the model, registry and packaging tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def churn_frame(rows: int = 400, seed: int = 0) -> pd.DataFrame:
    """Customers with a numeric, an integer and a categorical feature, a sensitive
    attribute and a churn label that depends on the features."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "tenure": rng.integers(1, 72, rows),
            "monthly": rng.normal(70, 20, rows).round(2),
            "plan": rng.choice(["basic", "plus", "pro"], rows),
            "gender": rng.choice(["f", "m"], rows),
        }
    )
    score = -0.05 * frame.tenure + 0.03 * frame.monthly + (frame.plan == "basic") * 0.8
    frame["churned"] = (score + rng.normal(0, 0.7, rows) > 0.4).astype(int)
    return frame


FEATURES = ["tenure", "monthly", "plan"]


def fit_pipeline(frame: pd.DataFrame, **params: object):
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), ["tenure", "monthly"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["plan"]),
        ]
    )
    model = Pipeline([("prep", prep), ("clf", LogisticRegression(**params))])
    return model.fit(frame[FEATURES], frame["churned"])


def fit_weak(frame: pd.DataFrame):
    """The same pipeline fitted on shuffled labels: a model no better than chance."""
    shuffled = frame.assign(churned=frame["churned"].sample(frac=1, random_state=1).to_numpy())
    return fit_pipeline(shuffled)

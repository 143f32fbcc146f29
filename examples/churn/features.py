"""Feature engineering for the churn example: project code the steps call.

Editing a function here invalidates the cached steps that use it, and only those.
"""

from __future__ import annotations

import pandas as pd

CATEGORICAL = ["contract"]
NUMERIC = ["tenure_months", "monthly_charges", "support_calls"]


def add_features(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out["charges_per_month_of_tenure"] = out["monthly_charges"] / out["tenure_months"]
    out["frequent_caller"] = (out["support_calls"] >= 3).astype(int)
    return out


def encode(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.get_dummies(frame, columns=CATEGORICAL, dtype=int)

"""The churn model's view of a customer table: its input columns and their cleaning.

Project code the steps call: editing a function here invalidates the cached steps that
use it, and only those. Nothing here goes inside the model, which a server loads
without this file: the model takes the raw columns, typed as :func:`clean` leaves them
(integers, floats and lower-case text), which is also what JSON requests give it.
"""

from __future__ import annotations

import pandas as pd

ID = "customer_id"
TARGET = "churned"
CATEGORICAL = ["contract", "internet_service", "payment_method", "region"]
INTEGER = ["tenure_months", "num_products", "support_calls", "paperless_billing", "senior"]
FLOAT = ["monthly_charges", "total_charges"]
NUMERIC = INTEGER + FLOAT
INPUTS = [  # the table's order
    "tenure_months",
    "contract",
    "internet_service",
    "num_products",
    "monthly_charges",
    "total_charges",
    "support_calls",
    "payment_method",
    "paperless_billing",
    "senior",
    "region",
]


def clean(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per customer, the inputs and the target typed, without ``customer_id``.

    Exact repeats of a row (a file appended twice) are dropped; text categories are
    trimmed and lower-cased; rows without a label are dropped, as a model cannot
    learn from them.
    """
    out = frame.drop_duplicates().drop(columns=[ID])
    out = out[out[TARGET].notna()]
    for column in CATEGORICAL:
        out[column] = out[column].astype(str).str.strip().str.lower()
    out[INTEGER] = out[INTEGER].astype("int64")
    out[FLOAT] = out[FLOAT].astype("float64")
    out[TARGET] = out[TARGET].astype("int64")
    return out[[*INPUTS, TARGET]].reset_index(drop=True)

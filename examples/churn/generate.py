"""Write a synthetic customer table, ``data/customers.csv``, for the churn example.

The churn probability depends on tenure, monthly charges, support calls and the
contract type, so a model has something real to learn. ``--seed`` and ``--rows`` make
another version of the data (a "new month" of customers).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd


def customers(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 72, rows)
    contract = rng.choice(["monthly", "yearly", "two-year"], rows, p=[0.55, 0.3, 0.15])
    charges = np.round(rng.normal(70, 25, rows).clip(15, 150), 2)
    calls = rng.poisson(1.5, rows)
    logit = (
        -1.2
        - 0.045 * tenure
        + 0.02 * (charges - 70)
        + 0.45 * calls
        + np.select([contract == "monthly", contract == "yearly"], [1.1, -0.2], -1.0)
    )
    churned = rng.random(rows) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame(
        {
            "customer_id": np.arange(1, rows + 1),
            "tenure_months": tenure,
            "contract": contract,
            "monthly_charges": charges,
            "support_calls": calls,
            "churned": churned.astype(int),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("data/customers.csv"))
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    customers(args.rows, args.seed).to_csv(args.out, index=False)
    print(f"wrote {args.rows} customers to {args.out}")


if __name__ == "__main__":
    main()

"""Synthetic, seeded telecom customers for the churn example, with switchable drift.

Two uses: a training table (``data/customers.csv``: inputs, ``customer_id``, ``churned``)
and a stream of scoring requests whose true labels arrive later, so a simulation can send
predictions first and feedback afterwards. Everything is drawn from NumPy generators
seeded by ``seed``: the same arguments give the same frame.

    python generate.py                                   # data/customers.csv, 5000 rows, seed 7
    python generate.py --rows 5000 --seed 8 --covariate-drift 0.8 --out data/drifted.csv
    python generate.py --stream --rows 2000 --seed 9 --concept-drift 1 --out data/stream.csv
        # data/stream.csv (everything), data/stream-requests.csv (inputs, id, event_time)
        # and data/stream-labels.csv (id, churned, label_time; only labels that arrived)

Columns
-------
customer_id        int    1, 2, ... (``first_id`` onwards); an id, not a model input.
tenure_months      int    1..72 months a customer. Gamma-distributed around a mean
                          that depends on the contract: 15 monthly, 34 yearly, 50 two-year.
contract           str    ``monthly`` (55%), ``yearly`` (25%), ``two-year`` (20%).
internet_service   str    ``fiber`` (44%), ``dsl`` (36%), ``none`` (20%).
num_products       int    1..6 (internet, phone, TV...); mean 1.9, more with a longer
                          tenure, fewer without internet.
monthly_charges    float  18..140, two decimals: about 20 without internet, 50 with DSL,
                          75 with fiber, plus 9 for each extra product, plus noise.
total_charges      float  Billed so far: tenure x monthly charges x noise (lognormal,
                          sd 0.08: price changes over the years), two decimals.
support_calls      int    0..15 calls last quarter: Poisson with mean 1.0, +0.4 with
                          fiber, +0.3 for seniors, +0.4 in the first six months.
payment_method     str    ``electronic_check`` (45% of monthly contracts, 15% of the
                          others), else ``mailed_check`` (half the rest),
                          ``bank_transfer`` or ``credit_card`` (a quarter each).
paperless_billing  int    0/1: 50%, +20 points with fiber, -15 for seniors.
senior             int    0/1: 16%.
region             str    ``north`` 25%, ``south``, ``east``, ``west`` 20% each,
                          ``central`` 15%.
churned            int    0/1, the target: the customer leaves within the quarter.

Churn mechanism
---------------
``churned ~ Bernoulli(sigmoid(churn_logit(inputs) + satisfaction))``, where
satisfaction is unobserved normal noise (sd 0.6) that no model can learn. The log-odds
add up these terms (the base rate is about 26%):

- contract: monthly +1.2, yearly -0.6, two-year -1.6;
- tenure: ``-1.1 * log1p(tenure / 6)``, steep over the first two years, and a monthly
  contract in its first year adds +1.0 (an interaction);
- price: +0.015 per unit of monthly charges above 65, and fiber with charges above 85
  adds +1.2 (an interaction: an expensive fiber bill);
- support calls: +0.45 per call up to four, flat beyond (frustration saturates);
- electronic check +0.5, paperless billing +0.2, senior +0.35;
- each product beyond the first -0.3 (bundles hold customers);
- region: south +0.2, north -0.2, central -0.4.

LightGBM trained on 5,000 customers reaches ROC AUC about 0.87 and F1 about 0.64 at
threshold 0.5 on fresh customers (the true probabilities reach 0.88 and 0.64).

Switches
--------
covariate_drift: 0..1, 0 = none, 1 = strong
    The population moves, the relation (``churn_logit``) does not. At 1: monthly
    contracts 55% -> 63%, fiber 44% -> 54%, 0.8 more products a customer (so charges
    rise from a mean of 63 to 78, 3 of it a price rise), support calls +30%, electronic
    checks 31% -> 13%, seniors 16% -> 10%, and the central region 15% -> 45% of
    customers. The churn rate rises from about 26% to 32%; a model trained before
    loses under 0.01 of AUC and its F1 rises by 0.02 to 0.04 (more positives).
concept_drift: 0..1, 0 = none, 1 = strong
    The relation changes, the population does not: a competitor undercuts prices, so
    price-sensitive customers leave whatever held them before. At 1: the charges
    coefficient 0.015 -> 0.105, fiber with high charges +1.2 -> +2.4, yearly contracts
    -0.6 -> +1.6, tenure's protection -1.1 -> -0.6, support calls 0.45 -> 0.05 a call.
    The churn rate rises from about 26% to 39%; a model trained before drops from AUC
    0.87 and F1 0.64 to about 0.73 and 0.51 (0.81 and 0.58 at 0.5).
seed, rows
    The random seed and the number of customers; the same arguments give the same frame.
start, period_days (streams)
    Each request's ``event_time`` is uniform over ``period_days`` from ``start`` (UTC).
label_delay_days, unlabelled_share (streams)
    A label arrives at ``label_time = event_time + delay``, the delay gamma-distributed
    (shape 2) with mean ``label_delay_days``; a random ``unlabelled_share`` of labels never
    arrives (``label_time`` is missing).
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

ID = "customer_id"
TARGET = "churned"
CATEGORICAL = ["contract", "internet_service", "payment_method", "region"]
NUMERIC = [
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "support_calls",
    "num_products",
    "paperless_billing",
    "senior",
]
INPUTS = [
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
CONTRACTS = ["monthly", "yearly", "two-year"]
INTERNET = ["fiber", "dsl", "none"]
PAYMENTS = ["electronic_check", "mailed_check", "bank_transfer", "credit_card"]
REGIONS = ["north", "south", "east", "west", "central"]
INTERCEPT = -1.45  # puts the undrifted churn rate near 26%
SATISFACTION = 0.6  # standard deviation of the unobserved part of the log-odds


def customers(
    rows: int = 5000,
    seed: int = 7,
    *,
    covariate_drift: float = 0.0,
    concept_drift: float = 0.0,
    first_id: int = 1,
) -> pd.DataFrame:
    """The training table: ``customer_id``, the inputs and ``churned``, one row a customer.

    >>> frame = customers(1000, seed=1)
    >>> list(frame.columns) == [ID, *INPUTS, TARGET]
    True
    """
    _check_strength("covariate_drift", covariate_drift)
    _check_strength("concept_drift", concept_drift)
    if rows < 0:
        raise ValueError(f"rows must be 0 or more, got {rows}")
    rng = np.random.default_rng(seed)
    frame = _population(rng, rows, covariate_drift)
    logit = churn_logit(frame, concept_drift=concept_drift) + rng.normal(0, SATISFACTION, rows)
    frame[TARGET] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype("int64")
    frame.insert(0, ID, np.arange(first_id, first_id + rows, dtype="int64"))
    return frame


def churn_logit(frame: pd.DataFrame, *, concept_drift: float = 0.0) -> np.ndarray:
    """The log-odds of churn that the inputs explain (the satisfaction noise comes on top).

    ``concept_drift`` (0..1) moves each drifting coefficient linearly from its first
    value to its last: ``(0.015 + 0.09 * s)`` is 0.015 undrifted and 0.105 at 1.
    """
    s = concept_drift
    tenure = frame["tenure_months"].to_numpy(dtype=float)
    charges = frame["monthly_charges"].to_numpy(dtype=float)
    calls = frame["support_calls"].to_numpy(dtype=float)
    contract = frame["contract"].to_numpy(dtype=object)
    monthly = contract == "monthly"
    fiber = frame["internet_service"].to_numpy(dtype=object) == "fiber"
    region = frame["region"].to_numpy(dtype=object)
    return (
        INTERCEPT
        + np.select([monthly, contract == "yearly"], [1.2, -0.6 + 2.2 * s], -1.6)
        - (1.1 - 0.5 * s) * np.log1p(tenure / 6)
        + 1.0 * (monthly & (tenure < 12))
        + (0.015 + 0.09 * s) * (charges - 65)
        + (1.2 + 1.2 * s) * (fiber & (charges > 85))
        + (0.45 - 0.4 * s) * np.minimum(calls, 4)
        + 0.5 * (frame["payment_method"].to_numpy(dtype=object) == "electronic_check")
        + 0.2 * frame["paperless_billing"].to_numpy(dtype=float)
        + 0.35 * frame["senior"].to_numpy(dtype=float)
        - 0.3 * (frame["num_products"].to_numpy(dtype=float) - 1)
        + 0.2 * (region == "south")
        - 0.2 * (region == "north")
        - 0.4 * (region == "central")
    )


def stream(
    rows: int = 2000,
    seed: int = 8,
    *,
    start: str | datetime | pd.Timestamp = "2024-01-01",
    period_days: float = 30.0,
    covariate_drift: float = 0.0,
    concept_drift: float = 0.0,
    label_delay_days: float = 7.0,
    unlabelled_share: float = 0.1,
    first_id: int = 1_000_001,
) -> pd.DataFrame:
    """Customers scored over a period, with the time each one's label arrives.

    The table of :func:`customers` plus ``event_time`` (when the customer is scored,
    uniform over ``period_days`` from ``start``, UTC, rows in time order) and
    ``label_time`` (``event_time`` plus a gamma delay of mean ``label_delay_days``;
    missing for the ``unlabelled_share`` of labels that never arrive). The customers
    are those of ``customers(rows, seed, ...)``. Split it with :func:`requests_view`
    (send these first) and :func:`labels_view` (then these, as feedback).
    """
    if not 0 <= unlabelled_share <= 1:
        raise ValueError(f"unlabelled_share must be between 0 and 1, got {unlabelled_share}")
    if period_days <= 0 or label_delay_days <= 0:
        raise ValueError("period_days and label_delay_days must be positive")
    frame = customers(
        rows,
        seed,
        covariate_drift=covariate_drift,
        concept_drift=concept_drift,
        first_id=first_id,
    )
    rng = np.random.default_rng([seed, 1])  # its own stream: the customers stay the same
    origin = pd.Timestamp(start)
    origin = origin.tz_localize("UTC") if origin.tzinfo is None else origin.tz_convert("UTC")
    offsets = np.sort(rng.uniform(0, period_days * 86_400, rows))
    delays = rng.gamma(2.0, label_delay_days / 2, rows) * 86_400
    arrives = rng.random(rows) >= unlabelled_share
    event_time = origin + pd.to_timedelta(np.round(offsets), unit="s")
    label_time = event_time + pd.to_timedelta(np.round(delays), unit="s")
    frame["event_time"] = event_time
    frame["label_time"] = label_time.where(arrives)
    return frame


def requests_view(stream_frame: pd.DataFrame) -> pd.DataFrame:
    """What the scoring server sees: ``customer_id``, ``event_time`` and the inputs."""
    return stream_frame[[ID, "event_time", *INPUTS]].reset_index(drop=True)


def labels_view(stream_frame: pd.DataFrame) -> pd.DataFrame:
    """The labels that arrive: ``customer_id``, ``churned``, ``label_time``, in arrival
    order; customers whose label never arrives are left out."""
    arrived = stream_frame[stream_frame["label_time"].notna()]
    view = arrived[[ID, TARGET, "label_time"]].sort_values("label_time", kind="stable")
    return view.reset_index(drop=True)


def _population(rng: np.random.Generator, rows: int, drift: float) -> pd.DataFrame:
    """The inputs, without the target; ``drift`` moves the marginals (see the switches)."""
    contract = rng.choice(CONTRACTS, rows, p=_mix([0.55, 0.25, 0.20], [0.63, 0.22, 0.15], drift))
    mean_tenure = np.select([contract == "monthly", contract == "yearly"], [15.0, 34.0], 50.0)
    tenure = np.clip(np.ceil(rng.gamma(2.0, mean_tenure / 2)), 1, 72).astype("int64")
    internet = rng.choice(INTERNET, rows, p=_mix([0.44, 0.36, 0.20], [0.54, 0.33, 0.13], drift))
    products = 1 + rng.poisson(0.7 + 0.8 * drift + 0.012 * tenure - 0.5 * (internet == "none"))
    products = np.clip(products, 1, 6).astype("int64")
    base = np.select([internet == "fiber", internet == "dsl"], [75.0, 50.0], 20.0)
    charges = base + 9.0 * (products - 1) + 3.0 * drift + rng.normal(0, 7, rows)
    charges = np.round(np.clip(charges, 18, 140), 2)
    total = tenure * charges * rng.lognormal(0, 0.08, rows)
    senior = (rng.random(rows) < 0.16 - 0.06 * drift).astype("int64")
    calls_rate = 1.0 + 0.4 * (internet == "fiber") + 0.3 * senior + 0.4 * (tenure < 6)
    calls = np.clip(rng.poisson(calls_rate * (1 + 0.3 * drift)), 0, 15).astype("int64")
    echeck = np.where(contract == "monthly", 0.45, 0.15) * (1 - 0.6 * drift)
    others = (1 - echeck) / 4  # the rest: mailed 2 parts, bank transfer 1, credit card 1
    payment_p = np.stack([echeck, 2 * others, others, others], axis=1)
    payment = np.array(PAYMENTS)[_choose_rows(rng, payment_p)]
    paperless_p = 0.5 + 0.2 * (internet == "fiber") - 0.15 * senior
    paperless = (rng.random(rows) < paperless_p).astype("int64")
    regions_p = _mix([0.25, 0.20, 0.20, 0.20, 0.15], [0.15, 0.12, 0.14, 0.14, 0.45], drift)
    region = rng.choice(REGIONS, rows, p=regions_p)
    return pd.DataFrame(
        {
            "tenure_months": tenure,
            "contract": contract,
            "internet_service": internet,
            "num_products": products,
            "monthly_charges": charges,
            "total_charges": np.round(total, 2),
            "support_calls": calls,
            "payment_method": payment,
            "paperless_billing": paperless,
            "senior": senior,
            "region": region,
        }
    )


def _mix(before: list[float], after: list[float], strength: float) -> np.ndarray:
    p = (1 - strength) * np.array(before) + strength * np.array(after)
    return p / p.sum()


def _choose_rows(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
    """One category index per row, row ``i`` drawn with the probabilities ``p[i]``."""
    cumulative = np.cumsum(p, axis=1)
    draws = rng.random(len(p))[:, None] * cumulative[:, -1:]
    return (draws > cumulative).sum(axis=1)


def _check_strength(name: str, value: float) -> None:
    if not 0 <= value <= 1:
        raise ValueError(f"{name} must be between 0 (none) and 1 (strong), got {value}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Write synthetic churn customers (see the module docstring).",
    )
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--covariate-drift", type=float, default=0.0, metavar="0..1")
    parser.add_argument("--concept-drift", type=float, default=0.0, metavar="0..1")
    parser.add_argument("--first-id", type=int, default=None, help="the first customer_id")
    parser.add_argument(
        "--stream",
        action="store_true",
        help="write a stream: OUT with event_time and label_time, plus OUT-requests.csv "
        "and OUT-labels.csv beside it",
    )
    parser.add_argument("--start", default="2024-01-01", help="stream start (ISO 8601)")
    parser.add_argument("--period-days", type=float, default=30.0)
    parser.add_argument("--label-delay-days", type=float, default=7.0)
    parser.add_argument("--unlabelled-share", type=float, default=0.1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    drift = {"covariate_drift": args.covariate_drift, "concept_drift": args.concept_drift}
    try:
        if args.stream:
            out = args.out or Path("data/stream.csv")
            frame = stream(
                args.rows,
                args.seed,
                start=args.start,
                period_days=args.period_days,
                label_delay_days=args.label_delay_days,
                unlabelled_share=args.unlabelled_share,
                first_id=1_000_001 if args.first_id is None else args.first_id,
                **drift,
            )
        else:
            out = args.out or Path("data/customers.csv")
            frame = customers(args.rows, args.seed, first_id=args.first_id or 1, **drift)
    except ValueError as exc:
        parser.error(str(exc))
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False)
    rate = frame[TARGET].mean() if len(frame) else float("nan")
    print(f"wrote {len(frame)} customers to {out} (churn rate {rate:.1%})")
    if args.stream:
        for suffix, view in (("requests", requests_view(frame)), ("labels", labels_view(frame))):
            path = out.with_name(f"{out.stem}-{suffix}{out.suffix}")
            view.to_csv(path, index=False)
            print(f"wrote {len(view)} {suffix} to {path}")


if __name__ == "__main__":
    main()

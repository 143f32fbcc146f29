"""How a deployment's variants answered the same traffic: shadow agreement and metrics.

A shadow answers exactly the requests its live variant answered (same prediction ids),
so agreement is measured row by row. Where feedback arrived, each variant is scored on
its labelled rows: accuracy for class labels, mean absolute error for numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..store import Store
from .predictions import predictions


def compare(store: Store, deployment: str, *, since: Any = "1d") -> dict[str, Any]:
    frame = predictions(store, deployment, since=since, shadow=None, expand=False)
    live = frame[~frame["shadow"]]
    answered = dict(zip(live["id"], live["prediction"], strict=True))
    variants = []
    for (variant, shadow), rows in frame.groupby(["variant", "shadow"], sort=True):
        agreement = None
        if shadow:
            pairs = [
                (answered[i], p)
                for i, p in zip(rows["id"], rows["prediction"], strict=True)
                if i in answered
            ]
            agreement = _agreement(pairs) if pairs else None
        metric, value, labelled = _metric(rows)
        variants.append(
            {
                "variant": variant,
                "shadow": bool(shadow),
                "rows": len(rows),
                "versions": sorted(
                    {f"{m}/{v}" for m, v in zip(rows["model"], rows["version"], strict=True)}
                ),
                "agreement": agreement,
                "labelled": labelled,
                "metric": metric,
                "value": value,
                "mean_latency_ms": float(rows["latency_ms"].mean()) if len(rows) else None,
            }
        )
    return {
        "deployment": deployment,
        "requests": int(live["request_id"].nunique()) if len(live) else 0,
        "variants": variants,
    }


def _agreement(pairs: list[tuple[Any, Any]]) -> float:
    same = 0
    for a, b in pairs:
        if isinstance(a, float) or isinstance(b, float):
            same += bool(np.isclose(a, b, rtol=1e-6, atol=1e-9))
        else:
            same += a == b
    return same / len(pairs)


def _metric(rows: Any) -> tuple[str | None, float | None, int]:
    labelled = rows[rows["label"].notna()]
    if labelled.empty:
        return None, None, 0
    labels = labelled["label"].tolist()
    predicted = labelled["prediction"].tolist()
    if all(isinstance(v, float) and not float(v).is_integer() for v in labels):
        error = np.abs(np.asarray(predicted, dtype=float) - np.asarray(labels, dtype=float))
        return "mae", float(error.mean()), len(labels)
    hits = sum(_same_label(p, t) for p, t in zip(predicted, labels, strict=True))
    return "accuracy", hits / len(labels), len(labels)


def _same_label(predicted: Any, truth: Any) -> bool:
    if isinstance(predicted, int | float) and isinstance(truth, int | float):
        return float(predicted) == float(truth)
    return str(predicted) == str(truth)

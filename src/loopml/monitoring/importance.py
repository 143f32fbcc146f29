"""How much a fitted model leans on each of its input columns, to rank drift by.

    weights = model_importance(pipeline, ["tenure", "plan"])
    loopml.monitoring.report(reference, current, importance=weights).ranking

The model's own figures come first: ``feature_importances_`` of trees and boosted trees
(LightGBM's by gain), ``|coef_|`` of linear models. Inside a scikit-learn Pipeline the
final estimator sees encoded features (``plan_basic``, ``plan_pro`` from a OneHotEncoder
in a ColumnTransformer); their importances are summed back onto the input column each
came from, read from ``get_feature_names_out``. When the model offers no figures (or
they cannot be traced to the columns) and ``data`` and ``target`` are given, the
importance is measured: scikit-learn's permutation importance on at most 2,000 rows.
Otherwise the answer is ``{}``, which :func:`.drift_report.report` reads as equal weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

PERMUTATION_ROWS = 2000


def model_importance(
    model: Any,
    columns: Sequence[str],
    data: pd.DataFrame | None = None,
    target: Any = None,
    *,
    random_state: int = 0,
) -> dict[str, float]:
    """Each of ``columns``' share of ``model``'s importance (summing to 1), or ``{}``.

    ``columns`` are the model's input columns, in the order it was fitted on. Never
    raises for a model it does not know: the answer is then ``{}``::

        model_importance(fitted_pipeline, ["tenure", "plan"])  # {"tenure": 0.62, "plan": 0.38}
    """
    columns = [str(column) for column in columns]
    if not columns:
        return {}
    found = _intrinsic(model, columns)
    if found is None and data is not None and target is not None:
        found = _permutation(model, columns, data, target, random_state)
    return _normalised(found, columns) if found is not None else {}


def _intrinsic(model: Any, columns: list[str]) -> dict[str, float] | None:
    """The model's own importances summed onto ``columns``, or None."""
    model = _unwrap(model)
    steps = getattr(model, "steps", None)
    final = _unwrap(steps[-1][1]) if isinstance(steps, list) and steps else model
    values = _estimator_importances(final)
    if values is None:
        return None
    if final is model:  # a bare estimator, fitted on the columns in this order
        names = [str(name) for name in getattr(final, "feature_names_in_", [])]
        if sorted(names) != sorted(columns):  # none, or LightGBM's renamed ("a b" is "a_b")
            names = columns
    else:
        names = _names_out(model)
        if names is None or not any(_origin(name, columns) for name in names):
            names = columns  # a pipeline on arrays names its features x0, x1, ...
    if len(names) != len(values):
        return None
    totals = dict.fromkeys(columns, 0.0)
    traced = False
    for name, value in zip(names, values, strict=True):
        column = _origin(name, columns)
        if column is not None:
            totals[column] += float(value)
            traced = True
    return totals if traced else None


def _unwrap(model: Any) -> Any:
    """The fitted estimator inside a search or a target transform."""
    for attribute in ("best_estimator_", "regressor_"):
        inner = getattr(model, attribute, None)
        if inner is not None:
            return inner
    return model


def _estimator_importances(estimator: Any) -> np.ndarray | None:
    try:
        booster = getattr(estimator, "booster_", None)
        if booster is not None and hasattr(booster, "feature_importance"):
            values = booster.feature_importance(importance_type="gain")  # LightGBM
        elif getattr(estimator, "feature_importances_", None) is not None:
            values = estimator.feature_importances_
        elif getattr(estimator, "coef_", None) is not None:
            coef = np.abs(np.asarray(estimator.coef_, dtype=float))
            values = coef.sum(axis=0) if coef.ndim == 2 else coef  # every class's weight
        else:
            return None
    except Exception:  # a model's own property may raise anything (unfitted, gblinear)
        return None
    values = np.nan_to_num(np.abs(np.asarray(values, dtype=float).ravel()))
    return values if values.size else None


def _names_out(pipeline: Any) -> list[str] | None:
    """The names of the features the pipeline's final estimator sees."""
    try:
        return [str(name) for name in pipeline[:-1].get_feature_names_out()]
    except Exception:  # a transformer without names, or one that refuses
        return None


def _origin(name: str, columns: list[str]) -> str | None:
    """The input column an encoded feature came from: itself, behind a ColumnTransformer
    prefix (``num__tenure``), or before a OneHotEncoder category (``plan_basic``)."""
    candidates = [name]
    if "__" in name:
        candidates.append(name.split("__", 1)[1])
    for candidate in candidates:
        if candidate in columns:
            return candidate
    prefixed = [
        column
        for column in columns
        if any(candidate.startswith(column + "_") for candidate in candidates)
    ]
    return max(prefixed, key=len) if prefixed else None


def _permutation(
    model: Any, columns: list[str], data: pd.DataFrame, target: Any, random_state: int
) -> dict[str, float] | None:
    from sklearn.inspection import permutation_importance

    try:
        frame = data[columns]
        labels = np.asarray(target)
        if len(frame) > PERMUTATION_ROWS:
            rows = np.random.default_rng(random_state).choice(
                len(frame), PERMUTATION_ROWS, replace=False
            )
            frame, labels = frame.iloc[np.sort(rows)], labels[np.sort(rows)]
        result = permutation_importance(
            model, frame, labels, n_repeats=5, random_state=random_state
        )
    except Exception:  # the user's model may raise anything when scored
        return None
    return dict(zip(columns, np.maximum(result.importances_mean, 0.0).tolist(), strict=True))


def _normalised(values: dict[str, float], columns: list[str]) -> dict[str, float]:
    total = sum(values.get(column, 0.0) for column in columns)
    if not np.isfinite(total) or total <= 0:
        return {}
    return {column: values.get(column, 0.0) / total for column in columns}

"""Fairness: how a model's predictions and errors differ between groups of people.

For each sensitive column (sex, age band, region...) the rows are split by its values and
the usual metrics are computed per group with fairlearn's ``MetricFrame``. Classifiers also
get the two gaps a promotion gate reads: the demographic parity difference (the spread of
the positive-prediction rate across groups) and the equalized odds difference (the larger
spread of the true- and false-positive rates). Both are 0 for a model that treats the
groups alike and 1 at worst.

    result = fairness_table(y_true, y_pred, data[["sex"]], pos_label=1)
    result.metrics()["demographic_parity_difference"]  # gate: <= 0.1
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import InvalidInput

MISSING_GROUP = "(missing)"
CLASSIFICATION_METRICS = ("count", "selection_rate", "accuracy", "precision", "recall", "f1")
REGRESSION_METRICS = ("count", "mae", "rmse")
GAPS = ("demographic_parity_difference", "equalized_odds_difference")


@dataclass(frozen=True)
class AttributeFairness:
    """The per-group metrics of one sensitive column and the gaps between its groups.

    Attributes:
        column: The sensitive column.
        groups: One row per group value: ``group`` and each metric (None when undefined).
        differences: Per metric, the largest minus the smallest group value.
        demographic_parity_difference: Spread of the selection rate; None for regression.
        equalized_odds_difference: Larger spread of TPR and FPR; None for regression.
        notes: Why a figure is missing or how to read it.
    """

    column: str
    groups: list[dict[str, Any]]
    differences: dict[str, float | None]
    demographic_parity_difference: float | None = None
    equalized_odds_difference: float | None = None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (no NaN, plain Python values)."""
        return {
            "column": self.column,
            "groups": [dict(row) for row in self.groups],
            "differences": dict(self.differences),
            "demographic_parity_difference": self.demographic_parity_difference,
            "equalized_odds_difference": self.equalized_odds_difference,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class FairnessResult:
    """Fairness figures for every sensitive column of one evaluation.

    Attributes:
        task: ``"classification"`` or ``"regression"``.
        pos_label: The class counted as the positive prediction (None for regression, or
            for multiclass when no positive class was named).
        attributes: Per sensitive column, its groups and gaps.
    """

    task: str
    pos_label: Any
    attributes: dict[str, AttributeFairness] = field(default_factory=dict)

    @property
    def demographic_parity_difference(self) -> float | None:
        """The worst demographic parity difference over all sensitive columns."""
        return _worst(a.demographic_parity_difference for a in self.attributes.values())

    @property
    def equalized_odds_difference(self) -> float | None:
        """The worst equalized odds difference over all sensitive columns."""
        return _worst(a.equalized_odds_difference for a in self.attributes.values())

    def metrics(self) -> dict[str, float | None]:
        """Flat metrics for gates: the worst gaps, then each column's as ``<gap>.<column>``."""
        if self.task != "classification":
            return {}
        flat: dict[str, float | None] = {
            "demographic_parity_difference": self.demographic_parity_difference,
            "equalized_odds_difference": self.equalized_odds_difference,
        }
        for column, attribute in self.attributes.items():
            for gap in GAPS:
                flat[f"{gap}.{column}"] = getattr(attribute, gap)
        return flat

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (no NaN, plain Python values)."""
        return {
            "task": self.task,
            "pos_label": _plain(self.pos_label),
            "metrics": self.metrics(),
            "attributes": {name: a.to_dict() for name, a in self.attributes.items()},
        }


def fairness_table(
    y_true: Sequence[Any] | np.ndarray | pd.Series,
    y_pred: Sequence[Any] | np.ndarray | pd.Series,
    sensitive: pd.DataFrame | pd.Series | Mapping[str, Sequence[Any]],
    *,
    task: Literal["classification", "regression"] = "classification",
    pos_label: Any = None,
    classes: Sequence[Any] | None = None,
) -> FairnessResult:
    """Per-group metrics and fairness gaps of predictions, for each sensitive column.

    Args:
        y_true: The true targets.
        y_pred: The model's predictions, aligned with ``y_true``.
        sensitive: The sensitive columns (a DataFrame, a named Series, or a mapping of
            column name to values), one value per row. They need not be model features.
        task: ``"classification"`` or ``"regression"``.
        pos_label: The positive class; defaults to the larger of two classes (True of
            booleans, 1 of 0 and 1). With more than two classes, the gaps are computed
            one-vs-rest on it, and skipped when it is not given.
        classes: Every class the model knows (``model.classes_``); defaults to the classes
            seen in ``y_true`` and ``y_pred``. It decides binary versus multiclass.

    Returns:
        A :class:`FairnessResult`; missing sensitive values form their own group.

    Raises:
        InvalidInput: On an unknown task, no rows, lengths that differ, or a ``pos_label``
            that is not one of the classes.
    """
    if task not in ("classification", "regression"):
        raise InvalidInput(
            f"fairness task {task!r} is unknown",
            hint="use task='classification' or task='regression'",
        )
    truth, predicted = np.asarray(y_true), np.asarray(y_pred)
    columns = _sensitive_frame(sensitive)
    if len(truth) == 0:
        raise InvalidInput("fairness_table() got no rows", hint="pass at least one prediction")
    if not len(truth) == len(predicted) == len(columns):
        raise InvalidInput(
            f"fairness_table() got {len(truth)} true values, {len(predicted)} predictions "
            f"and {len(columns)} sensitive rows",
            hint="pass one prediction and one sensitive value per row",
        )
    if task == "regression":
        attributes = {
            name: _regression_attribute(name, truth, predicted, _groups(columns[name]))
            for name in columns.columns
        }
        return FairnessResult(task=task, pos_label=None, attributes=attributes)
    seen = np.concatenate([truth.ravel(), predicted.ravel()])
    labels = _unique(np.asarray(classes) if classes is not None else seen)
    if pos_label is None and len(labels) <= 2:
        pos_label = default_pos_label(labels)
    elif pos_label is not None and pos_label not in labels:
        raise InvalidInput(
            f"pos_label {pos_label!r} is not one of the classes ({', '.join(map(repr, labels))})",
            hint="pass pos_label= one of those classes",
        )
    attributes = {
        name: _classification_attribute(
            name, truth, predicted, _groups(columns[name]), labels, pos_label
        )
        for name in columns.columns
    }
    return FairnessResult(task=task, pos_label=pos_label, attributes=attributes)


def default_pos_label(classes: Sequence[Any]) -> Any:
    """The class taken as positive: the larger one, so True of booleans, 1 of 0 and 1, and
    ``classes_[1]`` of a scikit-learn classifier (whose classes are sorted)."""
    values = list(classes)
    try:
        return sorted(values)[-1]
    except TypeError:  # classes of mixed types
        return sorted(values, key=str)[-1]


# --- per attribute ------------------------------------------------------------------


def _classification_attribute(
    name: str,
    truth: np.ndarray,
    predicted: np.ndarray,
    groups: pd.Series,
    labels: list[Any],
    pos_label: Any,
) -> AttributeFairness:
    from fairlearn.metrics import count
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

    if len(labels) <= 2:
        y_true, y_pred = truth == pos_label, predicted == pos_label
        scoring: dict[str, Any] = {"zero_division": 0}
    else:
        y_true, y_pred = truth, predicted
        scoring = {"average": "macro", "zero_division": 0}
    quality = _metric_frame(
        {
            "count": count,
            "accuracy": accuracy_score,
            "precision": partial(precision_score, **scoring),
            "recall": partial(recall_score, **scoring),
            "f1": partial(f1_score, **scoring),
        },
        y_true,
        y_pred,
        groups,
    )
    by_group, differences = quality.by_group, quality.difference()
    if pos_label is None:
        return AttributeFairness(
            column=name,
            groups=_rows(by_group, list(by_group.columns)),
            differences=_differences(differences),
            notes=(
                f"{len(labels)} classes and no pos_label: the selection rate and the fairness "
                "gaps are skipped (pass pos_label= to compute them one-vs-rest)",
            ),
        )
    gaps = _gaps(truth == pos_label, predicted == pos_label, groups)
    if len(labels) > 2:
        gaps["notes"].insert(0, f"gaps computed one-vs-rest: class {pos_label!r} against the rest")
    by_group = by_group.join(gaps["by_group"])
    differences = pd.concat([differences, gaps["differences"]])
    order = list(CLASSIFICATION_METRICS)
    return AttributeFairness(
        column=name,
        groups=_rows(by_group, order),
        differences=_differences(differences[order]),
        demographic_parity_difference=gaps["demographic_parity_difference"],
        equalized_odds_difference=gaps["equalized_odds_difference"],
        notes=tuple(gaps["notes"]),
    )


def _gaps(true_pos: np.ndarray, pred_pos: np.ndarray, groups: pd.Series) -> dict[str, Any]:
    """Selection rate per group and the two fairness gaps, on positive-or-not labels."""
    from fairlearn.metrics import (
        demographic_parity_difference,
        equalized_odds_difference,
        selection_rate,
    )

    y_true, y_pred = true_pos.astype(int), pred_pos.astype(int)
    rates = _metric_frame({"selection_rate": selection_rate}, y_true, y_pred, groups)
    notes = []
    lacking = _groups_lacking_a_class(y_true, groups)
    if lacking:
        notes.append(
            "equalized odds counts an undefined true- or false-positive rate as 0 in groups "
            f"whose true labels are all one class: {', '.join(map(str, lacking))}"
        )
    return {
        "by_group": rates.by_group,
        "differences": rates.difference(),
        "demographic_parity_difference": _number(
            demographic_parity_difference(y_true, y_pred, sensitive_features=groups)
        ),
        "equalized_odds_difference": _number(
            equalized_odds_difference(y_true, y_pred, sensitive_features=groups)
        ),
        "notes": notes,
    }


def _regression_attribute(
    name: str, truth: np.ndarray, predicted: np.ndarray, groups: pd.Series
) -> AttributeFairness:
    from fairlearn.metrics import count
    from sklearn.metrics import mean_absolute_error, root_mean_squared_error

    frame = _metric_frame(
        {"count": count, "mae": mean_absolute_error, "rmse": root_mean_squared_error},
        truth.astype(float),
        predicted.astype(float),
        groups,
    )
    return AttributeFairness(
        column=name,
        groups=_rows(frame.by_group, list(REGRESSION_METRICS)),
        differences=_differences(frame.difference()),
    )


def _metric_frame(
    metrics: dict[str, Any], y_true: np.ndarray, y_pred: np.ndarray, groups: pd.Series
) -> Any:
    from fairlearn.metrics import MetricFrame

    return MetricFrame(metrics=metrics, y_true=y_true, y_pred=y_pred, sensitive_features=groups)


def _groups_lacking_a_class(true_pos: np.ndarray, groups: pd.Series) -> list[Any]:
    positives = (
        pd.Series(true_pos, index=groups.index).groupby(groups, sort=True).agg(["min", "max"])
    )
    return [_plain(g) for g, row in positives.iterrows() if row["min"] == row["max"]]


# --- values -------------------------------------------------------------------------


def _sensitive_frame(
    sensitive: pd.DataFrame | pd.Series | Mapping[str, Sequence[Any]],
) -> pd.DataFrame:
    if isinstance(sensitive, pd.DataFrame):
        frame = sensitive
    elif isinstance(sensitive, pd.Series):
        if sensitive.name is None:
            raise InvalidInput(
                "the sensitive Series has no name",
                hint="name it (series.rename('sex')) or pass a DataFrame of sensitive columns",
            )
        frame = sensitive.to_frame()
    elif isinstance(sensitive, Mapping):
        frame = pd.DataFrame({str(k): list(v) for k, v in sensitive.items()})
    else:
        raise InvalidInput(
            f"sensitive columns of type {type(sensitive).__name__} are not supported",
            hint="pass a pandas DataFrame, a named Series, or a dict of column -> values",
        )
    if frame.shape[1] == 0:
        raise InvalidInput("no sensitive column given", hint="pass at least one sensitive column")
    return frame.reset_index(drop=True)


def _groups(column: pd.Series) -> pd.Series:
    """The column's values as group labels; missing values become their own group."""
    values = column.astype(object)
    missing = values.isna()
    if missing.any():
        values = values.map(str).where(~missing, MISSING_GROUP)
    return values.rename(str(column.name))


def _rows(by_group: pd.DataFrame, metrics: list[str]) -> list[dict[str, Any]]:
    rows = []
    for group, values in by_group.iterrows():
        row: dict[str, Any] = {"group": _plain(group)}
        for metric in metrics:
            value = _number(values[metric])
            row[metric] = int(value) if metric == "count" and value is not None else value
        rows.append(row)
    return rows


def _differences(differences: pd.Series) -> dict[str, float | None]:
    """Largest minus smallest group value per metric; a difference of counts says nothing."""
    return {str(m): _number(v) for m, v in differences.items() if m != "count"}


def _unique(values: np.ndarray) -> list[Any]:
    uniques = list(dict.fromkeys(v.item() if isinstance(v, np.generic) else v for v in values))
    try:
        return sorted(uniques)
    except TypeError:
        return sorted(uniques, key=str)


def _worst(values: Any) -> float | None:
    defined = [v for v in values if v is not None]
    return max(defined) if defined else None


def _number(value: Any) -> float | None:
    """A plain float, or None for NaN, infinity and missing."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _plain(value: Any) -> Any:
    """A JSON-safe scalar: numpy scalars unwrapped, NaN as None, anything else as text."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return str(value)

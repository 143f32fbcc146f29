"""How well a deployed model does over time, from its logged predictions and ground truth.

The input is the frame ``loopml.predictions(deployment)`` returns: ``time``, ``prediction``,
``label`` (None until the ground truth arrives) and, for binary classifiers that log it,
the positive class's probability (``proba``)::

    frame = loopml.predictions("churn-prod", since="30d")
    performance_over_time(frame, freq="1d")   # accuracy, precision, recall, f1 per day

Where the error rate moved is :mod:`.changes`' job (ADWIN, DDM, Page-Hinkley).

Rows without a label are counted in each period but left out of its metrics, so a period
whose labels have not arrived yet shows ``labelled=0`` rather than a made-up score. For
the performance of those rows, estimated from the model's confidence, see :mod:`.cbpe`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PerformancePoint", "infer_task", "performance_over_time"]

TASKS = ("binary", "multiclass", "regression")
MAX_CLASSES = 20
"""Whole numbers with more distinct values than this are taken for a regression target."""

_HINTS = {
    "time": "pass the frame loopml.predictions(deployment) returns, or add each row's "
    "prediction time as a 'time' column",
    "prediction": "add the model's output as a 'prediction' column "
    "(loopml.predictions(deployment) has one)",
    "label": "join the ground truth as a 'label' column (None where it has not arrived), "
    "or send it with loopml.feedback(deployment, ...) and read loopml.predictions(deployment)",
}
_NUMERIC_KINDS = {"integer", "floating", "boolean", "mixed-integer-float", "decimal"}


@dataclass(frozen=True)
class PerformancePoint:
    """One period: its rows, how many of them carry a label, and the metrics on those.

    With ``freq`` the period is ``[start, end)``; with ``buckets`` it runs from the first
    row's time to the last one's, both included.
    """

    start: datetime
    end: datetime
    rows: int
    labelled: int
    metrics: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "rows": self.rows,
            "labelled": self.labelled,
            "metrics": finite_metrics(self.metrics),
        }


def infer_task(labels: Any, predictions: Any) -> str:
    """``"binary"``, ``"multiclass"`` or ``"regression"``, from the values seen.

    Text and booleans are classes. Numbers are a regression target when any of them has
    a fraction or when there are more than :data:`MAX_CLASSES` distinct whole numbers;
    otherwise classes. Pass ``task=`` to the functions here when the guess is wrong (a
    regressor that predicts a handful of whole numbers, say).
    """
    values = np.concatenate([present(labels), present(predictions)])
    if not len(values):
        raise InvalidInput(
            "cannot tell the task from no values",
            hint="pass task='binary', 'multiclass' or 'regression'",
        )
    converted = class_values(values, "the labels and predictions")
    distinct = len(np.unique(converted))
    if value_kind(values, "the labels and predictions") == "number" and (
        distinct > MAX_CLASSES or np.any(converted != np.round(converted))
    ):
        return "regression"
    return "binary" if distinct <= 2 else "multiclass"


def performance_over_time(
    frame: pd.DataFrame,
    *,
    task: str | None = None,
    buckets: int = 10,
    freq: str | None = None,
    positive: Any = None,
    proba_column: str = "proba",
) -> list[PerformancePoint]:
    """The model's realised metrics per period, oldest first.

    Periods are ``buckets`` runs of equally many rows in time order, or calendar periods
    of ``freq`` (``"1h"``, ``"1d"``, ``"7d"``, ``"MS"``) when given; with ``freq`` empty
    periods are kept, so a gap in traffic shows as a gap.

    Classification: accuracy, precision, recall and f1 (of the ``positive`` class for a
    binary task, macro-averaged over classes for multiclass), and roc_auc where the frame
    has ``proba_column`` and the period holds both classes. Regression: mae, rmse, r2. A
    metric that is undefined in a period (precision with no positive prediction, r2 of
    one row) is left out rather than reported as 0.

    ``positive`` defaults to ``True`` for booleans and ``1`` for 0/1 labels; text classes
    need it named (``positive="yes"``).
    """
    data = prediction_frame(frame, ("time", "prediction", "label"))
    if data.empty:
        return []
    targets = prediction_targets(data, task)
    if targets.task == "binary":
        positive = resolve_positive(targets, positive)
    proba = _proba(data, proba_column) if targets.task == "binary" else None
    points = []
    for start, end, rows in time_buckets(data["time"], buckets=buckets, freq=freq):
        chosen = rows[targets.labelled[rows]]
        metrics: dict[str, float] = {}
        if len(chosen):
            truth, predicted = targets.labels[chosen], targets.predictions[chosen]
            if targets.task == "regression":
                metrics = regression_metrics(truth, predicted)
            else:
                scores = None if proba is None else proba[chosen]
                metrics = classification_metrics(
                    truth, predicted, task=targets.task, positive=positive, proba=scores
                )
        points.append(PerformancePoint(start, end, len(rows), len(chosen), metrics))
    return points


# --- the frame, its classes and its periods (shared with .cbpe) ------------------------


@dataclass(frozen=True)
class PredictionTargets:
    """Labels and predictions of every row in a comparable form, and which rows have both.

    Classes are ``float`` arrays when numeric (``True`` and ``1`` compare equal) and
    ``object`` arrays of ``str`` when text; rows without a label hold NaN or None.
    """

    task: str
    kind: str  # number | text
    labels: np.ndarray
    predictions: np.ndarray
    labelled: np.ndarray


def prediction_frame(frame: Any, columns: Sequence[str]) -> pd.DataFrame:
    """A copy of ``frame`` sorted by time (ties keep their order), ``time`` in UTC."""
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise InvalidInput(
            f"expected a pandas DataFrame of predictions, got {type(frame).__name__}",
            hint=_HINTS["time"],
        )
    for column in columns:
        if column not in frame.columns:
            raise InvalidInput(
                f"the predictions frame has no '{column}' column",
                hint=_HINTS.get(column, f"add a '{column}' column, or name the one to use"),
            )
    data = frame.copy()
    data["time"] = _utc_times(data["time"])
    return data.sort_values("time", kind="stable")


def _utc_times(values: pd.Series) -> pd.Series:
    import pandas as pd

    if isinstance(values.dtype, pd.DatetimeTZDtype):
        times = values.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_dtype(values.dtype):
        times = values.dt.tz_localize("UTC")
    elif pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values):
        times = pd.to_datetime(values, unit="ms", utc=True)  # the prediction log's own unit
    else:
        try:
            times = pd.to_datetime(values, utc=True, format="ISO8601")
        except (ValueError, TypeError) as error:
            raise InvalidInput(
                f"column 'time' holds values that are not times ({error})",
                hint="use datetimes, ISO 8601 strings or milliseconds since 1970",
            ) from None
    if times.isna().any():
        raise InvalidInput(
            f"{int(times.isna().sum())} rows have no time",
            hint="drop them, or fill in when each prediction was made",
        )
    return times


def prediction_targets(data: pd.DataFrame, task: str | None) -> PredictionTargets:
    """Labels and predictions of ``data``, converted alike, with the task resolved."""
    if task is not None and task not in TASKS:
        raise InvalidInput(f"unknown task {task!r}", hint=f"choose from {', '.join(TASKS)}")
    labelled = (data["label"].notna() & data["prediction"].notna()).to_numpy()
    truth = data["label"].to_numpy(dtype=object)[labelled]
    predicted = data["prediction"].to_numpy(dtype=object)[labelled]
    kind = "number"
    if labelled.any():
        kind = value_kind(truth, "column 'label'")
        if value_kind(predicted, "column 'prediction'") != kind:
            raise InvalidInput(
                f"labels are {_kind_words(kind)} (e.g. {truth[0]!r}) but predictions are "
                f"not (e.g. {predicted[0]!r})",
                hint="send ground truth of the same type as the model's output",
            )
        task = task or infer_task(truth, predicted)
        if task == "regression" and kind == "text":
            raise InvalidInput(
                "a regression needs numeric labels and predictions, these are text",
                hint="pass task='binary' or 'multiclass', or log numbers",
            )
    filler: Any = np.nan if kind == "number" else None
    labels = np.full(len(data), filler, dtype=float if kind == "number" else object)
    predictions = labels.copy()
    if labelled.any():
        labels[labelled] = class_values(truth, "column 'label'")
        predictions[labelled] = class_values(predicted, "column 'prediction'")
    return PredictionTargets(task or "binary", kind, labels, predictions, labelled)


def resolve_positive(targets: PredictionTargets, positive: Any) -> Any:
    """The positive class, in the targets' form; named, or ``1``/``True`` for numbers."""
    rows = targets.labelled
    classes = np.unique(np.concatenate([targets.labels[rows], targets.predictions[rows]]))
    return positive_class(classes, targets.kind, positive)


def positive_class(classes: np.ndarray, kind: str, positive: Any) -> Any:
    if len(classes) > 2:
        raise InvalidInput(
            f"a binary task has two classes, these labels and predictions hold {len(classes)}",
            hint="pass task='multiclass'",
        )
    if positive is None:
        if kind == "text":
            raise InvalidInput(
                f"the classes are text ({', '.join(map(repr, classes))}); which is positive?",
                hint=f"pass positive={classes[-1]!r}" if len(classes) else "pass positive=",
            )
        return 1.0 if set(classes.tolist()) <= {0.0, 1.0} else float(classes.max())
    try:
        converted = str(positive) if kind == "text" else float(positive)
    except (TypeError, ValueError):
        converted = None
    if converted is None or (len(classes) == 2 and converted not in classes.tolist()):
        raise InvalidInput(
            f"positive class {positive!r} is not one of the classes "
            f"({', '.join(map(repr, classes.tolist()))})",
            hint="name one of them as positive=",
        )
    return converted


def present(values: Any) -> np.ndarray:
    """The values that are not None/NaN, as an object array."""
    import pandas as pd

    series = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values))
    return series[series.notna()].to_numpy(dtype=object)


def value_kind(values: np.ndarray, name: str) -> str:
    """``"number"`` (numbers and booleans) or ``"text"``; anything else is refused.

    ``name`` says what the values are in the message: ``"column 'label'"``.
    """
    import pandas as pd

    inferred = pd.api.types.infer_dtype(values, skipna=True)
    if inferred in _NUMERIC_KINDS or inferred == "empty":
        return "number"
    if inferred == "string":
        return "text"
    text = np.fromiter((isinstance(v, str) for v in values), bool, len(values))
    if text.any():
        raise InvalidInput(
            f"{name} mixes text and other values ({values[text][0]!r}, {values[~text][0]!r})",
            hint="log each class the same way: all text or all numbers",
        )
    try:
        np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"{name} holds values that are neither classes nor numbers (e.g. {values[0]!r})",
            hint="log a class label or a number per row",
        ) from None
    return "number"


def class_values(values: np.ndarray, name: str) -> np.ndarray:
    if value_kind(values, name) == "text":
        return values.astype(str).astype(object)
    return np.asarray(values, dtype=float)


def _kind_words(kind: str) -> str:
    return "text" if kind == "text" else "numbers"


def time_buckets(
    times: pd.Series, *, buckets: int, freq: str | None
) -> list[tuple[datetime, datetime, np.ndarray]]:
    """``(start, end, row positions)`` of each period of ``times`` (sorted)."""
    import pandas as pd
    from pandas.tseries.frequencies import to_offset

    if freq is not None:
        try:
            step = to_offset(freq)
        except (TypeError, ValueError):
            raise InvalidInput(
                f"invalid period {freq!r}", hint="use a pandas frequency: 1h, 1d, 7d, MS"
            ) from None
        positions = pd.Series(np.arange(len(times)), index=pd.DatetimeIndex(times))
        return [
            (start, start + step, group.to_numpy())
            for start, group in positions.groupby(pd.Grouper(freq=step))
        ]
    if isinstance(buckets, bool) or not isinstance(buckets, int) or buckets < 1:
        raise InvalidInput(f"buckets {buckets!r} must be a whole number >= 1")
    chunks = np.array_split(np.arange(len(times)), min(buckets, len(times)))
    return [(times.iloc[chunk[0]], times.iloc[chunk[-1]], chunk) for chunk in chunks if len(chunk)]


def _proba(data: pd.DataFrame, column: str) -> np.ndarray | None:
    if column not in data.columns:
        return None
    import pandas as pd

    return pd.to_numeric(data[column], errors="coerce").to_numpy(dtype=float)


def classification_metrics(
    truth: np.ndarray,
    predicted: np.ndarray,
    *,
    task: str,
    positive: Any = None,
    proba: np.ndarray | None = None,
) -> dict[str, float]:
    """accuracy, precision, recall, f1 (and roc_auc for binary with scores), by sklearn."""
    from sklearn import metrics

    if task == "binary":
        truth, predicted, average = truth == positive, predicted == positive, "binary"
    else:
        average = "macro"
    found = {
        "accuracy": metrics.accuracy_score(truth, predicted),
        "precision": metrics.precision_score(
            truth, predicted, average=average, zero_division=np.nan
        ),
        "recall": metrics.recall_score(truth, predicted, average=average, zero_division=np.nan),
        "f1": metrics.f1_score(truth, predicted, average=average, zero_division=np.nan),
    }
    if task == "binary" and not (truth.any() and predicted.any()):
        # No positive row, or no positive answer: recall or precision is undefined, and
        # sklearn's f1 of 0 would read as a collapse that fires a "f1 < x" rule.
        found["f1"] = float("nan")
    if task == "binary" and proba is not None:
        scored = np.isfinite(proba)
        if len(np.unique(truth[scored])) == 2:
            found["roc_auc"] = metrics.roc_auc_score(truth[scored], proba[scored])
    return finite_metrics(found)


def regression_metrics(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """mae, rmse and r2 by sklearn; r2 only from two rows with different labels on."""
    from sklearn import metrics

    truth, predicted = truth.astype(float), predicted.astype(float)
    found = {
        "mae": metrics.mean_absolute_error(truth, predicted),
        "rmse": metrics.root_mean_squared_error(truth, predicted),
    }
    if len(truth) >= 2:
        found["r2"] = metrics.r2_score(truth, predicted, force_finite=False)
    return finite_metrics(found)


def finite_metrics(values: dict[str, Any]) -> dict[str, float]:
    """The metrics that are finite numbers, as plain floats (JSON has no NaN)."""
    return {name: float(v) for name, v in values.items() if v is not None and math.isfinite(v)}


def finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None

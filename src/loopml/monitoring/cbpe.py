"""A binary classifier's performance estimated before its labels arrive (CBPE, as NannyML).

When the model's probabilities are calibrated, a row scored 0.8 is positive 8 times in
10, so summing probabilities gives the confusion matrix to expect without one label::

    cbpe = CBPE().fit(reference["proba"], reference["label"])
    cbpe.estimate(current["proba"]).metrics["f1"].value
    cbpe.estimate_over_time(loopml.predictions("churn-prod", since="7d"), freq="1d")

The reference is a period with labels where the model did as expected (its test set, or
its first weeks in production). There the probabilities are calibrated with isotonic
regression, and the realised metrics and their spread over chunks are recorded.

The estimate holds under covariate shift: the inputs move, but P(label | input) does not.
It cannot see concept drift (the same inputs now mean another label): the model is as
sure as before, so the estimate stays put while the realised metric falls. Compare the
two once labels arrive, with :func:`.performance.performance_over_time` and
:func:`.changes.detect_changes`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidInput
from .performance import (
    class_values,
    classification_metrics,
    finite_metrics,
    infer_task,
    positive_class,
    prediction_frame,
    present,
    time_buckets,
    value_kind,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CBPE", "Estimate", "EstimatePoint", "MetricEstimate"]

METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
MIN_REFERENCE_ROWS = 100
SIGMAS = 3.0
_MIN_CHUNKS, _MAX_CHUNKS = 10, 100


@dataclass(frozen=True)
class MetricEstimate:
    """One estimated metric, its sampling error and the reference band it is held to.

    ``lower``/``upper`` bound the estimate by 3 sampling errors; ``lower_threshold`` and
    ``upper_threshold`` are the reference's realised value ± 3 sampling errors, and
    ``alert`` is set when the estimate falls outside them. Bounds are clipped to [0, 1].
    """

    value: float | None
    sampling_error: float | None
    lower: float | None
    upper: float | None
    reference: float | None
    lower_threshold: float | None
    upper_threshold: float | None
    alert: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            name: value if isinstance(value, bool) else _finite(value)
            for name, value in self.__dict__.items()
        }


@dataclass(frozen=True)
class Estimate:
    """The estimated metrics of ``rows`` predictions; ``alert`` if any metric alerts."""

    rows: int
    metrics: dict[str, MetricEstimate]
    alert: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "metrics": {name: metric.to_dict() for name, metric in self.metrics.items()},
            "alert": self.alert,
        }


@dataclass(frozen=True)
class EstimatePoint:
    """One period: the estimate from its probabilities, and the realised metrics of the
    rows labelled so far (empty until labels arrive), to hold the estimate against."""

    start: datetime
    end: datetime
    rows: int
    labelled: int
    estimate: Estimate | None
    realised: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "rows": self.rows,
            "labelled": self.labelled,
            "estimate": None if self.estimate is None else self.estimate.to_dict(),
            "realised": finite_metrics(self.realised),
        }


class CBPE:
    """Confidence-based performance estimation for a binary classifier.

    ``fit`` on a labelled reference, then ``estimate`` any batch of probabilities of
    the positive class. The model's decision is ``proba >= threshold``, as at ``fit``.

    The expected confusion matrix sums calibrated probabilities: a row predicted positive
    adds p to the true and 1 - p to the false positives; a row predicted negative adds p
    to the false and 1 - p to the true negatives. Accuracy, precision, recall and f1 follow
    from those counts. ROC AUC is NannyML's expected curve: rows ranked by the model's
    score, each adding p to the true-positive and 1 - p to the false-positive count.

    The sampling error of a metric on n rows is the standard deviation of the realised
    metric over consecutive reference chunks (of n rows when the reference holds 10 of
    them, else of a tenth of it) scaled by sqrt(chunk / n).
    """

    def __init__(self) -> None:
        self.threshold = 0.5
        self.positive: Any = None
        self.reference_metrics: dict[str, float] = {}
        self._fitted = False

    def fit(
        self,
        reference_proba: Any,
        reference_labels: Any,
        *,
        threshold: float = 0.5,
        positive: Any = None,
        task: str | None = None,
    ) -> CBPE:
        """Calibrate on the reference and record its realised metrics; returns ``self``."""
        from sklearn.isotonic import IsotonicRegression

        if task is not None and task != "binary":
            raise InvalidInput(
                f"CBPE estimates binary classifiers only, not a {task} task",
                hint="compare realised metrics with performance_over_time once labels arrive",
            )
        if isinstance(threshold, bool) or not 0 < threshold < 1:
            raise InvalidInput(f"threshold {threshold!r} must be between 0 and 1")
        proba = _probabilities(reference_proba, "reference_proba")
        truth = self._reference_truth(reference_labels, len(proba), positive)
        self.threshold = float(threshold)
        self._calibrator = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        self._calibrator.fit(proba, truth.astype(float))
        self._proba, self._truth = proba, truth
        self.reference_metrics = self._realised(truth, proba)
        self._errors: dict[int, dict[str, float]] = {}
        self._fitted = True
        return self

    def estimate(self, current_proba: Any) -> Estimate:
        """The metrics to expect on ``current_proba``, with their sampling errors."""
        if not self._fitted:
            raise InvalidInput("this CBPE is not fitted", hint="call fit(reference_proba, labels)")
        proba = _probabilities(current_proba, "current_proba")
        values = expected_metrics(self._calibrator.predict(proba), proba >= self.threshold, proba)
        errors = self._sampling_errors(len(proba))
        metrics = {
            name: _metric(values.get(name), errors.get(name), self.reference_metrics.get(name))
            for name in METRICS
        }
        return Estimate(len(proba), metrics, any(m.alert for m in metrics.values()))

    def estimate_over_time(
        self,
        frame: pd.DataFrame,
        proba_column: str = "proba",
        buckets: int = 10,
        *,
        freq: str | None = None,
    ) -> list[EstimatePoint]:
        """An estimate per period of a predictions frame, beside its realised metrics.

        Periods as in :func:`.performance.performance_over_time`. Rows without a
        probability count in ``rows`` and nowhere else; a ``label`` column, when present,
        gives the realised metrics of the rows that have one.
        """
        data = prediction_frame(frame, ("time", proba_column))
        if data.empty:
            return []
        proba = _column_probabilities(data[proba_column], proba_column)
        truth, labelled = self._frame_truth(data)
        points = []
        for start, end, rows in time_buckets(data["time"], buckets=buckets, freq=freq):
            scored = rows[np.isfinite(proba[rows])]
            estimate = self.estimate(proba[scored]) if len(scored) else None
            known = scored[labelled[scored]]
            realised = self._realised(truth[known], proba[known]) if len(known) else {}
            points.append(EstimatePoint(start, end, len(rows), len(known), estimate, realised))
        return points

    def _reference_truth(self, labels: Any, rows: int, positive: Any) -> np.ndarray:
        values = np.asarray(labels, dtype=object).ravel()
        if len(values) != rows:
            raise InvalidInput(f"{rows} reference probabilities but {len(values)} labels")
        if len(present(values)) != rows:
            raise InvalidInput(
                f"{rows - len(present(values))} reference labels are missing",
                hint="fit on the rows whose ground truth has arrived",
            )
        if rows < MIN_REFERENCE_ROWS:
            raise InvalidInput(
                f"a reference of {rows} rows is too small to calibrate on",
                hint=f"use at least {MIN_REFERENCE_ROWS} labelled rows",
            )
        task = infer_task(values, values)
        if task != "binary":
            raise InvalidInput(
                f"CBPE estimates binary classifiers only; these labels look {task}",
                hint="pass the labels of a binary classifier's reference period",
            )
        converted = class_values(values, "reference_labels")
        classes = np.unique(converted)
        if len(classes) < 2:
            raise InvalidInput(
                f"the reference labels hold one class only ({classes[0]!r})",
                hint="calibration needs both classes; use a longer reference period",
            )
        self._kind = value_kind(values, "reference_labels")
        self.positive = positive_class(classes, self._kind, positive)
        return converted == self.positive

    def _frame_truth(self, data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        truth = np.zeros(len(data), dtype=bool)
        if "label" not in data.columns:
            return truth, np.zeros(len(data), dtype=bool)
        labelled = data["label"].notna().to_numpy()
        values = data["label"].to_numpy(dtype=object)[labelled]
        if len(values) and value_kind(values, "column 'label'") != self._kind:
            raise InvalidInput(
                f"labels like {values[0]!r} are not of the reference labels' type",
                hint="send ground truth of the same type as the reference labels",
            )
        truth[labelled] = class_values(values, "column 'label'") == self.positive
        return truth, labelled

    def _realised(self, truth: np.ndarray, proba: np.ndarray) -> dict[str, float]:
        predicted = proba >= self.threshold
        return classification_metrics(truth, predicted, task="binary", positive=True, proba=proba)

    def _sampling_errors(self, rows: int) -> dict[str, float]:
        """Each metric's standard deviation over reference chunks, scaled to ``rows``."""
        if rows not in self._errors:
            size = max(1, min(rows, len(self._proba) // _MIN_CHUNKS))
            count = min(len(self._proba) // size, _MAX_CHUNKS)
            chunks = [
                self._realised(
                    self._truth[i * size : (i + 1) * size], self._proba[i * size :][:size]
                )
                for i in range(count)
            ]
            scale = math.sqrt(size / rows)
            self._errors[rows] = {}
            for name in METRICS:
                found = [chunk[name] for chunk in chunks if name in chunk]
                if len(found) >= 2:
                    self._errors[rows][name] = float(np.std(found, ddof=1)) * scale
        return self._errors[rows]


def expected_metrics(
    calibrated: np.ndarray, predicted: np.ndarray, scores: np.ndarray
) -> dict[str, float]:
    """Metrics of the confusion matrix expected from calibrated probabilities."""
    tp, fp = calibrated[predicted].sum(), (1 - calibrated[predicted]).sum()
    fn, tn = calibrated[~predicted].sum(), (1 - calibrated[~predicted]).sum()
    values = {
        "accuracy": (tp + tn) / len(calibrated),
        "precision": tp / (tp + fp) if predicted.any() else math.nan,
        "recall": tp / (tp + fn) if tp + fn > 0 else math.nan,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else math.nan,
        "roc_auc": expected_roc_auc(scores, calibrated),
    }
    return finite_metrics(values)


def expected_roc_auc(scores: np.ndarray, calibrated: np.ndarray) -> float:
    """The area under the ROC curve expected when row i is positive with probability p_i.

    Rows are ranked by the model's own score; at each distinct score the curve passes
    through (expected false positives, expected true positives) above it, normalised by
    their totals. With 0/1 in place of p this is the ordinary ROC AUC.
    """
    order = np.argsort(-scores, kind="stable")
    ranked, expected = scores[order], calibrated[order]
    true_positives, false_positives = np.cumsum(expected), np.cumsum(1 - expected)
    if true_positives[-1] <= 0 or false_positives[-1] <= 0:
        return math.nan
    last = np.append(ranked[1:] != ranked[:-1], True)  # the last row of each distinct score
    tpr = np.append(0.0, true_positives[last]) / true_positives[-1]
    fpr = np.append(0.0, false_positives[last]) / false_positives[-1]
    return float(np.trapezoid(tpr, fpr))


def _metric(value: float | None, error: float | None, reference: float | None) -> MetricEstimate:
    if value is None or error is None:
        return MetricEstimate(value, error, None, None, reference, None, None, False)
    lower, upper = _clip(value - SIGMAS * error), _clip(value + SIGMAS * error)
    if reference is None:
        return MetricEstimate(value, error, lower, upper, None, None, None, False)
    low, high = _clip(reference - SIGMAS * error), _clip(reference + SIGMAS * error)
    return MetricEstimate(
        value, error, lower, upper, reference, low, high, not low <= value <= high
    )


def _probabilities(values: Any, name: str) -> np.ndarray:
    try:
        proba = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} holds values that are not probabilities") from None
    if proba.ndim == 2 and proba.shape[1] == 2:
        raise InvalidInput(
            f"{name} has two columns; CBPE takes the positive class's probability",
            hint="pass model.predict_proba(X)[:, 1]",
        )
    proba = proba.ravel()
    if not len(proba):
        raise InvalidInput(f"{name} is empty", hint="pass at least one probability")
    if np.isnan(proba).any():
        raise InvalidInput(f"{int(np.isnan(proba).sum())} values of {name} are missing")
    outside = (proba < 0) | (proba > 1) | ~np.isfinite(proba)
    if outside.any():
        raise InvalidInput(
            f"{int(outside.sum())} values of {name} are outside [0, 1] "
            f"(e.g. {proba[outside][0]:g})",
            hint="pass probabilities (predict_proba), not scores or predictions",
        )
    return proba


def _column_probabilities(values: pd.Series, column: str) -> np.ndarray:
    import pandas as pd

    proba = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    known = proba[np.isfinite(proba)]
    if ((known < 0) | (known > 1)).any():
        raise InvalidInput(
            f"column '{column}' holds values outside [0, 1]",
            hint="log the positive class's probability, not a score or a prediction",
        )
    return proba


def _clip(value: float) -> float:
    return min(max(value, 0.0), 1.0)


def _finite(value: Any) -> Any:
    return value if value is None or math.isfinite(value) else None

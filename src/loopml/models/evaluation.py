"""Model evaluation: the metrics, curves and checks that decide whether a model ships.

:func:`evaluate` scores any object with ``predict`` (a scikit-learn estimator or pipeline,
or a loaded loopml model) on a table holding the features and the target. It infers the
task, computes the metrics a promotion gate reads (``roc_auc``, ``f1``, ``r2``...), keeps
the curves a person reads (ROC, calibration, residuals), compares against the training
data to flag overfitting, and splits the figures by sensitive columns for fairness::

    result = evaluate(model, test, target="churned", sensitive=["sex"], train_data=train)
    result.metrics["roc_auc"], result.metrics["demographic_parity_difference"]
    result.save_html("evaluation.html")

Every metric is a plain float, or None when it is undefined on this data (the AUC of a
target with one class); ``notes`` says why. scikit-learn and fairlearn load on first use.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from ..errors import InvalidInput

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from ..governance.fairness import FairnessResult

Task = Literal["classification", "regression"]
TASKS = ("classification", "regression")
MAX_INFERRED_CLASSES = 20
ROC_POINTS = 200
CALIBRATION_BINS = 10
RESIDUAL_BINS = 50
SCATTER_POINTS = 1000
SAMPLE_SEED = 0


@dataclass
class Evaluation:
    """The outcome of :func:`evaluate`: metrics for gates, details for people.

    Attributes:
        task: ``"classification"`` or ``"regression"``.
        rows: The number of rows evaluated.
        target: The target column.
        metrics: Metric name to a plain float, or None where it is undefined.
        details: Curves, confusion matrix, class counts or residuals, JSON-safe.
        fairness: Per-group figures for the sensitive columns, if any were named.
        overfitting: The train-versus-validation comparison, if training data was given.
        notes: Why a metric is missing, or how to read one.
    """

    task: str
    rows: int
    target: str
    metrics: dict[str, float | None]
    details: dict[str, Any] = field(default_factory=dict)
    fairness: FairnessResult | None = None
    overfitting: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict: plain Python values, None where a float is NaN or infinite."""
        return _json_safe(
            {
                "task": self.task,
                "target": self.target,
                "rows": self.rows,
                "metrics": self.metrics,
                "overfitting": self.overfitting,
                "fairness": self.fairness.to_dict() if self.fairness is not None else None,
                "details": self.details,
                "notes": self.notes,
            }
        )

    def to_json(self, indent: int | None = None) -> str:
        """:meth:`to_dict` as strict JSON (no NaN), ready for ``log_dict`` or a file."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_html(self, title: str = "Model evaluation") -> str:
        """A self-contained HTML report: charts first, then the metric tables."""
        from .evaluation_report import evaluation_html

        return evaluation_html(self, title)

    def save_html(self, path: str | os.PathLike[str], title: str = "Model evaluation") -> None:
        """Write :meth:`to_html` to ``path`` as UTF-8."""
        Path(path).write_text(self.to_html(title), encoding="utf-8")

    def figures(self) -> dict[str, go.Figure]:
        """The report's charts as plotly figures, by chart id (``roc``, ``residuals``...)."""
        from .evaluation_report import evaluation_figures

        return evaluation_figures(self)


def evaluate(
    model: Any,
    data: Any,
    *,
    target: str,
    task: Task | None = None,
    sensitive: Sequence[str] = (),
    train_data: Any = None,
    overfit_threshold: float = 0.05,
    pos_label: Any = None,
) -> Evaluation:
    """Score ``model`` on ``data`` and return the metrics, curves and checks.

    Args:
        model: An object with ``predict(frame)``; classifiers may add ``predict_proba``.
            When it has ``feature_names_in_`` exactly those columns are passed to it,
            otherwise every column but the target.
        data: The evaluation rows: a pandas DataFrame, or a polars or pyarrow table.
        target: The column holding the true values.
        task: ``"classification"`` or ``"regression"``; inferred when None (a bool, text
            or categorical target, an integer one with at most 20 values, or a model with
            ``predict_proba``/``classes_`` means classification).
        sensitive: Columns of ``data`` to split the metrics by for fairness; they need not
            be model features.
        train_data: The training rows; when given, the main metric is computed on both and
            a gap above ``overfit_threshold`` flags overfitting.
        overfit_threshold: The largest acceptable train-minus-validation gap.
        pos_label: The positive class of a binary classifier (default: the larger class,
            i.e. True, 1 or ``classes_[1]``); for multiclass, the class the fairness gaps
            are computed on one-vs-rest.

    Returns:
        An :class:`Evaluation`.

    Raises:
        InvalidInput: For a model without ``predict``, an unknown task, empty data, a
            missing target or sensitive column, or a continuous target for classification.
    """
    if not callable(getattr(model, "predict", None)):
        raise InvalidInput(
            f"model of type {type(model).__name__} has no predict() method",
            hint="pass a fitted scikit-learn estimator or pipeline, or a loaded loopml model",
        )
    if task is not None and task not in TASKS:
        raise InvalidInput(
            f"task {task!r} is unknown",
            hint="use task='classification', task='regression', or leave it out to infer it",
        )
    if not math.isfinite(overfit_threshold):
        raise InvalidInput(
            f"overfit_threshold {overfit_threshold!r} is not a finite number",
            hint="pass a gap such as 0.05",
        )
    sensitive = (sensitive,) if isinstance(sensitive, str) else tuple(dict.fromkeys(sensitive))
    frame = _checked_frame(data, "data", target)
    missing = [column for column in sensitive if column not in frame.columns]
    if missing:
        raise InvalidInput(
            f"sensitive column {missing[0]!r} is not in the data; "
            f"columns are: {_column_list(frame)}",
            hint="pass sensitive= columns of the evaluation data",
        )
    train = None if train_data is None else _checked_frame(train_data, "train_data", target)
    task = task or _infer_task(frame[target], model)
    _check_target_fits(frame[target], task, target, "data")
    if train is not None:
        _check_target_fits(train[target], task, target, "train_data")

    if task == "classification":
        outcome = _classification(model, frame, target, sensitive, pos_label, "data")
    else:
        outcome = _regression(model, frame, target, sensitive, "data")
    metrics, notes = dict(outcome.metrics), list(outcome.notes)

    overfitting = None
    if train is not None:
        overfitting = _overfitting(model, train, target, sensitive, outcome, overfit_threshold)
        main = overfitting["metric"]
        metrics[f"train_{main}"] = overfitting["train"]
        metrics["overfit_gap"] = overfitting["gap"]
        notes += overfitting.pop("notes")

    fairness = None
    if sensitive:
        from ..governance.fairness import fairness_table

        fairness = fairness_table(
            outcome.y_true,
            outcome.y_pred,
            frame[list(sensitive)],
            task=task,
            pos_label=outcome.pos_label,
            classes=outcome.classes,
        )
        metrics.update(fairness.metrics())

    return Evaluation(
        task=task,
        rows=len(frame),
        target=target,
        metrics=metrics,
        details=outcome.details,
        fairness=fairness,
        overfitting=overfitting,
        notes=notes,
    )


# --- scoring ------------------------------------------------------------------------


@dataclass
class _Outcome:
    """The scored rows of one table: metrics, details and what fairness needs."""

    metrics: dict[str, float | None]
    details: dict[str, Any]
    notes: list[str]
    y_true: np.ndarray
    y_pred: np.ndarray
    main: str
    pos_label: Any = None
    classes: list[Any] | None = None


def _classification(
    model: Any,
    frame: pd.DataFrame,
    target: str,
    sensitive: Sequence[str],
    pos_label: Any,
    name: str,
    classes: list[Any] | None = None,
) -> _Outcome:
    import sklearn.metrics as skm

    features = _features(model, frame, target, sensitive, name)
    y_true = _labels_of(frame[target])
    y_pred = _predict(model, features, name)
    fractional = _fractions(y_pred) if y_pred.dtype.kind == "f" else []
    if len(fractional):
        raise InvalidInput(
            f"model {type(model).__name__} predicted continuous values on {name} "
            f"(e.g. {fractional[0]!r}), not classes of {target!r}",
            hint="use task='regression' for a regressor",
        )
    known = _known_classes(model)
    if classes is None:
        seen = np.concatenate([y_true, y_pred])
        classes = _sorted_unique(np.asarray(known) if known is not None else seen)
        classes += [label for label in _sorted_unique(seen) if label not in classes]
    binary = len(classes) <= 2
    if pos_label is not None and pos_label not in classes:
        raise InvalidInput(
            f"pos_label {pos_label!r} is not a class of target {target!r}; "
            f"classes are: {', '.join(map(repr, classes))}",
            hint="pass pos_label= one of those classes",
        )
    if binary and pos_label is None:
        pos_label = _default_pos_label(classes)
    notes: list[str] = []
    proba = _probabilities(model, features, known, classes, notes)
    details: dict[str, Any] = {"classes": classes, "pos_label": pos_label}
    if binary:  # scored as "pos_label or not", so any two labels work
        truth, guess, averaging = y_true == pos_label, y_pred == pos_label, {}
    else:
        truth, guess, averaging = y_true, y_pred, {"average": "macro"}
    metrics: dict[str, float | None] = {"accuracy": _number(skm.accuracy_score(y_true, y_pred))}
    for metric, score in (
        ("precision", skm.precision_score),
        ("recall", skm.recall_score),
        ("f1", skm.f1_score),
    ):
        metrics[metric] = _number(score(truth, guess, zero_division=0, **averaging))

    scores = _binary_scores(model, features, proba, classes, pos_label) if binary else None
    if binary and scores is None:
        auc = None
        notes.append("roc_auc needs scores: the model has no predict_proba or decision_function")
    elif binary and len(set(truth)) < 2:
        auc = None
        notes.append(
            f"roc_auc is undefined: target {target!r} holds one class only "
            f"({_plain(y_true[0])!r}) in {name}"
        )
    elif binary:
        auc = _number(skm.roc_auc_score(truth, scores))
        details["roc_curve"] = _roc_curve(truth, scores)
    elif proba is None:
        auc = None
        notes.append("roc_auc needs class probabilities: the model has no predict_proba")
    else:
        auc = _guarded(
            lambda: skm.roc_auc_score(y_true, proba, multi_class="ovr", labels=classes),
            "roc_auc",
            notes,
        )
    metrics["roc_auc"] = metrics["auc"] = auc
    if proba is not None:
        metrics["log_loss"] = _guarded(
            lambda: skm.log_loss(y_true, proba, labels=classes), "log_loss", notes
        )
    if binary and proba is not None and scores is not None:
        metrics["brier"] = _number(skm.brier_score_loss(truth.astype(int), scores))
        details["calibration_curve"] = _calibration_curve(truth, scores)
    main = ("roc_auc" if scores is not None else "f1") if binary else "accuracy"

    matrix = skm.confusion_matrix(y_true, y_pred, labels=classes)
    details["confusion_matrix"] = {"labels": classes, "counts": matrix.tolist()}
    details["class_counts"] = {
        "labels": classes,
        "actual": matrix.sum(axis=1).tolist(),
        "predicted": matrix.sum(axis=0).tolist(),
    }
    return _Outcome(
        metrics=metrics,
        details=details,
        notes=notes,
        y_true=y_true,
        y_pred=y_pred,
        main=main,
        pos_label=pos_label,
        classes=classes,
    )


def _regression(
    model: Any, frame: pd.DataFrame, target: str, sensitive: Sequence[str], name: str
) -> _Outcome:
    import sklearn.metrics as skm

    features = _features(model, frame, target, sensitive, name)
    y_true = frame[target].to_numpy(dtype=float)
    try:
        y_pred = _predict(model, features, name).astype(float)
    except (TypeError, ValueError) as error:
        raise InvalidInput(
            f"model {type(model).__name__} predicted values that are not numbers on {name}",
            hint="use task='classification' for a classifier",
        ) from error
    bad = int((~np.isfinite(y_pred)).sum())
    if bad:
        raise InvalidInput(
            f"model {type(model).__name__} predicted {bad} NaN or infinite values on {name}",
            hint="check the feature columns for missing values the model cannot handle",
        )
    notes: list[str] = []
    metrics: dict[str, float | None] = {
        "mae": _number(skm.mean_absolute_error(y_true, y_pred)),
        "rmse": _number(math.sqrt(skm.mean_squared_error(y_true, y_pred))),
    }
    if len(y_true) < 2:
        metrics["r2"] = None
        notes.append(f"r2 is undefined on fewer than two rows ({name} has {len(y_true)})")
    else:
        metrics["r2"] = _number(skm.r2_score(y_true, y_pred))
    if np.any(y_true == 0):
        metrics["mape"] = None
        notes.append(f"mape is skipped: target {target!r} is 0 in some rows of {name}")
    else:
        metrics["mape"] = _number(skm.mean_absolute_percentage_error(y_true, y_pred))
    details = {
        "residuals": _residuals(y_true - y_pred),
        "predicted_vs_actual": _scatter_sample(y_true, y_pred),
    }
    return _Outcome(
        metrics=metrics, details=details, notes=notes, y_true=y_true, y_pred=y_pred, main="r2"
    )


def _overfitting(
    model: Any,
    train: pd.DataFrame,
    target: str,
    sensitive: Sequence[str],
    validation: _Outcome,
    threshold: float,
) -> dict[str, Any]:
    """Compare the main metric on the training rows with the evaluation rows."""
    if validation.classes is not None:
        fitted = _classification(
            model, train, target, sensitive, validation.pos_label, "train_data", validation.classes
        )
    else:
        fitted = _regression(model, train, target, sensitive, "train_data")
    main = validation.main
    train_value, value = fitted.metrics.get(main), validation.metrics.get(main)
    gap = None if train_value is None or value is None else train_value - value
    notes = [] if gap is not None else [f"overfitting is unknown: {main} is undefined"]
    return {
        "metric": main,
        "train": train_value,
        "validation": value,
        "gap": gap,
        "threshold": float(threshold),
        "overfitting": None if gap is None else gap > threshold,
        "notes": notes + [n for n in fitted.notes if "train_data" in n],
    }


# --- model calls --------------------------------------------------------------------


def _features(
    model: Any, frame: pd.DataFrame, target: str, sensitive: Sequence[str], name: str
) -> pd.DataFrame | np.ndarray:
    """What the model reads: its ``feature_names_in_`` columns, else all but the target.

    A scikit-learn model fitted on an array (it knows ``n_features_in_`` but no names) gets
    an array, as it was fitted, without the sensitive columns when those are extra.
    """
    features = frame.drop(columns=[target])
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        wanted = list(names)
        missing = [column for column in wanted if column not in features.columns]
        if missing:
            raise InvalidInput(
                f"{name} lacks {len(missing)} feature column(s) the model was trained on: "
                f"{', '.join(map(repr, missing[:10]))}",
                hint=f"pass {name} with the model's features and the target {target!r}",
            )
        return features[wanted]
    expected = getattr(model, "n_features_in_", None)
    if not isinstance(expected, int):
        return features
    if expected != features.shape[1]:
        features = features.drop(columns=[c for c in sensitive if c in features.columns])
    if expected != features.shape[1]:
        raise InvalidInput(
            f"model {type(model).__name__} reads {expected} features but {name} has "
            f"{len(frame.columns) - 1} columns besides the target {target!r}",
            hint="pass only the features and the target, or fit the model on a DataFrame "
            "so it knows its feature names",
        )
    return features.to_numpy()


def _predict(model: Any, features: pd.DataFrame | np.ndarray, name: str) -> np.ndarray:
    try:
        predicted = np.asarray(model.predict(features))
    except (KeyError, ValueError, TypeError) as error:
        raise InvalidInput(
            f"model {type(model).__name__} could not predict on {name}: {error}",
            hint="check that the data has the columns and types the model was trained on",
        ) from error
    if predicted.ndim == 2 and predicted.shape[1] == 1:
        predicted = predicted[:, 0]
    if predicted.ndim != 1 or len(predicted) != len(features):
        raise InvalidInput(
            f"model {type(model).__name__} returned predictions of shape {predicted.shape} "
            f"for {len(features)} rows of {name}",
            hint="the model must predict one value per row",
        )
    return predicted


def _probabilities(
    model: Any,
    features: pd.DataFrame | np.ndarray,
    known: Any,
    classes: list[Any],
    notes: list[str],
) -> np.ndarray | None:
    """``predict_proba``, when the model has it and its columns match the classes."""
    if not _has_proba(model):
        return None
    proba = np.asarray(model.predict_proba(features), dtype=float)
    if proba.ndim != 2 or proba.shape[1] != len(classes):
        notes.append(
            f"predict_proba returned shape {proba.shape}, not one column per class "
            f"({len(classes)}): the metrics that need probabilities are skipped"
        )
        return None
    if known is not None and len(known) != len(classes):
        notes.append(
            "the data holds classes the model never saw: the metrics that need "
            "probabilities are skipped"
        )
        return None
    return proba


def _binary_scores(
    model: Any,
    features: pd.DataFrame | np.ndarray,
    proba: np.ndarray | None,
    classes: list[Any],
    pos: Any,
) -> np.ndarray | None:
    """A score per row that grows with the chance of ``pos``, for AUC and the ROC curve."""
    if proba is not None:
        return proba[:, classes.index(pos)]
    decision = getattr(model, "decision_function", None)
    if not callable(decision) or len(classes) != 2:
        return None
    scores = np.asarray(decision(features), dtype=float).ravel()
    return scores if pos == classes[1] else -scores


# --- curves -------------------------------------------------------------------------


def _roc_curve(true_pos: np.ndarray, scores: np.ndarray) -> dict[str, list[Any]]:
    from sklearn.metrics import roc_curve

    fpr, tpr, thresholds = roc_curve(true_pos, scores)
    keep = _spread(len(fpr), ROC_POINTS)
    return {
        "fpr": fpr[keep].tolist(),
        "tpr": tpr[keep].tolist(),
        "thresholds": thresholds[keep].tolist(),
    }


def _calibration_curve(true_pos: np.ndarray, proba: np.ndarray) -> dict[str, list[Any]]:
    """Mean predicted probability against the observed rate, per non-empty bin of 0.1."""
    from sklearn.calibration import calibration_curve

    observed, predicted = calibration_curve(true_pos, proba, n_bins=CALIBRATION_BINS)
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    counts = np.bincount(np.searchsorted(edges[1:-1], proba), minlength=CALIBRATION_BINS)
    return {
        "prob_pred": predicted.tolist(),
        "prob_true": observed.tolist(),
        "counts": counts[counts > 0].tolist(),
    }


def _residuals(residuals: np.ndarray) -> dict[str, Any]:
    """Summary and histogram (at most 50 bins) of actual minus predicted."""
    edges = np.histogram_bin_edges(residuals, bins="auto")
    if len(edges) - 1 > RESIDUAL_BINS:
        edges = np.histogram_bin_edges(residuals, bins=RESIDUAL_BINS)
    counts, edges = np.histogram(residuals, bins=edges)
    return {
        "definition": "actual - predicted",
        "mean": float(residuals.mean()),
        "std": float(residuals.std()),
        "min": float(residuals.min()),
        "median": float(np.median(residuals)),
        "max": float(residuals.max()),
        "histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
    }


def _scatter_sample(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    """At most 1,000 (actual, predicted) pairs, drawn with a fixed seed so reports diff."""
    rows = len(y_true)
    keep = np.arange(rows)
    if rows > SCATTER_POINTS:
        rng = np.random.default_rng(SAMPLE_SEED)
        keep = np.sort(rng.choice(rows, size=SCATTER_POINTS, replace=False))
    return {
        "actual": y_true[keep].tolist(),
        "predicted": y_pred[keep].tolist(),
        "sampled": rows > SCATTER_POINTS,
    }


def _spread(length: int, points: int) -> np.ndarray:
    """Indices of at most ``points`` evenly spread items, keeping the first and last."""
    if length <= points:
        return np.arange(length)
    return np.unique(np.linspace(0, length - 1, points).round().astype(int))


# --- input --------------------------------------------------------------------------


def _checked_frame(data: Any, name: str, target: str) -> pd.DataFrame:
    """``data`` as a non-empty pandas DataFrame holding ``target`` without missing values."""
    if isinstance(data, pd.DataFrame):
        frame = data
    elif callable(getattr(data, "to_pandas", None)):  # polars and pyarrow tables
        frame = data.to_pandas()
    else:
        raise InvalidInput(
            f"{name} of type {type(data).__name__} is not a table",
            hint="pass a pandas DataFrame, or a polars or pyarrow table",
        )
    if len(frame) == 0:
        raise InvalidInput(f"{name} has no rows", hint="evaluate on at least one labelled row")
    if target not in frame.columns:
        raise InvalidInput(
            f"target column {target!r} is not in {name}; columns are: {_column_list(frame)}",
            hint="pass target= the column holding the true values",
        )
    missing = int(frame[target].isna().sum())
    if missing:
        raise InvalidInput(
            f"target column {target!r} of {name} has {missing} missing values",
            hint=f"drop those rows first: {name}.dropna(subset=[{target!r}])",
        )
    return frame


def _infer_task(y: pd.Series, model: Any) -> str:
    """A model that says what it is decides; else the target's type, else the model's API."""
    declared = _estimator_type(model)
    if declared in ("classifier", "regressor"):
        return "classification" if declared == "classifier" else "regression"
    dtype = y.dtype
    if (
        pd.api.types.is_bool_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
    ):
        return "classification"
    if pd.api.types.is_integer_dtype(dtype) and y.nunique() <= MAX_INFERRED_CLASSES:
        return "classification"
    if _has_proba(model) or _known_classes(model) is not None:
        return "classification"
    return "regression"


def _estimator_type(model: Any) -> str | None:
    """``"classifier"`` or ``"regressor"`` for scikit-learn-style models, else None."""
    for candidate in (model, getattr(model, "raw", None)):
        if hasattr(candidate, "__sklearn_tags__"):
            from sklearn.utils import get_tags

            try:
                return get_tags(candidate).estimator_type
            except (AttributeError, TypeError, ValueError):
                return None
        declared = getattr(candidate, "_estimator_type", None)
        if isinstance(declared, str):
            return declared
    return None


def _has_proba(model: Any) -> bool:
    """Whether ``predict_proba`` works; a loaded model has the method but says ``has_proba``."""
    if not callable(getattr(model, "predict_proba", None)):
        return False
    return bool(getattr(model, "has_proba", True))


def _known_classes(model: Any) -> np.ndarray | None:
    """The classifier's ``classes_`` (in ``predict_proba`` column order), or None."""
    for candidate in (model, getattr(model, "raw", None)):
        classes = getattr(candidate, "classes_", None)
        if classes is not None:
            return np.asarray(classes)
    return None


def _check_target_fits(y: pd.Series, task: str, target: str, name: str) -> None:
    numeric = pd.api.types.is_numeric_dtype(y.dtype) and not pd.api.types.is_bool_dtype(y.dtype)
    if task == "regression" and not numeric:
        raise InvalidInput(
            f"target column {target!r} of {name} holds {y.dtype} values, not numbers",
            hint="use task='classification' for labels, or convert the target to numbers",
        )
    if task == "classification" and pd.api.types.is_float_dtype(y.dtype):
        fractional = _fractions(y.to_numpy(dtype=float))
        if len(fractional):
            raise InvalidInput(
                f"target column {target!r} of {name} is continuous (e.g. {fractional[0]!r}); "
                "classification needs discrete classes",
                hint="use task='regression', or bin the target into classes first",
            )


def _fractions(values: np.ndarray) -> list[float]:
    """The first few values that are not whole numbers: a sign of a continuous quantity."""
    return [float(v) for v in values[values != np.round(values)][:3]]


def _labels_of(y: pd.Series) -> np.ndarray:
    """Class labels as a numpy array that compares equal to the model's ``classes_``."""
    dtype = y.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return y.astype(object).to_numpy()
    if pd.api.types.is_extension_array_dtype(dtype):
        if pd.api.types.is_bool_dtype(dtype):
            return y.to_numpy(dtype=bool)
        if pd.api.types.is_integer_dtype(dtype):
            return y.to_numpy(dtype=np.int64)
        if pd.api.types.is_float_dtype(dtype):
            return y.to_numpy(dtype=float)
        return y.to_numpy(dtype=object)
    return y.to_numpy()


def _column_list(frame: pd.DataFrame, limit: int = 20) -> str:
    names = [repr(str(column)) for column in frame.columns[:limit]]
    more = len(frame.columns) - limit
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


# --- values -------------------------------------------------------------------------


def _default_pos_label(classes: list[Any]) -> Any:
    """The larger class: True of booleans, 1 of 0 and 1, ``classes_[1]`` of scikit-learn."""
    try:
        return sorted(classes)[-1]
    except TypeError:  # classes of mixed types
        return sorted(classes, key=str)[-1]


def _sorted_unique(values: np.ndarray) -> list[Any]:
    uniques = list(dict.fromkeys(_plain(value) for value in values))
    try:
        return sorted(uniques)
    except TypeError:
        return sorted(uniques, key=str)


def _guarded(compute: Callable[[], Any], metric: str, notes: list[str]) -> float | None:
    """A metric that some data leaves undefined: None and a note instead of an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            return _number(compute())
        except (ValueError, Warning) as problem:
            notes.append(f"{metric} is undefined on this data: {problem}")
            return None


def _number(value: Any) -> float | None:
    """A plain float, or None for NaN and infinity."""
    number = float(value)
    return number if math.isfinite(number) else None


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def _json_safe(value: Any) -> Any:
    """Plain Python values for JSON: numpy unwrapped, NaN and infinity as None."""
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    if isinstance(value, np.ndarray):
        return [_json_safe(item) for item in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)

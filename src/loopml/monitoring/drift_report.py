"""A drift and data-quality report of a current sample against a reference.

    result = loopml.monitoring.report(reference_frame, current_frame, importance=weights)
    result.dataset_drift, result.features["tenure"].drift_detected
    result.ranking[0].feature  # the drift that matters most to the model

Columns whose kind changed (numbers in the reference, text now) or that one side lacks
are schema problems, reported and left out of the drift tests rather than failing the
report; all-null and constant columns are reported too, since they usually mean a broken
feed rather than a moved population.

Each side of each column is read once (:func:`.drift.sample`: sorted values or category
counts), and both the drift test and the data quality come from that one read. Columns
are compared one after the other: a pool of two threads was measured slower on a busy
two-core machine (the per-column work is many short numpy calls that hold the GIL), and
holds two columns' sorted copies at once.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidInput
from .drift import (
    CategorySample,
    DriftOptions,
    FeatureDrift,
    NumericSample,
    Sample,
    column_kind,
    sample,
    sample_drift,
)

if TYPE_CHECKING:
    import pandas as pd

TOP_BINS = 3


@dataclass(frozen=True)
class ColumnQuality:
    column: str
    kind: str
    missing_reference: float
    missing_current: float
    out_of_range: float | None  # numeric: share of current values outside the reference's
    unseen_categories: float | None  # categorical: share of current rows with a new value
    constant: bool  # one distinct value in the reference
    all_null: bool  # no values on one side (or both)
    constant_current: bool = False  # one distinct value now: a stuck feed?

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class RankedFeature:
    """One feature's place in :attr:`MonitorReport.ranking`.

    ``score`` is ``strength * importance``: ``strength`` is how far the drift test went
    relative to its threshold (1 at the threshold, above 1 when it drifted), and
    ``importance`` is the feature's share of the model's importance (they sum to 1).
    """

    feature: str
    score: float
    importance: float
    strength: float
    drift_detected: bool
    test: str
    statistic: float
    top_bins: list[dict[str, Any]]
    """The bins (deciles or categories) that moved most: ``label``, ``reference`` and
    ``current`` shares, and ``contribution`` (to the PSI, or the category's gap)."""

    def to_dict(self) -> dict[str, Any]:
        return _finite(asdict(self))


@dataclass
class MonitorReport:
    features: dict[str, FeatureDrift]
    quality: dict[str, ColumnQuality]
    schema_problems: list[str]
    options: DriftOptions
    reference_rows: int
    current_rows: int
    drifted: list[str] = field(default_factory=list)
    importance: dict[str, float] = field(default_factory=dict)
    """The model's importance per column as given to :func:`report`; see :attr:`ranking`."""
    mode: str = "exact"
    """``exact`` from the data, or ``sketch`` from two profiles (:mod:`.profile_drift`)."""

    @property
    def drift_share(self) -> float:
        return len(self.drifted) / len(self.features) if self.features else 0.0

    @property
    def dataset_drift(self) -> bool:
        return bool(self.features) and self.drift_share >= self.options.dataset_share

    @property
    def ranking(self) -> list[RankedFeature]:
        """The tested features, the drift that matters most to the model first.

        A feature's score is its drift strength (the statistic over its threshold for a
        distance, ``log(p) / log(threshold)`` for a p-value: either way 1 at the
        threshold) times its importance. Importances are normalised over the tested
        features to sum to 1; a feature the model gave no importance keeps an equal
        share (1 / number of features) and the others split the rest in proportion to
        theirs. Without any importance the order is by drift strength alone.
        """
        weights = importance_weights(list(self.features), self.importance)
        entries = []
        for name, result in self.features.items():
            strength = drift_strength(result)
            entries.append(
                RankedFeature(
                    feature=name,
                    score=strength * weights[name],
                    importance=weights[name],
                    strength=strength,
                    drift_detected=result.drift_detected,
                    test=result.test,
                    statistic=result.statistic,
                    top_bins=top_bins(result.bins),
                )
            )
        return sorted(entries, key=lambda e: (-e.score, not e.drift_detected, e.feature))

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "dataset_drift": self.dataset_drift,
            "drift_share": self.drift_share,
            "drifted": self.drifted,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "ranking": [entry.to_dict() for entry in self.ranking],
            "features": {name: result.to_dict() for name, result in self.features.items()},
            "quality": {name: quality.to_dict() for name, quality in self.quality.items()},
            "schema_problems": self.schema_problems,
            "importance": dict(self.importance),
            "options": {
                "p_value": self.options.p_value,
                "distance": self.options.distance,
                "small_sample": self.options.small_sample,
                "dataset_share": self.options.dataset_share,
                "per_feature": dict(self.options.per_feature),
            },
        }

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **{"indent": 2, **kwargs})

    def to_html(self, title: str = "Drift report") -> str:
        """One self-contained page (plotly.js inlined; opens offline)."""
        from .report_html import report_html

        return report_html(self, title)

    def save_html(self, path: str | os.PathLike[str], title: str = "Drift report") -> Path:
        target = Path(path)
        target.write_text(self.to_html(title), encoding="utf-8")
        return target


def report(
    reference: pd.DataFrame | Any,
    current: pd.DataFrame | Any,
    *,
    columns: list[str] | None = None,
    options: DriftOptions | None = None,
    importance: Mapping[str, float] | None = None,
) -> MonitorReport:
    """Drift and data quality of ``current`` against ``reference``, column by column.

    ``importance`` (a column's weight in the model, e.g. from
    :func:`.importance.model_importance`) orders :attr:`MonitorReport.ranking`. Either
    side may be a :class:`.profile.Profile` instead of a DataFrame::

        result = report(train, last_hour, importance={"tenure": 0.7, "plan": 0.3})
        [entry.feature for entry in result.ranking if entry.drift_detected]
    """
    import pandas as pd

    weights = _checked_importance(importance)
    profiled = _profile_report(reference, current, columns, options)
    if profiled is not None:
        known, profiled = profiled
        _refuse_unknown(weights, known, "importance")
        return replace(profiled, importance=weights)
    if not isinstance(reference, pd.DataFrame) or not isinstance(current, pd.DataFrame):
        raise InvalidInput("the reference and the current data must be DataFrames")
    if not len(reference):
        raise InvalidInput("the reference holds no rows", hint="pass the training data")
    if not len(current):
        raise InvalidInput(
            "the current data holds no rows", hint="a window with no predictions has no report"
        )
    for side, frame in (("reference", reference), ("current data", current)):
        twice = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        if twice:
            raise InvalidInput(
                f"the {side} has more than one column named {', '.join(map(repr, twice))}",
                hint="rename or drop the copies",
            )
    options = options or DriftOptions()
    labels = {str(c): c for c in reference.columns}
    names = list(columns) if columns is not None else list(labels)
    _refuse_unknown(options.per_feature, labels, "thresholds")
    _refuse_unknown(weights, labels, "importance")
    outside = [name for name in options.per_feature if name not in names]
    if outside:
        raise InvalidInput(
            f"thresholds given for column(s) not in the report: {', '.join(outside)}",
            hint="add them to columns=, or drop their thresholds",
        )
    missing = [name for name in names if name not in labels]
    if missing:
        raise InvalidInput(f"the reference has no column '{missing[0]}'")
    current_labels = {str(c): c for c in current.columns}
    problems = {}
    pairs = []
    for name in names:
        if name in current_labels:
            pairs.append((name, reference[labels[name]], current[current_labels[name]]))
        else:
            problems[name] = f"column '{name}' is missing from the current data"
    compared = [_compare(*pair, options) for pair in pairs]
    features: dict[str, FeatureDrift] = {}
    quality: dict[str, ColumnQuality] = {}
    for (name, _, _), (problem, column_quality, result) in zip(pairs, compared, strict=True):
        if problem:
            problems[name] = problem
        if column_quality is not None:
            quality[name] = column_quality
        if result is not None:
            features[name] = result
    messages = [problems[name] for name in names if name in problems]
    extra = [name for name in current_labels if name not in labels]
    if extra and columns is None:
        messages.append("columns not in the reference: " + ", ".join(extra))
    drifted = [name for name, result in features.items() if result.drift_detected]
    return MonitorReport(
        features, quality, messages, options, len(reference), len(current), drifted, weights
    )


def _compare(
    name: str, ref: pd.Series, cur: pd.Series, options: DriftOptions
) -> tuple[str | None, ColumnQuality | None, FeatureDrift | None]:
    """One column: a schema problem, or its data quality and drift test (None when a
    side has no values)."""
    kind, kind_now = column_kind(ref), column_kind(cur)
    if kind != kind_now:
        if ref.notna().any() and cur.notna().any():
            return f"column '{name}' was {kind} in the reference and is {kind_now} now", None, None
        if not ref.notna().any():  # an empty side has no kind: read both as the other one
            kind = kind_now
    ref_sample, cur_sample = sample(ref, kind), sample(cur, kind)
    return (
        None,
        column_quality(name, kind, ref_sample, cur_sample),
        sample_drift(name, ref_sample, cur_sample, options),
    )


def column_quality(name: str, kind: str, ref: Sample, cur: Sample) -> ColumnQuality:
    """Missing shares, values outside the reference, constant and empty sides."""
    out_of_range = unseen = None
    if isinstance(ref, NumericSample) and isinstance(cur, NumericSample):
        if ref.present and cur.present:
            low, high = ref.values[0], ref.values[-1]
            below = np.searchsorted(cur.values, low, side="left")
            above = cur.present - np.searchsorted(cur.values, high, side="right")
            out_of_range = float((below + above) / cur.present)
        constant = bool(ref.present) and ref.values[0] == ref.values[-1]
        constant_now = bool(cur.present) and cur.values[0] == cur.values[-1]
    elif isinstance(ref, CategorySample) and isinstance(cur, CategorySample):
        if cur.present:
            new = sum(count for label, count in cur.counts.items() if label not in ref.counts)
            unseen = new / cur.present
        constant, constant_now = len(ref.counts) == 1, len(cur.counts) == 1
    else:
        raise InvalidInput(f"column '{name}' is numeric on one side and categorical on the other")
    return ColumnQuality(
        name,
        kind,
        ref.missing / (ref.present + ref.missing),
        cur.missing / (cur.present + cur.missing),
        out_of_range,
        unseen,
        constant=bool(constant),
        all_null=not ref.present or not cur.present,
        constant_current=bool(constant_now),
    )


def drift_strength(result: FeatureDrift) -> float:
    """How far a test went relative to its threshold, comparable across tests: 1 at the
    threshold, above 1 when it drifted (``statistic / threshold`` for a distance,
    ``log(p) / log(threshold)`` for a p-value, so p = 1 is 0)."""
    if result.p_value is not None:
        if not math.isfinite(result.p_value):
            return 0.0
        return math.log(max(result.p_value, 1e-300)) / math.log(result.threshold)
    strength = result.statistic / result.threshold
    return strength if math.isfinite(strength) else 0.0


def importance_weights(names: list[str], importance: Mapping[str, float]) -> dict[str, float]:
    """Each feature's share of the importance, summing to 1 over ``names``.

    A feature without an importance keeps an equal share, ``1 / len(names)``; the others
    split the rest in proportion to their importances (equally when those are all 0).
    """
    if not names:
        return {}
    share = 1 / len(names)
    known = {name: float(importance[name]) for name in names if name in importance}
    weights = {name: share for name in names if name not in known}
    total = sum(known.values())
    for name, value in known.items():
        weights[name] = share * len(known) * (value / total if total > 0 else 1 / len(known))
    return weights


def top_bins(bins: Mapping[str, list[Any]], count: int = TOP_BINS) -> list[dict[str, Any]]:
    """The ``count`` bins that contributed most to a feature's drift, largest first."""
    contribution = bins.get("contribution") or []
    order = sorted(range(len(contribution)), key=lambda i: -contribution[i])[:count]
    return [
        {
            "label": str(bins["labels"][i]),
            "reference": bins["reference"][i],
            "current": bins["current"][i],
            "contribution": contribution[i],
        }
        for i in order
    ]


def _refuse_unknown(given: Mapping[str, float], known: Any, what: str) -> None:
    unknown = [name for name in given if name not in known]
    if unknown:
        raise InvalidInput(
            f"{what} given for unknown column(s): {', '.join(unknown)}",
            hint="name columns of the reference",
        )


def _checked_importance(importance: Mapping[str, float] | None) -> dict[str, float]:
    if importance is None:
        return {}
    if not isinstance(importance, Mapping):
        raise InvalidInput(
            "importance must map column names to numbers",
            hint="e.g. importance=loopml.monitoring.model_importance(model, columns)",
        )
    checked = {}
    for name, value in importance.items():
        number = float(value) if isinstance(value, int | float | np.number) else math.nan
        if isinstance(value, bool) or not math.isfinite(number) or number < 0:
            raise InvalidInput(
                f"the importance of '{name}' must be a non-negative number, not {value!r}"
            )
        checked[str(name)] = number
    return checked


def _profile_report(
    reference: Any, current: Any, columns: list[str] | None, options: DriftOptions | None
) -> tuple[Any, MonitorReport] | None:
    """The reference profile's columns and the report of two profiles (a DataFrame side
    is profiled first), or None when neither side is a :class:`.profile.Profile`."""
    try:
        from .profile import Profile
    except ModuleNotFoundError as error:  # profiles are optional; a broken import is not
        if error.name != f"{__package__}.profile":
            raise
        return None
    if not isinstance(reference, Profile) and not isinstance(current, Profile):
        return None
    from .profile import profile, report_from_profiles

    reference = reference if isinstance(reference, Profile) else profile(reference, columns)
    current = current if isinstance(current, Profile) else profile(current, columns)
    result = report_from_profiles(reference, current, columns=columns, options=options)
    return reference.columns, result


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value

"""A drift and data-quality report of a current sample against a reference.

    result = loopml.monitoring.report(reference_frame, current_frame)
    result.dataset_drift, result.features["tenure"].drift_detected

Columns whose kind changed (numbers in the reference, text now) or that one side lacks
are schema problems, reported and left out of the drift tests rather than failing the
report; all-null and constant columns are reported too, since they usually mean a broken
feed rather than a moved population.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput
from .drift import DriftOptions, FeatureDrift, column_kind, feature_drift

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class ColumnQuality:
    column: str
    kind: str
    missing_reference: float
    missing_current: float
    out_of_range: float | None  # numeric: share of current values outside the reference's
    unseen_categories: float | None  # categorical: share of current rows with a new value
    constant: bool
    all_null: bool

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class MonitorReport:
    features: dict[str, FeatureDrift]
    quality: dict[str, ColumnQuality]
    schema_problems: list[str]
    options: DriftOptions
    reference_rows: int
    current_rows: int
    drifted: list[str] = field(default_factory=list)

    @property
    def drift_share(self) -> float:
        return len(self.drifted) / len(self.features) if self.features else 0.0

    @property
    def dataset_drift(self) -> bool:
        return bool(self.features) and self.drift_share >= self.options.dataset_share

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset_drift": self.dataset_drift,
            "drift_share": self.drift_share,
            "drifted": self.drifted,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "features": {name: result.to_dict() for name, result in self.features.items()},
            "quality": {name: quality.to_dict() for name, quality in self.quality.items()},
            "schema_problems": self.schema_problems,
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
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    columns: list[str] | None = None,
    options: DriftOptions | None = None,
) -> MonitorReport:
    """Drift and data quality of ``current`` against ``reference``, column by column."""
    import pandas as pd

    if not isinstance(reference, pd.DataFrame) or not isinstance(current, pd.DataFrame):
        raise InvalidInput("the reference and the current data must be DataFrames")
    if reference.empty:
        raise InvalidInput("the reference holds no rows", hint="pass the training data")
    if current.empty:
        raise InvalidInput(
            "the current data holds no rows", hint="a window with no predictions has no report"
        )
    options = options or DriftOptions()
    names = list(columns) if columns is not None else [str(c) for c in reference.columns]
    unknown = [name for name in options.per_feature if name not in names]
    if unknown:
        raise InvalidInput(
            f"thresholds given for unknown column(s): {', '.join(unknown)}",
            hint="name columns of the reference",
        )
    problems = []
    features: dict[str, FeatureDrift] = {}
    quality: dict[str, ColumnQuality] = {}
    for name in names:
        if name not in reference.columns:
            raise InvalidInput(f"the reference has no column '{name}'")
        if name not in current.columns:
            problems.append(f"column '{name}' is missing from the current data")
            continue
        ref, cur = reference[name], current[name]
        kind = column_kind(ref)
        if ref.notna().any() and cur.notna().any() and column_kind(cur) != kind:
            problems.append(
                f"column '{name}' was {kind} in the reference and is {column_kind(cur)} now"
            )
            continue
        quality[name] = _quality(name, kind, ref, cur)
        result = feature_drift(name, ref, cur, options, kind=kind)
        if result is not None:
            features[name] = result
    extra = [str(c) for c in current.columns if c not in reference.columns]
    if extra and columns is None:
        problems.append("columns not in the reference: " + ", ".join(extra))
    drifted = [name for name, result in features.items() if result.drift_detected]
    return MonitorReport(
        features, quality, problems, options, len(reference), len(current), drifted
    )


def _quality(name: str, kind: str, ref: pd.Series, cur: pd.Series) -> ColumnQuality:
    values_ref, values_cur = ref.dropna(), cur.dropna()
    out_of_range = unseen = None
    if kind == "numeric" and len(values_ref) and len(values_cur):
        low, high = values_ref.min(), values_ref.max()
        out_of_range = float(((values_cur < low) | (values_cur > high)).mean())
    elif kind == "categorical" and len(values_cur):
        seen = set(values_ref.astype(str).unique())
        unseen = float((~values_cur.astype(str).isin(seen)).mean())
    return ColumnQuality(
        name,
        kind,
        float(ref.isna().mean()),
        float(cur.isna().mean()),
        out_of_range,
        unseen,
        constant=values_ref.nunique() == 1,
        all_null=values_cur.empty or values_ref.empty,
    )

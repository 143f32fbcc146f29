"""Drift and data quality from two profiles: the exact report's answers, from sketches.

    result = report_from_profiles(profile(reference), profile(current))

The result is the same :class:`~loopml.monitoring.drift_report.MonitorReport` as
:func:`~loopml.monitoring.drift_report.report` gives, computed from the profiles alone, with
``mode="sketch"``. The tests are always the large-sample ones, whatever the
row count: the normed Wasserstein distance for numbers and the Jensen-Shannon distance
for categories. P-values (Kolmogorov-Smirnov, chi-square) are not computed: from a
quantile sketch they would be neither exact nor honest about their error.

- Numeric: the Wasserstein distance is ``∫|F⁻¹(u) − G⁻¹(u)| du`` over 10,000 ranks of the
  two sketches, divided by the reference's exact standard deviation. The sketches' rank
  noise only adds to that integral of absolute gaps, so the part of it that the exact
  means expose is taken off (see :func:`_wasserstein`). PSI uses the reference sketch's
  deciles and both sketches' shares between them; the largest gap between the two CDFs
  over both sketches' quantiles is reported as ``ks_statistic``. A column with at most
  ``EXACT_VALUES`` distinct values keeps exact counts, and all of these are exact for it.
- Categorical: Jensen-Shannon (base 2) and L-infinity distances from the counts, which
  are exact until a column holds more than ``category_cap`` distinct values; past it, each
  side's folded values count as one "other" category.
- Quality: missing shares are exact; the share of current values outside the reference's
  range comes from the current sketch's ranks of the reference's minimum and maximum
  (exact for few distinct values).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import InvalidInput
from .drift import (
    DriftOptions,
    FeatureDrift,
    bin_labels,
    category_bins,
    jensen_shannon,
    psi_table,
)
from .drift_report import ColumnQuality, MonitorReport
from .profile import CategoricalColumn, ColumnProfile, NumericColumn, Profile

_RANKS = 10_000  # enough to follow the sketch's step function at any row count
_KS_RANKS = 1_000
_TAIL = _RANKS // 100  # the outer 1% of ranks at each end
_EDGE = _RANKS // 25  # the 4% next to it, whose sign tells who leads
OTHER = "(other values)"


def report_from_profiles(
    reference: Profile,
    current: Profile,
    *,
    columns: list[str] | None = None,
    options: DriftOptions | None = None,
) -> MonitorReport:
    """Drift and data quality of ``current`` against ``reference``, from their profiles.

    Schema problems (a column the current profile lacks, a kind that changed) are
    reported, not raised, as in the exact report.
    """
    for name, value in (("reference", reference), ("current", current)):
        if not isinstance(value, Profile):
            raise InvalidInput(
                f"the {name} must be a Profile, not a {type(value).__name__}",
                hint="build one with loopml.monitoring.profile.profile(data)",
            )
    if not reference.rows:
        raise InvalidInput("the reference profile holds no rows", hint="profile the training data")
    if not current.rows:
        raise InvalidInput(
            "the current profile holds no rows", hint="a window with no predictions has no report"
        )
    options = options or DriftOptions()
    names = list(columns) if columns is not None else list(reference.columns)
    _check_names(names, reference, options)
    problems: dict[str, str] = {}
    features: dict[str, FeatureDrift] = {}
    quality: dict[str, ColumnQuality] = {}
    for name in names:
        ref, cur = reference.columns[name], current.columns.get(name)
        if cur is None:
            problems[name] = f"column '{name}' is missing from the current data"
        elif ref.count and cur.count and ref.kind != cur.kind:
            problems[name] = (
                f"column '{name}' was {ref.kind} in the reference and is {cur.kind} now"
            )
        else:
            quality[name] = _quality(name, ref, cur)
            result = sketch_drift(name, ref, cur, options)
            if result is not None:
                features[name] = result
    messages = list(problems.values())
    extra = [name for name in current.columns if name not in reference.columns]
    if extra and columns is None:
        messages.append("columns not in the reference: " + ", ".join(extra))
    drifted = [name for name, result in features.items() if result.drift_detected]
    return MonitorReport(
        features=features,
        quality=quality,
        schema_problems=messages,
        options=options,
        reference_rows=reference.rows,
        current_rows=current.rows,
        drifted=drifted,
        mode="sketch",
    )


def _check_names(names: list[str], reference: Profile, options: DriftOptions) -> None:
    """Refuse, as the exact report does, thresholds and columns the reference lacks."""
    unknown = [name for name in options.per_feature if name not in reference.columns]
    if unknown:
        raise InvalidInput(
            f"thresholds given for unknown column(s): {', '.join(unknown)}",
            hint="name columns of the reference",
        )
    outside = [name for name in options.per_feature if name not in names]
    if outside:
        raise InvalidInput(
            f"thresholds given for column(s) not in the report: {', '.join(outside)}",
            hint="add them to columns=, or drop their thresholds",
        )
    missing = [name for name in names if name not in reference.columns]
    if missing:
        raise InvalidInput(
            f"the reference profile has no column '{missing[0]}'",
            hint="profile the reference with that column",
        )


def sketch_drift(
    name: str, ref: ColumnProfile, cur: ColumnProfile, options: DriftOptions | None = None
) -> FeatureDrift | None:
    """One column's drift from its two profiles, or None when either side has no values."""
    options = options or DriftOptions()
    if not ref.count or not cur.count or ref.kind != cur.kind:
        return None
    threshold = options.per_feature.get(name, options.distance)
    if isinstance(ref, NumericColumn) and isinstance(cur, NumericColumn):
        bins = _decile_bins(ref, cur)
        effects = {
            "wasserstein_normed": _wasserstein(ref, cur) / _scale(ref),
            "psi": float(sum(bins["contribution"])),
            "ks_statistic": _ks(ref, cur),
        }
        test, distance = "wasserstein", effects["wasserstein_normed"]
    else:
        assert isinstance(ref, CategoricalColumn)
        assert isinstance(cur, CategoricalColumn)
        categories, p, q = _shares(ref, cur)
        effects = {
            "jensen_shannon": jensen_shannon(p, q),
            "l_infinity": float(np.abs(p - q).max()),
        }
        bins = category_bins(categories, p, q)
        test, distance = "jensen_shannon", effects["jensen_shannon"]
    return FeatureDrift(
        name, ref.kind, test, distance, None, threshold, distance > threshold,
        effects, ref.count, cur.count, bins,
    )  # fmt: skip


def _wasserstein(ref: NumericColumn, cur: NumericColumn) -> float:
    """``∫|F⁻¹ − G⁻¹|`` from the sketches, with the exact means taking out their noise.

    Each sketch's quantiles are off by a random error, and taking absolute values turns
    that noise into a bias upwards, worst in a long tail, where a few retained values
    stand for many rows. The exact means bound it: ``∫(F⁻¹ − G⁻¹)`` is their difference,
    so where one side leads, the noise the means reveal comes off exactly. The lead is
    read from the sign of the gap at each rank; in the outer 1% of ranks at each end,
    where the sketch cannot tell which side is above, it is taken to continue when the
    4% next to it agree (a shift, or the scale of a skewed column); otherwise those
    signs are noise and the correction shrinks with them. The result never goes below
    ``|mean difference|``, a lower bound of the distance. Columns with few distinct
    values on both sides get the exact distance from their counts.
    """
    if ref.values is not None and cur.values is not None:
        points, below_ref, below_cur = _exact_cdfs(ref, cur)
        return float(np.sum(np.abs(below_ref - below_cur)[:-1] * np.diff(points)))
    ranks = (np.arange(_RANKS) + 0.5) / _RANKS
    quantiles_ref, quantiles_cur = ref.quantiles(ranks), cur.quantiles(ranks)
    gap = quantiles_ref - quantiles_cur
    signs = _signs(gap)
    noise = (quantiles_ref.mean() - ref.mean) - (quantiles_cur.mean() - cur.mean)
    estimate = float(np.mean(signs * gap) - np.mean(signs) * noise)
    return max(estimate, abs(ref.mean - cur.mean))


def _signs(gap: np.ndarray) -> np.ndarray:
    """Which side is above at each rank; in the outer 1%, the lead of the 4% next to it
    when 99% of that agrees."""
    signs = np.sign(gap)
    edges = np.concatenate([signs[_TAIL : _TAIL + _EDGE], signs[-_TAIL - _EDGE : -_TAIL]])
    lead = np.sign(edges.sum())
    if lead and float(np.mean(edges == lead)) >= 0.99:
        signs[:_TAIL] = signs[-_TAIL:] = lead
    return signs


def _scale(ref: NumericColumn) -> float:
    """The reference's std; for a constant reference its magnitude, as the exact test."""
    return ref.std or abs(ref.mean) or 1.0


def _ks(ref: NumericColumn, cur: NumericColumn) -> float:
    """The largest gap between the two CDFs, over both sketches' quantiles."""
    if ref.values is not None and cur.values is not None:
        _, below_ref, below_cur = _exact_cdfs(ref, cur)
        return float(np.abs(below_ref - below_cur).max())
    ranks = (np.arange(_KS_RANKS) + 0.5) / _KS_RANKS
    points = np.unique(np.concatenate([ref.quantiles(ranks), cur.quantiles(ranks)]))
    below_ref = np.asarray(ref.sketch.get_cdf(points, inclusive=True))[:-1]
    below_cur = np.asarray(cur.sketch.get_cdf(points, inclusive=True))[:-1]
    return float(np.abs(below_ref - below_cur).max())


def _exact_cdfs(ref: NumericColumn, cur: NumericColumn) -> tuple[np.ndarray, ...]:
    """Both sides' P(X ≤ x) at every value either side holds, from the exact counts."""
    assert ref.values is not None
    assert cur.values is not None
    points = np.union1d(list(ref.values), list(cur.values))
    return (
        points,
        _cumulative(ref.values, points, ref.count),
        _cumulative(cur.values, points, cur.count),
    )


def _cumulative(values: dict[float, int], points: np.ndarray, count: int) -> np.ndarray:
    return np.cumsum([values.get(point, 0) for point in points.tolist()]) / count


def _decile_bins(ref: NumericColumn, cur: NumericColumn, bins: int = 10) -> dict[str, list[Any]]:
    """Both sides' shares in the reference's deciles, and each bin's PSI term."""
    edges = np.unique(_quantiles(ref, np.linspace(0, 1, bins + 1)))
    if ref.values is not None and 2 <= len(ref.values) <= bins and len(ref.values) >= len(edges):
        distinct = np.array(sorted(ref.values))  # a flag or a small count: a bin per value
        edges = np.concatenate((distinct, distinct[-1:]))
    if len(edges) < 2:  # a constant reference: in or out of its one value
        value = float(edges[0])
        same = _mass_at(cur, value)
        shares_ref, shares_cur = np.array([1.0, 0.0]), np.array([same, 1 - same])
    else:
        inner = edges[1:-1]
        shares_ref, shares_cur = _bin_shares(ref, inner), _bin_shares(cur, inner)
    return psi_table(bin_labels(edges), shares_ref, shares_cur)


def _quantiles(column: NumericColumn, ranks: np.ndarray) -> np.ndarray:
    """Quantiles as ``np.quantile`` (linear) gives them when the counts are exact; else
    the sketch's."""
    if column.values is None:
        return column.quantiles(ranks)
    points = np.array(sorted(column.values))
    ends = np.cumsum([column.values[point] for point in points.tolist()])
    position = (column.count - 1) * ranks
    low = np.floor(position).astype(np.int64)
    below = points[np.searchsorted(ends, low, side="right")]
    above = points[np.searchsorted(ends, np.minimum(low + 1, column.count - 1), side="right")]
    gamma, step = position - low, above - below
    # numpy's interpolation: from the nearer end, so a quantile at a value is exactly it
    return np.where(gamma >= 0.5, above - step * (1 - gamma), below + step * gamma)


def _bin_shares(column: NumericColumn, inner: np.ndarray) -> np.ndarray:
    """Shares between the edges, a value on an edge counting in the bin above it (as
    ``np.searchsorted(side="right")`` in the exact report); a bin beyond the exact range
    is exactly empty."""
    if column.values is not None:
        points = np.array(list(column.values))
        counts = np.array(list(column.values.values()), dtype=float)
        bins = np.searchsorted(inner, points, side="right")
        return np.bincount(bins, weights=counts, minlength=len(inner) + 1) / column.count
    below = np.asarray(column.sketch.get_cdf(inner, inclusive=False), dtype=float)[:-1]
    below[inner <= column.minimum] = 0.0
    below[inner > column.maximum] = 1.0
    return np.diff(np.concatenate(([0.0], below, [1.0])))


def _mass_at(column: NumericColumn, value: float) -> float:
    if column.values is not None:
        return column.values.get(value, 0) / column.count
    if column.minimum == column.maximum:
        return 1.0 if column.minimum == value else 0.0
    sketch = column.sketch
    return float(sketch.get_rank(value, inclusive=True) - sketch.get_rank(value, inclusive=False))


def _shares(
    ref: CategoricalColumn, cur: CategoricalColumn
) -> tuple[list[str], np.ndarray, np.ndarray]:
    categories = sorted(set(ref.counts) | set(cur.counts))
    counts_ref = [ref.counts.get(name, 0) for name in categories]
    counts_cur = [cur.counts.get(name, 0) for name in categories]
    if ref.other or cur.other:
        categories.append(OTHER)
        counts_ref.append(ref.other)
        counts_cur.append(cur.other)
    return categories, np.array(counts_ref) / ref.count, np.array(counts_cur) / cur.count


def _quality(name: str, ref: ColumnProfile, cur: ColumnProfile) -> ColumnQuality:
    out_of_range = unseen = None
    if isinstance(ref, NumericColumn) and isinstance(cur, NumericColumn) and ref.count:
        out_of_range = _out_of_range(ref, cur) if cur.count else None
    elif isinstance(ref, CategoricalColumn) and isinstance(cur, CategoricalColumn) and cur.count:
        # Exact below the cap; past it, values folded into the reference's "other" count
        # as unseen, and the current side's own "other" rows as seen.
        new = sum(count for value, count in cur.counts.items() if value not in ref.counts)
        unseen = new / cur.count
    return ColumnQuality(
        name,
        ref.kind,
        _missing(ref),
        _missing(cur),
        out_of_range,
        unseen,
        constant=_constant(ref),
        all_null=not ref.count or not cur.count,
        constant_current=_constant(cur),
    )


def _missing(column: ColumnProfile) -> float:
    rows = column.count + column.nulls
    return column.nulls / rows if rows else math.nan


def _out_of_range(ref: NumericColumn, cur: NumericColumn) -> float:
    """The current mass outside the reference's range: exact from counts; from the
    sketch's ranks otherwise, and then at least one row when the exact minimum or maximum
    says so, however small the sketch puts the share."""
    low, high = ref.minimum, ref.maximum
    if cur.values is not None:
        outside = sum(count for value, count in cur.values.items() if not low <= value <= high)
        return outside / cur.count
    below = above = 0.0
    if cur.minimum < low:
        below = max(cur.sketch.get_rank(low, inclusive=False), 1 / cur.count)
    if cur.maximum > high:
        above = max(1 - cur.sketch.get_rank(high, inclusive=True), 1 / cur.count)
    return float(min(below + above, 1.0))


def _constant(ref: ColumnProfile) -> bool:
    if isinstance(ref, NumericColumn):
        return bool(ref.count) and ref.minimum == ref.maximum
    return len(ref.counts) == 1 and not ref.other

"""Per-feature data drift: did a column's distribution move between reference and current?

The test depends on the column's kind and the sample size, as Evidently chooses it:

- numeric, both samples of at most ``small_sample`` rows: the two-sample Kolmogorov-Smirnov
  test; drift when its p-value is below ``p_value``;
- numeric, larger: the Wasserstein distance divided by the reference's standard
  deviation; drift when it is above ``distance``;
- categorical, small: the chi-square test of the current counts against the reference
  frequencies; drift when its p-value is below ``p_value``;
- categorical, larger: the Jensen-Shannon distance of the two frequency vectors; drift
  when it is above ``distance``.

A p-value alone flags everything on large samples (a shift too small to matter becomes
"significant"), so every result also carries effect sizes that do not grow with the
sample: PSI on the reference's deciles and the normed Wasserstein distance for numbers,
the Jensen-Shannon distance and the L-infinity distance (TFDV's) for categories.

Each side of a column is read once into a :class:`NumericSample` (its values sorted) or a
:class:`CategorySample` (its counts per category); the tests, the effect sizes, the bins
and the report's data quality all work from those. Sorting a million floats takes
milliseconds, and on sorted values the deciles are lookups, each bin's count is two
binary searches, and the Wasserstein distance is one pass over the two quantile
functions, so a million-row report takes a second or two instead of minutes.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

_EPSILON = 1e-4  # the floor of a bin's share in PSI, so an empty bin does not divide by zero


@dataclass(frozen=True)
class DriftOptions:
    """Thresholds of the drift tests; ``per_feature`` overrides ``p_value``/``distance``."""

    p_value: float = 0.05
    distance: float = 0.1
    small_sample: int = 1000
    dataset_share: float = 0.5
    per_feature: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 < self.p_value < 1:
            raise InvalidInput(f"p_value {self.p_value} must be between 0 and 1")
        if self.distance <= 0:
            raise InvalidInput(f"distance threshold {self.distance} must be positive")
        if not 0 < self.dataset_share <= 1:
            raise InvalidInput(f"dataset_share {self.dataset_share} must be in (0, 1]")
        for name, value in self.per_feature.items():
            if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                raise InvalidInput(f"the threshold of '{name}' must be a positive number")


@dataclass(frozen=True)
class FeatureDrift:
    """One column's drift test: which test, its statistic, the threshold, the verdict."""

    column: str
    kind: str  # numeric | categorical
    test: str  # ks | wasserstein | chi_square | jensen_shannon
    statistic: float
    p_value: float | None
    threshold: float
    drift_detected: bool
    effect_sizes: dict[str, float]
    reference_rows: int
    current_rows: int
    bins: dict[str, list[Any]] = field(default_factory=dict)
    """The two distributions side by side, for pictures and for explaining the drift:
    ``labels`` (reference deciles, or categories), ``reference`` and ``current`` shares,
    and each bin's ``contribution`` to the PSI (numeric) or to the L-infinity gap."""

    def to_dict(self) -> dict[str, Any]:
        return _finite(asdict(self))


@dataclass(frozen=True)
class NumericSample:
    """One side of a numeric column, read once: its present values, sorted."""

    values: np.ndarray
    missing: int

    @property
    def present(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class CategorySample:
    """One side of a categorical column, read once: rows per category (as text)."""

    counts: dict[str, int]
    missing: int

    @property
    def present(self) -> int:
        return sum(self.counts.values())


Sample = NumericSample | CategorySample


def column_kind(series: pd.Series) -> str:
    import pandas as pd

    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "categorical"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    return "categorical"


def sample(series: pd.Series, kind: str | None = None) -> Sample:
    """One side of a column as the tests need it: sorted numbers, or counts per category."""
    if (kind or column_kind(series)) == "numeric":
        values = np.sort(series.to_numpy(dtype=float, na_value=np.nan))
        present = int(np.searchsorted(values, np.nan))  # NaN sorts last
        return NumericSample(values[:present], len(values) - present)
    return _category_sample(series)


def _category_sample(series: pd.Series) -> CategorySample:
    import pandas as pd

    # Codes and bincount rather than text and value_counts: a million strings are
    # hashed once, and a category dtype is not hashed at all.
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes, values = series.cat.codes.to_numpy(), series.cat.categories
    else:
        codes, values = pd.factorize(series)  # a missing value's code is -1
    counts = np.bincount(codes.astype(np.intp) + 1, minlength=len(values) + 1)
    by_label: dict[str, int] = {}
    for value, count in zip(values, counts[1:].tolist(), strict=True):
        if count:  # an unused level of a category dtype is no category of the data
            label = str(value)  # 1 and "1" are one category, as in a CSV
            by_label[label] = by_label.get(label, 0) + count
    return CategorySample(by_label, int(counts[0]))


def feature_drift(
    column: str,
    reference: pd.Series,
    current: pd.Series,
    options: DriftOptions | None = None,
    *,
    kind: str | None = None,
) -> FeatureDrift | None:
    """The drift test of one column, or None when either side has no values."""
    kind = kind or column_kind(reference)
    return sample_drift(column, sample(reference, kind), sample(current, kind), options)


def sample_drift(
    column: str, reference: Sample, current: Sample, options: DriftOptions | None = None
) -> FeatureDrift | None:
    """:func:`feature_drift` on two samples already read, or None when one is empty."""
    options = options or DriftOptions()
    if not reference.present or not current.present:
        return None
    small = reference.present <= options.small_sample and current.present <= options.small_sample
    if isinstance(reference, NumericSample) and isinstance(current, NumericSample):
        return _numeric(column, reference.values, current.values, small, options)
    if isinstance(reference, CategorySample) and isinstance(current, CategorySample):
        return _categorical(column, reference.counts, current.counts, small, options)
    raise InvalidInput(f"column '{column}' is numeric on one side and categorical on the other")


def _numeric(
    column: str, ref: np.ndarray, cur: np.ndarray, small: bool, options: DriftOptions
) -> FeatureDrift:
    bins = _sorted_psi_bins(ref, cur)
    effects = {
        "wasserstein_normed": _normed_wasserstein(ref, cur),
        "psi": float(sum(bins["contribution"])),
    }
    if small:
        from scipy import stats  # only small samples need it: importing takes a second

        result = stats.ks_2samp(ref, cur)
        threshold = options.per_feature.get(column, options.p_value)
        statistic, p_value = float(result.statistic), float(result.pvalue)
        return FeatureDrift(
            column, "numeric", "ks", statistic, p_value, threshold, p_value < threshold,
            effects, len(ref), len(cur), bins,
        )  # fmt: skip
    threshold = options.per_feature.get(column, options.distance)
    distance = effects["wasserstein_normed"]
    return FeatureDrift(
        column, "numeric", "wasserstein", distance, None, threshold, distance > threshold,
        effects, len(ref), len(cur), bins,
    )  # fmt: skip


def _categorical(
    column: str, ref: dict[str, int], cur: dict[str, int], small: bool, options: DriftOptions
) -> FeatureDrift:
    categories = sorted(ref.keys() | cur.keys())
    ref_counts = np.array([ref.get(name, 0) for name in categories], dtype=float)
    cur_counts = np.array([cur.get(name, 0) for name in categories], dtype=float)
    p, q = ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum()
    effects = {
        "jensen_shannon": jensen_shannon(p, q),
        "l_infinity": float(np.abs(p - q).max()),
    }
    bins = category_bins(categories, p, q)
    present = int(ref_counts.sum()), int(cur_counts.sum())
    if small:
        threshold = options.per_feature.get(column, options.p_value)
        if len(categories) == 1:  # one value on both sides: chi-square has no freedom left
            statistic, p_value = 0.0, 1.0
        else:
            from scipy import stats

            # Expected counts from the reference shares; a category the reference never
            # saw gets a small share, so it counts against the current sample instead of
            # dividing by zero.
            expected = np.maximum(p, _EPSILON)
            expected = expected / expected.sum() * cur_counts.sum()
            result = stats.chisquare(cur_counts, expected)
            statistic, p_value = float(result.statistic), float(result.pvalue)
        return FeatureDrift(
            column, "categorical", "chi_square", statistic, p_value, threshold,
            p_value < threshold, effects, *present, bins,
        )  # fmt: skip
    threshold = options.per_feature.get(column, options.distance)
    distance = effects["jensen_shannon"]
    return FeatureDrift(
        column, "categorical", "jensen_shannon", distance, None, threshold,
        distance > threshold, effects, *present, bins,
    )  # fmt: skip


MAX_CATEGORY_BINS = 20


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """Population stability index of ``current`` against ``reference``'s deciles."""
    return float(sum(psi_bins(reference, current, bins)["contribution"]))


def psi_bins(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> dict[str, list[Any]]:
    """Both samples' shares in ``reference``'s quantile bins, and each bin's PSI term."""
    return _sorted_psi_bins(_sorted(reference), _sorted(current), bins)


def _sorted(values: Iterable[float] | np.ndarray) -> np.ndarray:
    ordered = np.sort(np.asarray(values, dtype=float))
    return ordered[: np.searchsorted(ordered, np.nan)]


def _sorted_psi_bins(ref: np.ndarray, cur: np.ndarray, bins: int = 10) -> dict[str, list[Any]]:
    edges = np.unique(sorted_quantiles(ref, np.linspace(0, 1, bins + 1)))
    distinct = ref[np.concatenate(([True], ref[1:] != ref[:-1]))] if len(ref) else ref
    if 2 <= len(distinct) <= bins and len(distinct) >= len(edges):
        # Few distinct values (a 0/1 flag, a count): the deciles collapse onto them, so
        # each value gets its own bin; otherwise a flag whose share moved reads PSI 0.
        edges = np.concatenate((distinct, [distinct[-1]]))
    if len(edges) < 2:  # a constant reference: in or out of its one value
        equal = np.searchsorted(cur, edges[0], "right") - np.searchsorted(cur, edges[0], "left")
        same_cur = float(equal / len(cur))
        shares_ref = np.array([1.0, 0.0])
        shares_cur = np.array([same_cur, 1 - same_cur])
    else:
        inner = edges[1:-1]
        shares_ref, shares_cur = _bin_shares(ref, inner), _bin_shares(cur, inner)
    return psi_table(bin_labels(edges), shares_ref, shares_cur)


def bin_labels(edges: np.ndarray) -> list[str]:
    """Labels of the bins between ``edges`` (the first and last open-ended); one edge is
    a constant reference: in or out of its value."""
    if len(edges) < 2:
        return [f"= {edges[0]:.4g}", f"≠ {edges[0]:.4g}"]
    labels = [f"< {edges[1]:.4g}"]
    labels += [f"{low:.4g} – {high:.4g}" for low, high in itertools.pairwise(edges[1:-1])]
    labels += [f"≥ {edges[-2]:.4g}"] if len(edges) > 2 else []
    return labels


def psi_table(
    labels: list[str], shares_ref: np.ndarray, shares_cur: np.ndarray
) -> dict[str, list[Any]]:
    """Both sides' shares per bin and each bin's PSI term (shares floored, so an empty
    bin does not divide by zero)."""
    floor_ref = np.maximum(shares_ref, _EPSILON)
    floor_cur = np.maximum(shares_cur, _EPSILON)
    terms = (floor_cur - floor_ref) * np.log(floor_cur / floor_ref)
    return {
        "labels": labels[: len(terms)],
        "reference": shares_ref.tolist(),
        "current": shares_cur.tolist(),
        "contribution": terms.tolist(),
    }


def _bin_shares(ordered: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """Shares of sorted values per bin, a value's bin being how many inner edges are ≤ it:
    the values below inner edge ``i`` are exactly those of the bins before it."""
    below = np.searchsorted(ordered, inner, side="left")
    return np.diff(np.concatenate(([0], below, [len(ordered)]))) / len(ordered)


def sorted_quantiles(ordered: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """``np.quantile(ordered, quantiles)`` (its default, linear method) of sorted values,
    by lookup instead of a partition of the whole array."""
    position = (len(ordered) - 1) * np.asarray(quantiles, dtype=float)
    low = np.floor(position).astype(np.intp)
    high = np.minimum(low + 1, len(ordered) - 1)
    gamma = position - low
    below, above = ordered[low], ordered[high]
    step = above - below
    # numpy's interpolation: from the nearer end, so a quantile at a value is exactly it
    return np.where(gamma >= 0.5, above - step * (1 - gamma), below + step * gamma)


_CHUNK = 1 << 18  # quantile-function steps per pass of wasserstein_sorted: ~2 MB per array


def wasserstein_sorted(u: np.ndarray, v: np.ndarray) -> float:
    """The 1-D Wasserstein distance of two sorted samples (``scipy.stats.wasserstein_distance``).

    It is the area between the two quantile functions. Those are steps at multiples of
    ``1/n`` and ``1/m``; in units of ``1/(n*m)`` every step starts at an integer, so each
    piece's width and the two values over it are exact index arithmetic, with no binary
    search of the samples. The pieces are walked in chunks to bound memory.
    """
    n, m = len(u), len(v)
    if n == m:  # the steps coincide: the area is the mean gap between order statistics
        return float(np.mean(np.abs(u - v)))
    whole = n * m
    span = max(1, _CHUNK * whole // (n + m))
    total = 0.0
    for start in range(0, whole, span):
        stop = min(start + span, whole)
        steps = np.concatenate(
            (
                np.array([start], dtype=np.int64),
                np.arange(-(-start // m), -(-stop // m), dtype=np.int64) * m,
                np.arange(-(-start // n), -(-stop // n), dtype=np.int64) * n,
            )
        )
        steps.sort(kind="stable")  # timsort: three sorted runs merge in linear time
        widths = np.diff(steps, append=stop).astype(float)
        total += float(np.dot(widths, np.abs(u[steps // m] - v[steps // n])))
    return total / whole


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """The Jensen-Shannon distance (base 2, so within [0, 1]) of two share vectors, as
    ``scipy.spatial.distance.jensenshannon`` gives it, without importing scipy."""
    middle = (p + q) / 2
    divergence = 0.0
    for shares in (p, q):
        present = shares > 0  # 0 * log(0) is 0; the middle is positive wherever shares are
        divergence += float(np.sum(shares[present] * np.log(shares[present] / middle[present])))
    return math.sqrt(max(divergence, 0.0) / (2 * math.log(2)))


def category_bins(categories: list[str], p: np.ndarray, q: np.ndarray) -> dict[str, list[Any]]:
    """The categories with the largest shares (the rest as one), and each one's gap."""
    order = np.argsort(-(p + q), kind="stable")
    top = order[:MAX_CATEGORY_BINS]
    labels = [categories[i] for i in top]
    reference, current = p[top].tolist(), q[top].tolist()
    if len(order) > MAX_CATEGORY_BINS:
        rest = order[MAX_CATEGORY_BINS:]
        labels.append(f"{len(rest)} others")
        reference.append(float(p[rest].sum()))
        current.append(float(q[rest].sum()))
    gaps = [abs(a - b) for a, b in zip(current, reference, strict=True)]
    return {"labels": labels, "reference": reference, "current": current, "contribution": gaps}


def _normed_wasserstein(reference: np.ndarray, current: np.ndarray) -> float:
    scale = float(np.std(reference))
    if scale == 0:  # a constant reference: measure against its magnitude instead
        scale = abs(float(reference[0])) or 1.0
    return wasserstein_sorted(reference, current) / scale


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value

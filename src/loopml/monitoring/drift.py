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
"""

from __future__ import annotations

import itertools
import math
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


def column_kind(series: pd.Series) -> str:
    import pandas as pd

    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "categorical"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    return "categorical"


def feature_drift(
    column: str,
    reference: pd.Series,
    current: pd.Series,
    options: DriftOptions | None = None,
    *,
    kind: str | None = None,
) -> FeatureDrift | None:
    """The drift test of one column, or None when either side has no values."""
    options = options or DriftOptions()
    kind = kind or column_kind(reference)
    ref = reference.dropna()
    cur = current.dropna()
    if ref.empty or cur.empty:
        return None
    small = len(ref) <= options.small_sample and len(cur) <= options.small_sample
    if kind == "numeric":
        return _numeric(column, ref.to_numpy(float), cur.to_numpy(float), small, options)
    return _categorical(column, ref.astype(str), cur.astype(str), small, options)


def _numeric(
    column: str, ref: np.ndarray, cur: np.ndarray, small: bool, options: DriftOptions
) -> FeatureDrift:
    from scipy import stats

    bins = psi_bins(ref, cur)
    effects = {
        "wasserstein_normed": _normed_wasserstein(ref, cur),
        "psi": float(sum(bins["contribution"])),
    }
    if small:
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
    column: str, ref: pd.Series, cur: pd.Series, small: bool, options: DriftOptions
) -> FeatureDrift:
    from scipy import stats
    from scipy.spatial.distance import jensenshannon

    categories = sorted(set(ref.unique()) | set(cur.unique()))
    ref_counts = ref.value_counts().reindex(categories, fill_value=0).to_numpy(float)
    cur_counts = cur.value_counts().reindex(categories, fill_value=0).to_numpy(float)
    p, q = ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum()
    effects = {
        "jensen_shannon": float(jensenshannon(p, q, base=2)),
        "l_infinity": float(np.abs(p - q).max()),
    }
    bins = _category_bins(categories, p, q)
    if small:
        # Expected counts from the reference shares; a category the reference never saw
        # gets a small share, so it counts against the current sample instead of
        # dividing by zero.
        expected = np.maximum(p, _EPSILON)
        expected = expected / expected.sum() * cur_counts.sum()
        statistic, p_value = stats.chisquare(cur_counts, expected)
        threshold = options.per_feature.get(column, options.p_value)
        p_value = float(p_value)
        return FeatureDrift(
            column, "categorical", "chi_square", float(statistic), p_value, threshold,
            p_value < threshold, effects, len(ref), len(cur), bins,
        )  # fmt: skip
    threshold = options.per_feature.get(column, options.distance)
    distance = effects["jensen_shannon"]
    return FeatureDrift(
        column, "categorical", "jensen_shannon", distance, None, threshold,
        distance > threshold, effects, len(ref), len(cur), bins,
    )  # fmt: skip


MAX_CATEGORY_BINS = 20


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """Population stability index of ``current`` against ``reference``'s deciles."""
    return float(sum(psi_bins(reference, current, bins)["contribution"]))


def psi_bins(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> dict[str, list[Any]]:
    """Both samples' shares in ``reference``'s quantile bins, and each bin's PSI term."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:  # a constant reference: in or out of its one value
        same_cur = float(np.mean(current == edges[0]))
        shares_ref = np.array([1.0, 0.0])
        shares_cur = np.array([same_cur, 1 - same_cur])
        labels = [f"= {edges[0]:.4g}", f"≠ {edges[0]:.4g}"]
    else:
        inner = edges[1:-1]
        shares_ref = np.bincount(np.searchsorted(inner, reference, side="right"),
                                 minlength=len(edges) - 1) / len(reference)  # fmt: skip
        shares_cur = np.bincount(np.searchsorted(inner, current, side="right"),
                                 minlength=len(edges) - 1) / len(current)  # fmt: skip
        labels = [f"< {edges[1]:.4g}"]
        labels += [f"{low:.4g} – {high:.4g}" for low, high in itertools.pairwise(edges[1:-1])]
        labels += [f"≥ {edges[-2]:.4g}"] if len(edges) > 2 else []
    floor_ref = np.maximum(shares_ref, _EPSILON)
    floor_cur = np.maximum(shares_cur, _EPSILON)
    terms = (floor_cur - floor_ref) * np.log(floor_cur / floor_ref)
    return {
        "labels": labels[: len(terms)],
        "reference": shares_ref.tolist(),
        "current": shares_cur.tolist(),
        "contribution": terms.tolist(),
    }


def _category_bins(categories: list[str], p: np.ndarray, q: np.ndarray) -> dict[str, list[Any]]:
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
    from scipy import stats

    scale = float(np.std(reference))
    if scale == 0:  # a constant reference: measure against its magnitude instead
        scale = abs(float(np.mean(reference))) or 1.0
    return float(stats.wasserstein_distance(reference, current)) / scale


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value

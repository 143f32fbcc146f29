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

    effects = {"wasserstein_normed": _normed_wasserstein(ref, cur), "psi": psi(ref, cur)}
    if small:
        result = stats.ks_2samp(ref, cur)
        threshold = options.per_feature.get(column, options.p_value)
        statistic, p_value = float(result.statistic), float(result.pvalue)
        return FeatureDrift(
            column, "numeric", "ks", statistic, p_value, threshold, p_value < threshold,
            effects, len(ref), len(cur),
        )  # fmt: skip
    threshold = options.per_feature.get(column, options.distance)
    distance = effects["wasserstein_normed"]
    return FeatureDrift(
        column, "numeric", "wasserstein", distance, None, threshold, distance > threshold,
        effects, len(ref), len(cur),
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
            p_value < threshold, effects, len(ref), len(cur),
        )  # fmt: skip
    threshold = options.per_feature.get(column, options.distance)
    distance = effects["jensen_shannon"]
    return FeatureDrift(
        column, "categorical", "jensen_shannon", distance, None, threshold,
        distance > threshold, effects, len(ref), len(cur),
    )  # fmt: skip


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """Population stability index of ``current`` against ``reference``'s deciles."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:  # a constant reference: in or out of its one value
        same_ref = 1.0
        same_cur = float(np.mean(current == edges[0]))
        shares_ref = np.array([same_ref, 0.0])
        shares_cur = np.array([same_cur, 1 - same_cur])
    else:
        inner = edges[1:-1]
        shares_ref = np.bincount(np.searchsorted(inner, reference, side="right"),
                                 minlength=len(edges) - 1) / len(reference)  # fmt: skip
        shares_cur = np.bincount(np.searchsorted(inner, current, side="right"),
                                 minlength=len(edges) - 1) / len(current)  # fmt: skip
    shares_ref = np.maximum(shares_ref, _EPSILON)
    shares_cur = np.maximum(shares_cur, _EPSILON)
    return float(np.sum((shares_cur - shares_ref) * np.log(shares_cur / shares_ref)))


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

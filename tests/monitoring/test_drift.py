"""Drift tests chosen by kind and size, effect sizes, and the report's handling of broken
feeds: missing and retyped columns, all-null and constant columns."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial.distance import jensenshannon

from loopml.errors import InvalidInput
from loopml.monitoring import DriftOptions, feature_drift, psi, report
from loopml.monitoring.drift import (
    CategorySample,
    NumericSample,
    jensen_shannon,
    psi_bins,
    sample,
    sorted_quantiles,
    wasserstein_sorted,
)


def _frame(rows: int, seed: int, shift: float = 0.0, plans: tuple[float, ...] = (0.5, 0.3, 0.2)):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "tenure": rng.normal(24 + shift, 6, rows),
            "calls": rng.poisson(2 + shift / 6, rows).astype(float),
            "plan": rng.choice(["basic", "plus", "pro"], rows, p=list(plans)),
        }
    )


@pytest.mark.parametrize(
    ("rows", "numeric_test", "categorical_test"),
    [(500, "ks", "chi_square"), (5000, "wasserstein", "jensen_shannon")],
)
def test_the_test_follows_the_kind_and_the_sample_size(
    rows: int, numeric_test: str, categorical_test: str
) -> None:
    result = report(_frame(rows, 0), _frame(rows, 1))
    assert result.features["tenure"].test == numeric_test
    assert result.features["plan"].test == categorical_test
    assert not result.dataset_drift
    assert result.drifted == []


@pytest.mark.parametrize("rows", [500, 5000])
def test_a_shifted_population_is_flagged_with_its_effect_sizes(rows: int) -> None:
    result = report(_frame(rows, 0), _frame(rows, 1, shift=6, plans=(0.2, 0.3, 0.5)))
    assert set(result.drifted) == {"tenure", "calls", "plan"}
    assert result.dataset_drift and result.drift_share == 1.0
    tenure = result.features["tenure"]
    assert tenure.effect_sizes["wasserstein_normed"] == pytest.approx(1.0, abs=0.15)
    assert tenure.effect_sizes["psi"] > 0.2
    assert result.features["plan"].effect_sizes["l_infinity"] == pytest.approx(0.3, abs=0.05)


def test_large_undrifted_samples_are_not_all_flagged() -> None:
    # A p-value test would call tiny differences significant at this size; distances do not.
    result = report(_frame(200_000, 0), _frame(200_000, 1, shift=0.05))
    assert result.drifted == []


def test_per_feature_thresholds_override_the_default() -> None:
    reference, current = _frame(5000, 0), _frame(5000, 1, shift=0.4)
    default = report(reference, current)
    strict = report(reference, current, options=DriftOptions(per_feature={"tenure": 0.03}))
    assert not default.features["tenure"].drift_detected
    assert strict.features["tenure"].drift_detected
    assert strict.features["tenure"].threshold == 0.03


def test_broken_feeds_are_reported_not_raised() -> None:
    reference = _frame(300, 0).assign(constant=1.0, empty=np.nan, gone=2.0)
    current = _frame(300, 1)
    current["calls"] = current["calls"].astype(str) + " calls"  # retyped upstream
    current["constant"] = 1.0
    current["empty"] = np.nan
    current["new"] = 0
    result = report(reference, current)
    assert result.schema_problems == [
        "column 'calls' was numeric in the reference and is categorical now",
        "column 'gone' is missing from the current data",
        "columns not in the reference: new",
    ]
    assert "calls" not in result.features and "empty" not in result.features
    assert result.quality["empty"].all_null
    assert result.quality["constant"].constant
    assert not result.features["constant"].drift_detected
    document = json.loads(result.to_json())
    assert document["features"]["tenure"]["test"] == "ks"
    assert document["quality"]["plan"]["unseen_categories"] == 0.0


def test_quality_counts_missing_out_of_range_and_unseen_values() -> None:
    reference = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "c": ["a", "b", "a", "b"]})
    current = pd.DataFrame({"x": [2.0, 9.0, None, -1.0], "c": ["a", "z", "z", None]})
    quality = report(reference, current).quality
    assert quality["x"].missing_current == 0.25
    assert quality["x"].out_of_range == pytest.approx(2 / 3)
    assert quality["c"].unseen_categories == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"current": pd.DataFrame({"tenure": []})}, "current data holds no rows"),
        ({"options": DriftOptions(per_feature={"nope": 0.1})}, "unknown column"),
        ({"columns": ["nope"]}, "reference has no column 'nope'"),
    ],
)
def test_bad_input_names_the_problem(kwargs: dict, message: str) -> None:
    arguments = {"reference": _frame(100, 0), "current": _frame(100, 1), **kwargs}
    with pytest.raises(InvalidInput, match=message):
        report(**arguments)


@pytest.mark.parametrize("bad", [{"p_value": 0}, {"distance": -1}, {"dataset_share": 2}])
def test_bad_thresholds_are_refused(bad: dict) -> None:
    with pytest.raises(InvalidInput):
        DriftOptions(**bad)


def test_psi_is_zero_for_the_same_sample_and_grows_with_the_shift() -> None:
    rng = np.random.default_rng(0)
    sample = rng.normal(size=10_000)
    assert psi(sample, sample) == pytest.approx(0.0, abs=1e-9)
    assert psi(sample, sample + 0.5) < psi(sample, sample + 1.0)


@pytest.mark.parametrize("rows", [500, 5000])
def test_bins_explain_the_drift(rows: int) -> None:
    result = report(_frame(rows, 0), _frame(rows, 1, shift=6, plans=(0.2, 0.3, 0.5)))
    tenure = result.features["tenure"].bins
    assert len(tenure["labels"]) == len(tenure["reference"]) == 10
    assert sum(tenure["reference"]) == pytest.approx(1.0)
    assert sum(tenure["current"]) == pytest.approx(1.0)
    assert sum(tenure["contribution"]) == pytest.approx(
        result.features["tenure"].effect_sizes["psi"]
    )
    # The population moved up: the top decile of the reference holds most of it now.
    assert tenure["current"][-1] == max(tenure["current"]) > 0.3
    assert tenure["labels"][-1].startswith("≥")
    plan = result.features["plan"].bins
    assert max(plan["contribution"]) == pytest.approx(
        result.features["plan"].effect_sizes["l_infinity"]
    )


def test_a_side_without_values_has_no_test() -> None:
    assert feature_drift("x", pd.Series([1.0, 2.0]), pd.Series([np.nan, np.nan])) is None


def test_the_html_report_opens_offline_and_stays_small(tmp_path) -> None:
    reference = _frame(200_000, 0)
    current = _frame(200_000, 1, shift=6, plans=(0.2, 0.3, 0.5)).assign(plan="<b>pro</b>")
    path = report(reference, current).save_html(tmp_path / "drift.html")
    page = path.read_text(encoding="utf-8")
    assert "<script src" not in page  # plotly.js is inlined
    # A category is data: escaped for Plotly (which reads markup) inside escaped JSON.
    assert "\\u0026lt;b\\u0026gt;pro" in page and "<b>pro</b>" not in page
    assert page.count('data-chart="feature-') == 3
    assert path.stat().st_size < 5_000_000
    # The dataset card, and each of the three drifted columns in the ranking and the tests.
    assert page.count('<span class="flag bad">drift</span>') == 7
    assert page.index('id="ranking"') < page.index('id="drift"') < page.index('id="features"')


_values = st.lists(
    st.floats(-1e6, 1e6, allow_nan=False) | st.sampled_from([0.0, 1.0, 2.5]),
    min_size=1,
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(_values, _values)
def test_wasserstein_of_sorted_samples_is_scipys(u: list[float], v: list[float]) -> None:
    expected = stats.wasserstein_distance(u, v)
    assert wasserstein_sorted(np.sort(u), np.sort(v)) == pytest.approx(expected, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize(("n", "m"), [(200_000, 200_000), (250_000, 170_003), (3, 400_000)])
def test_wasserstein_across_chunks_is_scipys(n: int, m: int) -> None:
    rng = np.random.default_rng(n + m)
    u = np.round(rng.normal(0, 1, n), 2)  # rounded: many ties
    v = np.round(rng.standard_t(3, m) + 0.2, 2)
    expected = stats.wasserstein_distance(u, v)
    assert wasserstein_sorted(np.sort(u), np.sort(v)) == pytest.approx(expected, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(_values)
def test_quantiles_of_sorted_values_are_numpys(values: list[float]) -> None:
    quantiles = np.linspace(0, 1, 11)
    ordered = np.sort(values)
    np.testing.assert_allclose(
        sorted_quantiles(ordered, quantiles), np.quantile(ordered, quantiles), rtol=1e-15
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 50), min_size=2, max_size=30).flatmap(
    lambda p: st.tuples(st.just(p), st.lists(st.integers(0, 50), min_size=len(p), max_size=len(p)))
))  # fmt: skip
def test_jensen_shannon_is_scipys(counts: tuple[list[int], list[int]]) -> None:
    p, q = (np.array(side, dtype=float) for side in counts)
    if not p.sum() or not q.sum():
        return
    p, q = p / p.sum(), q / q.sum()
    assert jensen_shannon(p, q) == pytest.approx(jensenshannon(p, q, base=2), abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_psi_bins_from_sorted_values_count_each_value_in_its_decile(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = rng.poisson(3, 5000).astype(float)  # ties land on the decile edges
    current = rng.poisson(3.5, 4000).astype(float)
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, 11)))
    inner = edges[1:-1]
    bins = psi_bins(reference, current)

    def shares(values: np.ndarray) -> list[float]:
        counts = np.bincount(np.searchsorted(inner, values, side="right"), minlength=len(edges) - 1)
        return (counts / len(values)).tolist()

    assert bins["reference"] == pytest.approx(shares(reference))
    assert bins["current"] == pytest.approx(shares(current))


def test_a_sample_is_read_once_into_sorted_values_or_counts() -> None:
    numbers = sample(pd.Series([3.0, np.nan, 1.0, 2.0, None]))
    assert isinstance(numbers, NumericSample)
    assert numbers.values.tolist() == [1.0, 2.0, 3.0] and numbers.missing == 2
    nullable = sample(pd.Series([1, None, 3], dtype="Int64"))
    assert nullable.values.tolist() == [1.0, 3.0] and nullable.missing == 1
    words = ["b", "a", None, "b", "c"]
    as_objects = sample(pd.Series(words, dtype=object))
    as_category = sample(pd.Series(words, dtype="category").cat.add_categories(["unused"]))
    assert isinstance(as_objects, CategorySample)
    assert as_objects == as_category == CategorySample({"b": 2, "a": 1, "c": 1}, missing=1)
    # One category whatever the Python type: a CSV would not tell 1 from "1" either.
    assert sample(pd.Series([1, "1", 1.0, "a"], dtype=object)).counts == {"1": 3, "a": 1}


def test_psi_of_a_flag_whose_share_moved_is_not_zero() -> None:
    """The deciles of a 0/1 column collapse onto its two values; each value is a bin."""
    reference = np.r_[np.zeros(720), np.ones(280)]
    current = np.r_[np.zeros(570), np.ones(430)]
    bins = psi_bins(reference, current)
    assert bins["labels"] == ["< 1", "≥ 1"]
    assert bins["reference"] == pytest.approx([0.72, 0.28])
    assert bins["current"] == pytest.approx([0.57, 0.43])
    expected = (0.57 - 0.72) * np.log(0.57 / 0.72) + (0.43 - 0.28) * np.log(0.43 / 0.28)
    assert psi(reference, current) == pytest.approx(expected)
    assert psi(reference, reference) == 0.0

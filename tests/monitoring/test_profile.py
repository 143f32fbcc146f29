"""Column profiles: exact where they can be, within sketch error where they cannot, bounded
memory, merging, the byte encoding, the inputs they read, and drift reports from them
checked against the exact report."""

from __future__ import annotations

import itertools
import json
import struct
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopml.errors import InvalidInput
from loopml.monitoring import DriftOptions, report
from loopml.monitoring._profile_format import MAGIC
from loopml.monitoring.profile import (
    EXACT_VALUES,
    CategoricalColumn,
    NumericColumn,
    Profile,
    profile,
    profile_dask,
    report_from_profiles,
)

RANK_ERROR = 0.01  # the KLL sketch's rank error at k=800 is 0.0035 (99% confidence)


def _frame(rows: int, seed: int, shift: float = 0.0, plans: tuple[float, ...] = (0.5, 0.3, 0.2)):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "tenure": rng.normal(24 + shift, 6, rows),
            "calls": rng.poisson(2 + shift / 6, rows).astype(float),
            "plan": rng.choice(["basic", "plus", "pro"], rows, p=list(plans)),
        }
    )


def _split(frame: pd.DataFrame, parts: int) -> list[pd.DataFrame]:
    edges = np.linspace(0, len(frame), parts + 1).astype(int)
    return [frame.iloc[start:stop] for start, stop in itertools.pairwise(edges)]


def _numeric(result: Profile, name: str) -> NumericColumn:
    column = result.columns[name]
    assert isinstance(column, NumericColumn)
    return column


def _categorical(result: Profile, name: str) -> CategoricalColumn:
    column = result.columns[name]
    assert isinstance(column, CategoricalColumn)
    return column


def _assert_quantiles_close(column: NumericColumn, values: np.ndarray) -> None:
    """Each sketch quantile sits within the rank error of its ranks in the exact data (a
    value repeated in the data spans a range of ranks)."""
    ranks = np.linspace(0.01, 0.99, 25)
    ordered = np.sort(values[~np.isnan(values)])
    found = column.quantiles(ranks)
    low = np.searchsorted(ordered, found, side="left") / len(ordered)
    high = np.searchsorted(ordered, found, side="right") / len(ordered)
    assert np.all(low - RANK_ERROR < ranks) and np.all(ranks < high + RANK_ERROR)


def _assert_same_exact_parts(left: Profile, right: Profile) -> None:
    assert left.rows == right.rows
    assert list(left.columns) == list(right.columns)
    for name, column in left.columns.items():
        other = right.columns[name]
        assert (column.kind, column.count, column.nulls) == (other.kind, other.count, other.nulls)
        if isinstance(column, NumericColumn):
            assert isinstance(other, NumericColumn)
            assert np.array_equal(
                [column.minimum, column.maximum], [other.minimum, other.maximum], equal_nan=True
            )
            assert column.mean == pytest.approx(other.mean, rel=1e-9, abs=1e-12)
            assert column.std == pytest.approx(other.std, rel=1e-9, abs=1e-9, nan_ok=True)
            assert column.values == other.values
        else:
            assert isinstance(other, CategoricalColumn)
            assert (column.counts, column.other) == (other.counts, other.other)


# --- what a profile holds ------------------------------------------------------------------


def test_a_numeric_column_keeps_exact_moments_and_sketched_quantiles() -> None:
    values = np.random.default_rng(0).lognormal(0, 1, 200_000)
    values[::7] = np.nan
    column = _numeric(profile(pd.DataFrame({"x": values}), chunk_rows=30_000), "x")
    present = values[~np.isnan(values)]
    assert (column.count, column.nulls) == (len(present), int(np.isnan(values).sum()))
    assert (column.minimum, column.maximum) == (present.min(), present.max())
    assert column.mean == pytest.approx(present.mean(), rel=1e-12)
    assert column.std == pytest.approx(present.std(), rel=1e-9)  # population std, as np.std
    _assert_quantiles_close(column, values)
    assert column.quantiles([0, 1]).tolist() == [present.min(), present.max()]


@pytest.mark.parametrize(
    ("series", "counts", "nulls"),
    [
        (pd.Series(["a", "b", None, "a", np.nan]), {"a": 2, "b": 1}, 2),
        (pd.Series([True, False, True]), {"True": 2, "False": 1}, 0),
        (pd.Series(["x", "y", "x"], dtype="category"), {"x": 2, "y": 1}, 0),
        (pd.Series([1, "1", None], dtype=object), {"1": 2}, 1),  # one category as text
    ],
)
def test_categories_are_counted_exactly_with_nulls_apart(
    series: pd.Series, counts: dict[str, int], nulls: int
) -> None:
    column = _categorical(profile(pd.DataFrame({"c": series})), "c")
    assert column.counts == counts
    assert (column.nulls, column.other, column.count) == (nulls, 0, sum(counts.values()))


def test_past_the_cap_the_frequent_values_stay_exact_and_the_rest_is_other() -> None:
    rng = np.random.default_rng(1)
    rare = [f"id{i}" for i in rng.integers(0, 1_000_000, 20_000)]
    values = np.array(rare + ["common"] * 5000 + ["usual"] * 3000, dtype=object)
    rng.shuffle(values)
    frames = [pd.DataFrame({"c": chunk}) for chunk in np.array_split(values, 7)]
    column = _categorical(profile(frames, category_cap=50), "c")
    assert len(column.counts) == 50
    assert column.counts["common"] == 5000 and column.counts["usual"] == 3000
    assert sum(column.counts.values()) + column.other == column.count == len(values)


def test_memory_does_not_grow_with_the_rows() -> None:
    def sized(rows: int) -> tuple[int, int, int]:
        rng = np.random.default_rng(rows)
        frames = (
            pd.DataFrame(
                {
                    "x": rng.normal(size=100_000),
                    "c": rng.integers(0, 1_000_000, 100_000).astype(str),  # ~all distinct
                }
            )
            for _ in range(rows // 100_000)
        )
        result = profile(frames, category_cap=1000)
        retained = _numeric(result, "x").sketch.num_retained
        return len(result.to_bytes()), retained, len(_categorical(result, "c").counts)

    small, large = sized(100_000), sized(1_000_000)
    assert large[0] < small[0] * 1.1  # ten times the rows, about the same bytes
    assert large[1] < small[1] * 1.1
    assert small[2] == large[2] == 1000


def test_few_distinct_numbers_are_counted_exactly_until_there_are_too_many() -> None:
    rng = np.random.default_rng(2)
    stars = pd.DataFrame({"stars": rng.integers(1, 6, 10_000).astype(float)})
    column = _numeric(profile(stars, chunk_rows=3000), "stars")
    assert column.values == stars["stars"].value_counts().to_dict()
    many = pd.DataFrame({"stars": np.arange(EXACT_VALUES + 1, dtype=float)})
    assert _numeric(profile(many), "stars").values is None
    halves = [
        profile(many.iloc[: EXACT_VALUES // 2 + 1]),
        profile(many.iloc[EXACT_VALUES // 2 + 1 :]),
    ]
    assert _numeric(halves[0], "stars").values is not None
    assert _numeric(halves[0].merge(halves[1]), "stars").values is None


def test_few_distinct_numbers_drift_exactly() -> None:
    from scipy import stats

    rng = np.random.default_rng(4)
    reference = pd.DataFrame({"calls": rng.poisson(2, 50_000).astype(float)})
    current = pd.DataFrame({"calls": rng.poisson(2.4, 50_000).astype(float)})
    current.loc[:9, "calls"] = 99.0  # out of range
    exact, sketched = _both_reports(reference, current)
    found, expected = sketched.features["calls"], exact.features["calls"]
    assert found.statistic == pytest.approx(expected.statistic, rel=1e-9)
    assert found.bins["labels"] == expected.bins["labels"]
    for part in ("reference", "current", "contribution"):
        assert found.bins[part] == pytest.approx(expected.bins[part], rel=1e-9, abs=1e-12)
    assert found.effect_sizes["ks_statistic"] == pytest.approx(
        stats.ks_2samp(reference["calls"], current["calls"]).statistic, rel=1e-9
    )
    assert found.effect_sizes["psi"] == pytest.approx(expected.effect_sizes["psi"], rel=1e-9)
    assert sketched.quality["calls"].out_of_range == pytest.approx(
        exact.quality["calls"].out_of_range
    )
    assert sketched.quality["calls"].out_of_range >= 10 / 50_000


def test_a_column_first_seen_empty_takes_the_kind_of_its_values() -> None:
    result = Profile()
    result.update(pd.DataFrame({"x": [None, None]}, dtype=object))
    assert result.columns["x"].kind == "categorical"
    result.update(pd.DataFrame({"x": [1.0, 2.0, 3.0]}))
    column = _numeric(result, "x")
    assert (column.count, column.nulls, result.rows) == (3, 2, 5)


def test_a_chunk_that_lacks_a_column_counts_as_its_nulls() -> None:
    result = Profile().update(pd.DataFrame({"x": [1.0, 2.0]}))
    result.update(pd.DataFrame({"y": ["a", "b", "c"]}))
    assert (result.columns["x"].count, result.columns["x"].nulls) == (2, 3)
    assert (result.columns["y"].count, result.columns["y"].nulls) == (3, 2)


def test_a_column_that_changes_kind_midstream_is_refused_by_name_and_not_counted() -> None:
    result = Profile().update(pd.DataFrame({"plan": ["basic", "pro"], "age": [30.0, 41.0]}))
    before = result.to_bytes()
    with pytest.raises(InvalidInput, match="column 'age' was numeric .* is categorical"):
        result.update(pd.DataFrame({"plan": ["plus"], "age": ["thirty"]}))
    assert result.to_bytes() == before
    result.update(pd.DataFrame({"plan": ["plus"], "age": [None]}, dtype=object))  # nulls fit
    assert (result.rows, result.columns["age"].nulls, result.columns["age"].kind) == (
        3,
        1,
        "numeric",
    )


# --- merging -------------------------------------------------------------------------------


def test_a_merge_of_four_partitions_matches_one_profile_of_the_whole() -> None:
    whole = pd.concat([_frame(50_000, 0), _frame(50_000, 1, shift=3)], ignore_index=True)
    whole.loc[::11, "tenure"] = np.nan
    parts = [profile(part) for part in _split(whole, 4)]
    merged = parts[0].merge(parts[1]).merge(parts[2].merge(parts[3]))
    single = profile(whole)
    _assert_same_exact_parts(merged, single)
    for name in ("tenure", "calls"):
        _assert_quantiles_close(_numeric(merged, name), whole[name].to_numpy())
    current = profile(_frame(100_000, 2, shift=3))
    by_parts = report_from_profiles(merged, current)
    by_whole = report_from_profiles(single, current)
    assert by_parts.drifted == by_whole.drifted
    for name, result in by_whole.features.items():
        assert by_parts.features[name].statistic == pytest.approx(result.statistic, abs=0.01)


def test_merging_changes_neither_side_and_is_associative() -> None:
    a, b, c = (profile(_frame(20_000, seed)) for seed in range(3))
    before = a.to_bytes()
    _assert_same_exact_parts(a.merge(b).merge(c), a.merge(b.merge(c)))
    assert a.to_bytes() == before
    assert a.merge(Profile()).to_bytes() == a.merge(Profile()).to_bytes()
    _assert_same_exact_parts(a.merge(Profile()), a)


def test_a_merge_pads_a_column_one_side_lacks_with_nulls() -> None:
    merged = profile(pd.DataFrame({"x": [1.0, 2.0]})).merge(profile(pd.DataFrame({"y": ["a"]})))
    assert (merged.rows, merged.columns["x"].nulls, merged.columns["y"].nulls) == (3, 1, 2)


def test_merging_a_column_that_changed_kind_raises_naming_it() -> None:
    numbers = profile(pd.DataFrame({"zip": [10115, 20095]}))
    text = profile(pd.DataFrame({"zip": ["10115", "20095"]}))
    with pytest.raises(InvalidInput, match="column 'zip' is numeric in one profile"):
        numbers.merge(text)
    only_nulls = profile(pd.DataFrame({"zip": [None]}, dtype=object))
    assert numbers.merge(only_nulls).columns["zip"].kind == "numeric"


# --- the byte encoding -------------------------------------------------------------------


def test_bytes_round_trip_to_the_same_profile_and_report() -> None:
    frame = _frame(30_000, 0)
    frame.loc[::5, "plan"] = None
    original = profile(frame)
    raw = original.to_bytes()
    copy = Profile.from_bytes(raw)
    _assert_same_exact_parts(copy, original)
    assert copy.to_bytes() == raw
    ranks = np.linspace(0, 1, 51)
    assert np.array_equal(
        _numeric(copy, "calls").quantiles(ranks), _numeric(original, "calls").quantiles(ranks)
    )
    current = profile(_frame(30_000, 1, shift=2))
    assert (
        report_from_profiles(copy, current).to_dict()
        == report_from_profiles(original, current).to_dict()
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    numbers=st.lists(st.one_of(st.none(), st.floats(-1e9, 1e9)), min_size=1, max_size=60),
    words=st.lists(st.one_of(st.none(), st.text(max_size=4)), min_size=1, max_size=60),
    split=st.integers(0, 60),
)
def test_any_split_of_any_data_merges_and_encodes_to_the_same_exact_parts(
    numbers: list[float | None], words: list[str | None], split: int
) -> None:
    rows = min(len(numbers), len(words))
    frame = pd.DataFrame(
        {"x": pd.Series(numbers[:rows], dtype=float), "w": pd.Series(words[:rows], dtype=object)}
    )
    whole = profile(frame)
    halves = profile(frame.iloc[:split]).merge(profile(frame.iloc[split:]))
    _assert_same_exact_parts(Profile.from_bytes(halves.to_bytes()), whole)


def _header(raw: bytes) -> dict:
    (size,) = struct.unpack_from("<I", raw, len(MAGIC))
    return json.loads(raw[len(MAGIC) + 4 : len(MAGIC) + 4 + size])


def _with_header(raw: bytes, header: dict) -> bytes:
    (size,) = struct.unpack_from("<I", raw, len(MAGIC))
    head = json.dumps(header).encode()
    return MAGIC + struct.pack("<I", len(head)) + head + raw[len(MAGIC) + 4 + size :]


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda raw: b"PK\x03\x04 a zip file", "not a loopml profile"),
        (lambda raw: raw[:10], "not a loopml profile|corrupt"),
        (lambda raw: raw[:-40], "corrupt"),
        (lambda raw: MAGIC + raw[len(MAGIC) :].replace(b"{", b"[", 1), "corrupt"),
        (lambda raw: _with_header(raw, {**_header(raw), "format": 2}), "format 2; this loopml"),
        (lambda raw: _with_header(raw, {**_header(raw), "rows": 7}), "does not add up"),
        (lambda raw: "a string", "takes bytes, not a str"),
    ],
)
def test_garbage_or_a_newer_format_is_refused(
    spoil: Callable[[bytes], object], message: str
) -> None:
    raw = profile(_frame(2000, 0)).to_bytes()
    with pytest.raises(InvalidInput, match=message):
        Profile.from_bytes(spoil(raw))  # type: ignore[arg-type]


# --- inputs --------------------------------------------------------------------------------


def test_every_kind_of_input_gives_the_same_profile(tmp_path) -> None:
    frame = _frame(10_000, 0)
    frame.loc[::3, "plan"] = None
    expected = profile(frame)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, tmp_path / "data.parquet", row_group_size=3000)
    (tmp_path / "parts").mkdir()
    for number, part in enumerate(_split(frame, 3)):
        part.to_parquet(tmp_path / "parts" / f"{number}.parquet", index=False)
    inputs = {
        "chunked frame": profile(frame, chunk_rows=999),
        "frames": profile(iter(_split(frame, 5))),
        "table": profile(table, chunk_rows=2500),
        "record batches": profile(
            pa.RecordBatchReader.from_batches(table.schema, table.to_batches(1000))
        ),
        "parquet file": profile(tmp_path / "data.parquet", chunk_rows=4000),
        "parquet directory": profile(str(tmp_path / "parts")),
    }
    for result in inputs.values():
        _assert_same_exact_parts(result, expected)


def test_columns_picks_columns_and_a_missing_one_is_reported_later() -> None:
    picked = profile(_frame(1000, 0), columns=["plan", "absent"])
    assert list(picked.columns) == ["plan"]
    result = report_from_profiles(profile(_frame(1000, 0)), picked)
    assert "column 'tenure' is missing from the current data" in result.schema_problems


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (42, "cannot read a int"),
        ({"x": [1, 2]}, "cannot read a dict"),
        (b"raw", "cannot read a bytes"),
        ([pd.DataFrame({"x": [1]}), [1, 2]], "iterable holding a list"),
        ("/no/such/file.parquet", "no Parquet file or directory at '/no/such/file.parquet'"),
    ],
)
def test_what_profile_cannot_read_is_refused_with_what_to_pass(data: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as raised:
        profile(data)
    assert "DataFrame" in (raised.value.hint or "")


def test_a_file_that_is_not_parquet_is_refused(tmp_path) -> None:
    (tmp_path / "notes.parquet").write_text("hello")
    with pytest.raises(InvalidInput, match="not a readable Parquet dataset"):
        profile(tmp_path / "notes.parquet")


def test_update_takes_a_frame_and_merge_a_profile() -> None:
    with pytest.raises(InvalidInput, match="takes a pandas DataFrame, not a list"):
        Profile().update([1, 2])  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="merges with a Profile, not a DataFrame"):
        Profile().merge(pd.DataFrame())  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="k=2"):
        Profile(k=2)


def test_profile_dask_equals_the_profile_on_one_machine() -> None:
    import dask
    import dask.dataframe as dd

    frame = _frame(40_000, 0)
    frame.loc[::9, "calls"] = np.nan
    with dask.config.set(scheduler="synchronous"):
        distributed = profile_dask(dd.from_pandas(frame, npartitions=4))
        picked = profile_dask(dd.from_pandas(frame, npartitions=2), columns=["plan"])
    _assert_same_exact_parts(distributed, profile(frame))
    _assert_quantiles_close(_numeric(distributed, "tenure"), frame["tenure"].to_numpy())
    assert list(picked.columns) == ["plan"]
    with pytest.raises(InvalidInput, match="use profile_dask"):
        profile(dd.from_pandas(frame, npartitions=2))
    with pytest.raises(InvalidInput, match="takes a dask DataFrame, not a DataFrame"):
        profile_dask(frame)


# --- drift from profiles, against the exact report ----------------------------------------


_DISTRIBUTIONS: dict[str, Callable[[np.random.Generator, float], np.ndarray]] = {
    "normal": lambda rng, shift: rng.normal(shift, 1, 100_000),
    "exponential": lambda rng, shift: rng.exponential(1 + shift, 100_000),
    "poisson": lambda rng, shift: rng.poisson(2 + shift, 100_000).astype(float),
    "uniform": lambda rng, shift: rng.uniform(shift, 1 + shift, 100_000),
    "bimodal": lambda rng, shift: np.where(
        rng.random(100_000) < 0.3, rng.normal(-2, 0.5, 100_000), rng.normal(1 + shift, 1, 100_000)
    ),
    "lognormal": lambda rng, shift: rng.lognormal(shift, 0.5, 100_000),
}


def _both_reports(reference: pd.DataFrame, current: pd.DataFrame):
    return report(reference, current), report_from_profiles(profile(reference), profile(current))


@pytest.mark.parametrize("shift", [0.0, 0.1, 0.5])
@pytest.mark.parametrize("distribution", list(_DISTRIBUTIONS))
def test_the_sketched_wasserstein_distance_is_within_a_hundredth_of_the_exact(
    distribution: str, shift: float
) -> None:
    rng = np.random.default_rng(7)
    draw = _DISTRIBUTIONS[distribution]
    exact, sketched = _both_reports(
        pd.DataFrame({"x": draw(rng, 0.0)}), pd.DataFrame({"x": draw(rng, shift)})
    )
    expected = exact.features["x"].effect_sizes["wasserstein_normed"]
    found = sketched.features["x"].effect_sizes["wasserstein_normed"]
    assert abs(found - expected) <= max(0.01, 0.03 * expected)
    # A bin the current data leaves (nearly) empty makes the PSI hinge on its 1e-4 floor,
    # where a rank error of 0.001 moves it by a tenth or more: only fuller bins compare.
    if min(exact.features["x"].bins["current"]) > 0.01:
        assert sketched.features["x"].effect_sizes["psi"] == pytest.approx(
            exact.features["x"].effect_sizes["psi"], rel=0.05, abs=0.004
        )


@pytest.mark.parametrize(("rows", "shift"), [(100_000, 0.0), (100_000, 0.5), (1_000_000, 0.1)])
def test_heavy_tails_cost_accuracy_but_not_the_verdict(rows: int, shift: float) -> None:
    # A lognormal(σ=1)'s top ranks hold few retained values, each standing for many rows,
    # so without the exact means' correction a million rows' 0.077 comes out up to 0.087.
    rng = np.random.default_rng(3)
    exact, sketched = _both_reports(
        pd.DataFrame({"x": rng.lognormal(0, 1, rows)}),
        pd.DataFrame({"x": rng.lognormal(shift, 1, rows)}),
    )
    expected = exact.features["x"].statistic
    assert abs(sketched.features["x"].statistic - expected) <= max(0.03, 0.1 * expected)
    assert sketched.drifted == exact.drifted


@pytest.mark.parametrize(
    ("shift", "plans", "drifted"),
    [
        (0.0, (0.5, 0.3, 0.2), []),
        (3.0, (0.5, 0.3, 0.2), ["tenure", "calls"]),  # +0.5 std
        (0.0, (0.2, 0.3, 0.5), ["plan"]),
    ],
)
def test_verdicts_agree_with_the_exact_report(
    shift: float, plans: tuple[float, ...], drifted: list[str]
) -> None:
    exact, sketched = _both_reports(_frame(100_000, 0), _frame(100_000, 1, shift, plans))
    assert sketched.drifted == exact.drifted == drifted
    assert sketched.dataset_drift == exact.dataset_drift
    assert (sketched.mode, sketched.to_dict()["mode"], exact.mode) == ("sketch", "sketch", "exact")
    for name, result in exact.features.items():
        found = sketched.features[name]
        assert (found.test, found.kind, found.threshold) == (
            result.test,
            result.kind,
            result.threshold,
        )
        assert found.p_value is None
        assert (found.reference_rows, found.current_rows) == (
            result.reference_rows,
            result.current_rows,
        )
        assert found.bins["labels"] == result.bins["labels"] or name != "plan"
        assert len(found.bins["labels"]) == len(result.bins["labels"])
        assert np.allclose(found.bins["current"], result.bins["current"], atol=0.01)
    assert sketched.features["plan"].effect_sizes == pytest.approx(
        exact.features["plan"].effect_sizes
    )
    tenure = sketched.features["tenure"].effect_sizes
    assert set(tenure) == {"wasserstein_normed", "psi", "ks_statistic"}


def test_small_samples_still_get_the_large_sample_test() -> None:
    result = report_from_profiles(profile(_frame(300, 0)), profile(_frame(300, 1, shift=6)))
    assert {result.features[name].test for name in ("tenure", "calls")} == {"wasserstein"}
    assert result.features["plan"].test == "jensen_shannon"
    assert result.features["tenure"].drift_detected


def test_ks_statistic_follows_the_exact_one() -> None:
    from scipy import stats

    reference, current = _frame(50_000, 0), _frame(50_000, 1, shift=2)
    found = report_from_profiles(profile(reference), profile(current))
    expected = stats.ks_2samp(reference["tenure"], current["tenure"]).statistic
    assert found.features["tenure"].effect_sizes["ks_statistic"] == pytest.approx(
        expected, abs=0.01
    )


def test_report_takes_profiles_in_place_of_frames() -> None:
    reference, current = _frame(5000, 0), _frame(5000, 1, shift=6)
    result = report(profile(reference), current, importance={"tenure": 3, "plan": 1})
    assert set(result.drifted) == {"tenure", "calls"}
    assert result.features["tenure"].test == "wasserstein"
    assert result.ranking[0].feature == "tenure"
    assert result.mode == "sketch"


# --- data quality and broken feeds ---------------------------------------------------------


def test_quality_matches_the_exact_report() -> None:
    reference, current = _frame(50_000, 0), _frame(50_000, 1, shift=12)
    current.loc[::4, "tenure"] = np.nan
    current.loc[::10, "plan"] = "enterprise"
    exact, sketched = _both_reports(reference, current)
    for name, expected in exact.quality.items():
        found = sketched.quality[name]
        assert (found.missing_reference, found.missing_current) == pytest.approx(
            (expected.missing_reference, expected.missing_current)
        )
        assert (found.constant, found.all_null, found.constant_current) == (
            expected.constant, expected.all_null, expected.constant_current,
        )  # fmt: skip
    assert sketched.quality["tenure"].out_of_range == pytest.approx(
        exact.quality["tenure"].out_of_range, abs=RANK_ERROR
    )
    assert sketched.quality["plan"].unseen_categories == pytest.approx(0.1)


def test_broken_feeds_are_reported_not_raised() -> None:
    reference = pd.DataFrame({"age": [30.0, 41.0, 52.0], "flag": ["on"] * 3, "gone": [1, 2, 3]})
    current = pd.DataFrame(
        {"age": ["thirty", "x", "y"], "flag": ["on"] * 3, "new": [1, 2, 3], "gone": [None] * 3}
    )
    exact = report(reference, current)
    result = report_from_profiles(profile(reference), profile(current))
    assert result.schema_problems == exact.schema_problems
    assert (
        "column 'age' was numeric in the reference and is categorical now" in result.schema_problems
    )
    assert "columns not in the reference: new" in result.schema_problems
    assert result.quality["flag"].constant and result.quality["flag"].constant_current
    assert result.quality["gone"].all_null and result.quality["gone"].missing_current == 1.0
    assert "gone" not in result.features


def test_an_empty_profile_cannot_be_reported_on() -> None:
    reference = profile(_frame(100, 0))
    with pytest.raises(InvalidInput, match="the current profile holds no rows"):
        report_from_profiles(reference, Profile())
    with pytest.raises(InvalidInput, match="the current profile holds no rows"):
        report_from_profiles(reference, profile(_frame(0, 0)))
    with pytest.raises(InvalidInput, match="the reference profile holds no rows"):
        report_from_profiles(Profile(), reference)
    with pytest.raises(InvalidInput, match="must be a Profile, not a DataFrame"):
        report_from_profiles(reference, _frame(10, 0))  # type: ignore[arg-type]


def test_thresholds_and_columns_the_reference_lacks_are_refused() -> None:
    reference, current = profile(_frame(100, 0)), profile(_frame(100, 1))
    with pytest.raises(InvalidInput, match="thresholds given for unknown column"):
        report_from_profiles(reference, current, options=DriftOptions(per_feature={"zz": 0.2}))
    with pytest.raises(InvalidInput, match="the reference profile has no column 'zz'"):
        report_from_profiles(reference, current, columns=["zz"])
    strict = report_from_profiles(
        reference, current, columns=["tenure"], options=DriftOptions(per_feature={"tenure": 0.01})
    )
    assert list(strict.features) == ["tenure"] and strict.features["tenure"].threshold == 0.01


def test_a_constant_reference_is_binned_in_or_out_of_its_value() -> None:
    reference = pd.DataFrame({"x": np.full(5000, 3.0)})
    current = pd.DataFrame({"x": np.r_[np.full(4000, 3.0), np.full(1000, 4.0)]})
    exact, sketched = _both_reports(reference, current)
    found, expected = sketched.features["x"], exact.features["x"]
    assert found.bins["labels"] == expected.bins["labels"] == ["= 3", "≠ 3"]
    assert found.bins["current"] == pytest.approx(expected.bins["current"])
    assert found.statistic == pytest.approx(expected.statistic)
    assert sketched.quality["x"].constant and sketched.quality["x"].out_of_range == pytest.approx(
        0.2
    )


def test_a_sketch_report_renders_and_serialises() -> None:
    result = report_from_profiles(profile(_frame(2000, 0)), profile(_frame(2000, 1, shift=6)))
    document = json.loads(result.to_json())
    assert document["features"]["tenure"]["test"] == "wasserstein"
    assert "tenure" in result.to_html()


def test_a_flag_gets_the_same_psi_from_profiles_as_from_the_frames() -> None:
    """Exact counts per value: a 0/1 column is binned per value on both paths."""
    from loopml.monitoring.profile import profile, report_from_profiles

    reference = pd.DataFrame({"flag": np.r_[np.zeros(720), np.ones(280)]})
    current = pd.DataFrame({"flag": np.r_[np.zeros(570), np.ones(430)]})
    sketched = report_from_profiles(profile(reference), profile(current)).features["flag"]
    exact = report(reference, current).features["flag"]
    assert sketched.bins["labels"] == exact.bins["labels"] == ["< 1", "≥ 1"]
    assert sketched.effect_sizes["psi"] == pytest.approx(exact.effect_sizes["psi"])
    assert exact.effect_sizes["psi"] > 0.09

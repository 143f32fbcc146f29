"""The report on realistic frames: broken feeds and bad input, false alarms and missed
shifts at 100,000 rows, the ranking by model importance, the size of the page, and the
importance read from fitted models."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from loopml.errors import InvalidInput
from loopml.monitoring import DriftOptions, feature_drift, report
from loopml.monitoring.drift_report import importance_weights
from loopml.monitoring.importance import PERMUTATION_ROWS, model_importance

_NUMERIC = {
    "normal": lambda rng, n: rng.normal(10, 2, n),
    "exponential": lambda rng, n: rng.exponential(3, n),
    "lognormal": lambda rng, n: rng.lognormal(0, 0.8, n),
    "uniform": lambda rng, n: rng.uniform(-5, 5, n),
    "poisson": lambda rng, n: rng.poisson(4, n).astype(float),
}
_STD = {"normal": 2, "exponential": 3, "lognormal": np.sqrt((np.e**0.64 - 1) * np.e**0.64)}
_STD |= {"uniform": 10 / np.sqrt(12), "poisson": 2}


def _levels(count: int) -> list[str]:
    return [f"level-{index}" for index in range(count)]


def _frame(rows: int, seed: int, *, numeric: int = 15, categorical: int = 5, shifted=()):
    """``numeric`` columns of five distributions, ``categorical`` columns of 5 to 29
    levels (object strings and category dtype in turn); ``shifted`` columns move."""
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {}
    kinds = list(_NUMERIC)
    for index in range(numeric):
        kind = kinds[index % len(kinds)]
        name = f"{kind}_{index}"
        values = _NUMERIC[kind](rng, rows)
        data[name] = values + 0.5 * _STD[kind] if name in shifted else values
    for index in range(categorical):
        name = f"category_{index}"
        levels = _levels(5 + 6 * index)
        shares = np.ones(len(levels))
        if name in shifted:  # the first third of the levels twice as common
            shares[: max(1, len(levels) // 3)] = 3
        values = np.array(levels, dtype=object)[
            rng.choice(len(levels), rows, p=shares / shares.sum())
        ]
        data[name] = pd.Series(values, dtype=object if index % 2 else "category")
    return pd.DataFrame(data)


# -- broken feeds and bad input


def test_a_column_the_current_data_lacks_is_a_schema_problem_and_the_rest_is_tested() -> None:
    reference = _frame(2000, 0, numeric=3, categorical=2)
    current = _frame(2000, 1, numeric=3, categorical=2).drop(columns=["normal_0", "category_1"])
    result = report(reference, current)
    assert result.schema_problems == [
        "column 'normal_0' is missing from the current data",
        "column 'category_1' is missing from the current data",
    ]
    assert set(result.features) == {"exponential_1", "lognormal_2", "category_0"}
    assert set(result.quality) == set(result.features)
    assert {entry.feature for entry in result.ranking} == set(result.features)


@pytest.mark.parametrize("dtype", [object, "str"])
def test_numbers_that_became_text_are_a_schema_problem(dtype: object) -> None:
    reference = _frame(500, 0, numeric=2, categorical=1)
    current = _frame(500, 1, numeric=2, categorical=1)
    current["normal_0"] = pd.Series([f"{value:.2f}" for value in current["normal_0"]], dtype=dtype)
    result = report(reference, current)
    assert result.schema_problems == [
        "column 'normal_0' was numeric in the reference and is categorical now"
    ]
    assert "normal_0" not in result.features and "normal_0" not in result.quality
    assert set(result.features) == {"exponential_1", "category_0"}


_NULLS = {
    "numbers": lambda rows: pd.Series(np.full(rows, np.nan)),
    "objects": lambda rows: pd.Series([None] * rows, dtype=object),
    "categories": lambda rows: pd.Series([None] * rows, dtype="category"),
    "nullable integers": lambda rows: pd.Series([None] * rows, dtype="Int64"),
}


@pytest.mark.parametrize("nulls", list(_NULLS))
@pytest.mark.parametrize("side", ["reference", "current", "both"])
@pytest.mark.parametrize("rows", [300, 3000])
def test_an_all_null_column_is_flagged_and_not_tested(nulls: str, side: str, rows: int) -> None:
    reference = _frame(rows, 0, numeric=2, categorical=1)
    current = _frame(rows, 1, numeric=2, categorical=1)
    for name, frame in (("reference", reference), ("current", current)):
        if side in (name, "both"):
            frame["normal_0"] = _NULLS[nulls](rows)
            frame["category_0"] = _NULLS[nulls](rows)
    result = report(reference, current)
    for name in ("normal_0", "category_0"):
        assert result.quality[name].all_null
        assert name not in result.features
        missing = (result.quality[name].missing_reference, result.quality[name].missing_current)
        assert missing == {"reference": (1, 0), "current": (0, 1), "both": (1, 1)}[side]
    assert "exponential_1" in result.features
    json.loads(result.to_json())  # and the page renders
    assert 'id="quality"' in result.to_html()


@pytest.mark.parametrize("rows", [300, 3000])  # the small-sample tests and the large
@pytest.mark.parametrize(
    ("reference_value", "current_value", "drift"),
    [
        (7.0, None, True),  # the reference was constant; now the values vary
        (None, 7.0, True),  # a stuck feed: the current data is constant
        (7.0, 7.0, False),  # constant on both sides, at the same value
        (7.0, 9.0, True),  # constant on both sides, at different values
    ],
)
def test_constant_columns_are_flagged_and_tested(
    rows: int, reference_value: float | None, current_value: float | None, drift: bool
) -> None:
    rng = np.random.default_rng(rows)

    def column(value: float | None, seed: int) -> pd.DataFrame:
        numbers = np.full(rows, value) if value is not None else rng.normal(7, 1, rows)
        text = (
            np.full(rows, f"v{value:g}")
            if value is not None
            else rng.choice(["v7", "v8", "v9"], rows)
        )
        return pd.DataFrame({"number": numbers, "text": pd.Series(text, dtype=object)})

    result = report(column(reference_value, 0), column(current_value, 1))
    for name in ("number", "text"):
        quality = result.quality[name]
        assert quality.constant == (reference_value is not None)
        assert quality.constant_current == (current_value is not None)
        assert not quality.all_null
        assert result.features[name].drift_detected == drift
        assert all(np.isfinite(list(result.features[name].effect_sizes.values())))
    assert result.quality["number"].out_of_range == pytest.approx(
        0.0 if not drift or reference_value is None else 1.0, abs=0.01
    )
    json.loads(result.to_json())
    result.to_html()


def test_a_category_column_holds_only_the_values_it_uses() -> None:
    reference = pd.DataFrame({"c": pd.Categorical(["a", "b"] * 200, categories=["a", "b", "z"])})
    current = pd.DataFrame({"c": pd.Categorical(["a", "b"] * 200, categories=["a", "b"])})
    result = report(reference, current)
    assert result.features["c"].bins["labels"] == ["a", "b"]
    assert not result.features["c"].drift_detected


@pytest.mark.parametrize(
    ("current", "message"),
    [
        (pd.DataFrame(), "the current data holds no rows"),
        (pd.DataFrame({"normal_0": pd.Series([], dtype=float)}), "the current data holds no rows"),
    ],
)
def test_an_empty_current_window_is_refused_with_a_clear_error(
    current: pd.DataFrame, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message) as raised:
        report(_frame(100, 0), current)
    assert raised.value.hint and "no predictions" in raised.value.hint


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"options": DriftOptions(per_feature={"tenure": 0.2})}, "unknown column.*: tenure"),
        (
            {"options": DriftOptions(per_feature={"normal_0": 0.2}), "columns": ["category_0"]},
            "not in the report: normal_0",
        ),
        ({"importance": {"normal_0": 1.0, "tenure": 2.0}}, "importance .*unknown.*: tenure"),
        ({"importance": {"normal_0": -1.0}}, "importance of 'normal_0' must be a non-negative"),
        ({"importance": {"normal_0": float("nan")}}, "importance of 'normal_0'"),
        ({"importance": [0.5, 0.5]}, "importance must map column names to numbers"),
    ],
)
def test_thresholds_and_importances_for_unknown_columns_name_them(
    kwargs: dict, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        report(_frame(100, 0), _frame(100, 1), **kwargs)


def test_a_current_window_without_the_columns_is_all_schema_problems() -> None:
    result = report(_frame(100, 0, numeric=2, categorical=0), pd.DataFrame(index=range(50)))
    assert result.schema_problems == [
        "column 'normal_0' is missing from the current data",
        "column 'exponential_1' is missing from the current data",
    ]
    assert result.features == {} and not result.dataset_drift and result.ranking == []


def test_duplicate_column_names_are_refused() -> None:
    current = pd.concat([_frame(100, 1, numeric=1, categorical=0)] * 2, axis=1)
    with pytest.raises(
        InvalidInput, match="current data has more than one column named 'normal_0'"
    ):
        report(_frame(100, 0, numeric=1, categorical=0), current)


def test_integer_column_names_are_compared() -> None:
    reference = pd.DataFrame({0: np.arange(500.0), 1: ["a", "b"] * 250})
    current = pd.DataFrame({0: np.arange(500.0) + 400, 1: ["a", "b"] * 250})
    result = report(reference, current)
    assert result.drifted == ["0"]


# -- false alarms and missed shifts


def test_undrifted_data_raises_few_false_alarms() -> None:
    result = report(_frame(100_000, 0), _frame(100_000, 1))
    assert len(result.features) == 20
    assert len(result.drifted) <= 0.05 * 20
    assert not result.dataset_drift


def test_every_shifted_feature_is_flagged() -> None:
    shifted = {"normal_0", "exponential_1", "lognormal_7", "poisson_14", "category_0"}
    shifted |= {"category_3", "category_4"}
    result = report(_frame(100_000, 0), _frame(100_000, 1, shifted=shifted))
    assert set(result.drifted) == shifted
    # The ranking puts them first, and a shift of half a standard deviation reads as one.
    assert {entry.feature for entry in result.ranking[: len(shifted)]} == shifted
    for name in shifted - {"category_0", "category_3", "category_4"}:
        assert result.features[name].effect_sizes["wasserstein_normed"] == pytest.approx(
            0.5, abs=0.05
        )


def test_a_large_report_matches_each_columns_own_test() -> None:
    # The report reads each column once for its test and its quality: same answers.
    reference, current = _frame(250_000, 0), _frame(250_000, 1, shifted={"normal_5"})
    result = report(reference, current)
    for name in ("normal_5", "uniform_3", "category_1", "category_2"):
        alone = feature_drift(name, reference[name], current[name])
        assert result.features[name] == alone


def test_the_page_of_a_wide_half_million_row_report_stays_small(tmp_path) -> None:
    reference = _frame(500_000, 0, numeric=25, categorical=5)
    current = _frame(500_000, 1, numeric=25, categorical=5, shifted={"normal_0", "category_2"})
    current["category_4"] = current["category_4"].astype(str) + "-" + str(7)  # all unseen
    result = report(reference, current)
    assert len(result.features) == 30
    assert set(result.drifted) == {"normal_0", "category_2", "category_4"}
    assert result.quality["category_4"].unseen_categories == 1.0
    page = result.save_html(tmp_path / "report.html")
    assert page.stat().st_size < 5_000_000
    text = page.read_text(encoding="utf-8")
    assert text.count('data-chart="feature-') == 30 and 'data-chart="ranking"' in text


# -- the ranking


def _two_drifts(rows: int = 5000) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(3)
    reference = pd.DataFrame(
        {name: rng.normal(0, 1, rows) for name in ("strong", "weak", "calm", "quiet")}
    )
    current = pd.DataFrame(
        {
            "strong": rng.normal(1.0, 1, rows),  # drifted far
            "weak": rng.normal(0.2, 1, rows),  # drifted a little
            "calm": rng.normal(0, 1, rows),
            "quiet": rng.normal(0, 1, rows),
        }
    )
    return reference, current


def test_without_importance_the_ranking_follows_the_drift() -> None:
    result = report(*_two_drifts())
    ranking = result.ranking
    assert [entry.feature for entry in ranking[:2]] == ["strong", "weak"]
    for entry in ranking:
        assert entry.importance == pytest.approx(0.25)
        assert entry.score == pytest.approx(entry.strength * 0.25)
        assert entry.drift_detected == (entry.strength > 1)
        assert entry.statistic == result.features[entry.feature].statistic


def test_importance_puts_the_drift_that_matters_to_the_model_first() -> None:
    importance = {"strong": 0.01, "weak": 0.9, "calm": 0.09, "quiet": 0.0}
    result = report(*_two_drifts(), importance=importance)
    assert [entry.feature for entry in result.ranking][:2] == ["weak", "strong"]
    quiet = next(entry for entry in result.ranking if entry.feature == "quiet")
    assert quiet.score == 0.0 and quiet == result.ranking[-1]
    assert sum(entry.importance for entry in result.ranking) == pytest.approx(1.0)
    document = json.loads(result.to_json())
    assert [entry["feature"] for entry in document["ranking"]][:2] == ["weak", "strong"]
    assert set(document["ranking"][0]) >= {
        "feature", "score", "importance", "drift_detected", "test", "statistic", "top_bins",
    }  # fmt: skip
    assert document["importance"] == importance


def test_the_ranking_explains_a_drift_by_the_bins_that_moved_most() -> None:
    reference, current = _two_drifts()
    top = report(reference, current).ranking[0].top_bins
    # The population moved up: the reference's top decile gained most.
    assert top[0]["label"].startswith("≥")
    assert top[0]["current"] > top[0]["reference"]
    contributions = [item["contribution"] for item in top]
    assert contributions == sorted(contributions, reverse=True) and len(top) == 3


@pytest.mark.parametrize(
    ("importance", "expected"),
    [
        ({}, {"a": 0.25, "b": 0.25, "c": 0.25, "d": 0.25}),
        ({"a": 3, "b": 1, "c": 0, "d": 0}, {"a": 0.75, "b": 0.25, "c": 0, "d": 0}),
        # c and d keep an equal share each; a and b split the other half 3:1
        ({"a": 3, "b": 1}, {"a": 0.375, "b": 0.125, "c": 0.25, "d": 0.25}),
        ({"a": 0, "b": 0}, {"a": 0.25, "b": 0.25, "c": 0.25, "d": 0.25}),
    ],
)
def test_importance_weights_sum_to_one(importance: dict, expected: dict) -> None:
    weights = importance_weights(["a", "b", "c", "d"], importance)
    assert weights == pytest.approx(expected)
    assert sum(weights.values()) == pytest.approx(1.0)


def test_the_page_shows_the_ranking_first() -> None:
    page = report(*_two_drifts(), importance={"weak": 1.0, "strong": 0.0}).to_html()
    assert page.index('id="ranking"') < page.index('id="drift"')
    ranking = page[page.index('id="ranking"') : page.index('id="drift"')]
    assert ranking.index(">weak</a>") < ranking.index(">strong</a>")
    assert "≥" in ranking  # the bins that moved most


# -- importance from fitted models


@pytest.fixture(scope="module")
def churn() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    rows = 3000
    frame = pd.DataFrame(
        {
            "tenure": rng.normal(24, 6, rows),
            "noise": rng.normal(0, 1, rows),
            "plan": rng.choice(["basic", "plus", "pro"], rows),
            "plan_region": rng.choice(["north", "south"], rows),  # a column named like a dummy
        }
    )
    target = ((frame["plan"] == "pro") | (frame["tenure"] > 30)).to_numpy(int)
    return frame, target


def _encoded(model: object) -> Pipeline:
    columns = ColumnTransformer(
        [
            ("numbers", StandardScaler(), ["tenure", "noise"]),
            ("words", OneHotEncoder(handle_unknown="ignore"), ["plan", "plan_region"]),
        ]
    )
    return Pipeline([("encode", columns), ("model", model)])


_COLUMNS = ["tenure", "noise", "plan", "plan_region"]


@pytest.mark.parametrize(
    "model",
    [
        pytest.param(_encoded(LogisticRegression(max_iter=500)), id="pipeline-logistic"),
        pytest.param(_encoded(RandomForestClassifier(50, random_state=0)), id="pipeline-forest"),
    ],
)
def test_a_pipelines_encoded_features_sum_back_to_its_columns(churn, model) -> None:
    frame, target = churn
    weights = model_importance(model.fit(frame, target), _COLUMNS)
    assert list(weights) == _COLUMNS
    assert sum(weights.values()) == pytest.approx(1.0)
    assert min(weights["plan"], weights["tenure"]) > max(weights["noise"], weights["plan_region"])


def test_a_bare_forest_on_numbers(churn) -> None:
    frame, _ = churn
    numbers, target = frame[["tenure", "noise"]], (frame["tenure"] > 26).to_numpy(int)
    forest = RandomForestClassifier(30, random_state=0).fit(numbers, target)
    weights = model_importance(forest, ["tenure", "noise"])
    assert weights["tenure"] > 0.7 and sum(weights.values()) == pytest.approx(1.0)


def test_a_multiclass_linear_model_sums_every_class(churn) -> None:
    frame, _ = churn
    labels = np.digitize(frame["tenure"], [20, 28])  # three classes, from tenure
    model = LogisticRegression(max_iter=500).fit(frame[["tenure", "noise"]], labels)
    assert model_importance(model, ["tenure", "noise"])["tenure"] > 0.9


@pytest.mark.parametrize("library", ["lightgbm", "xgboost"])
def test_boosted_trees(churn, library: str) -> None:
    frame, target = churn
    numbers = frame[["tenure", "noise"]].rename(columns={"tenure": "tenure months"})
    if library == "lightgbm":
        import lightgbm

        model = lightgbm.LGBMClassifier(n_estimators=30, n_jobs=1, verbose=-1)
    else:
        import xgboost

        model = xgboost.XGBClassifier(n_estimators=30, n_jobs=1)
    weights = model_importance(model.fit(numbers, target), ["tenure months", "noise"])
    assert weights["tenure months"] > weights["noise"]
    assert sum(weights.values()) == pytest.approx(1.0)


class _CountingRegressor(RegressorMixin, BaseEstimator):
    """A regressor without importances that remembers the most rows it predicted."""

    def fit(self, frame: pd.DataFrame, target: np.ndarray) -> _CountingRegressor:
        self.inner_ = LinearRegression().fit(frame, target)
        self.most_rows_ = 0
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        self.most_rows_ = max(self.most_rows_, len(frame))
        return self.inner_.predict(frame)


def test_without_its_own_figures_a_model_is_measured_by_permutation(churn) -> None:
    frame, _ = churn
    numbers, target = frame[["tenure", "noise"]], (frame["tenure"] > 26).to_numpy(int)
    knn = KNeighborsClassifier().fit(numbers, target)
    assert model_importance(knn, ["tenure", "noise"]) == {}  # nothing to measure with
    weights = model_importance(knn, ["tenure", "noise"], data=numbers, target=target)
    assert weights["tenure"] > 0.8 and sum(weights.values()) == pytest.approx(1.0)
    counting = _CountingRegressor().fit(numbers, numbers["tenure"] * 2)
    counting.most_rows_ = 0
    weights = model_importance(counting, ["tenure", "noise"], numbers, numbers["tenure"] * 2)
    assert weights["tenure"] > 0.99
    assert 0 < counting.most_rows_ <= PERMUTATION_ROWS < len(numbers)


@pytest.mark.parametrize(
    "model",
    [
        object(),
        "a string",
        None,
        RandomForestClassifier(),
        Pipeline([("m", KNeighborsClassifier())]),
    ],
)
def test_an_unknown_or_unfitted_model_has_no_importance(churn, model: object) -> None:
    frame, target = churn
    assert model_importance(model, _COLUMNS) == {}
    assert model_importance(model, _COLUMNS, data=frame.iloc[:0], target=target[:0]) == {}


def test_model_importance_ranks_a_report(churn) -> None:
    frame, target = churn
    model = _encoded(RandomForestClassifier(50, random_state=0)).fit(frame, target)
    current = frame.assign(noise=frame["noise"] + 1.0, plan=frame["plan"].replace("basic", "pro"))
    result = report(frame, current, importance=model_importance(model, _COLUMNS))
    assert set(result.drifted) == {"noise", "plan"}
    assert result.ranking[0].feature == "plan"  # noise moved further but the model ignores it


# -- profiles


def test_a_profile_on_either_side_gives_the_sketch_report() -> None:
    from loopml.monitoring.profile import profile

    reference = _frame(20_000, 0, numeric=3, categorical=2)
    current = _frame(20_000, 1, numeric=3, categorical=2, shifted={"normal_0", "category_1"})
    exact = report(reference, current)
    importance = {"normal_0": 0.1, "category_1": 0.9}
    for ref, cur in ((profile(reference), current), (reference, profile(current))):
        sketched = report(ref, cur, importance=importance)
        assert sketched.mode == "sketch" and exact.mode == "exact"
        assert sketched.drifted == exact.drifted == ["normal_0", "category_1"]
        assert [entry.feature for entry in sketched.ranking][:2] == ["category_1", "normal_0"]
        assert sketched.to_dict()["importance"] == importance
    with pytest.raises(InvalidInput, match="importance .*unknown.*: tenure"):
        report(profile(reference), current, importance={"tenure": 1.0})

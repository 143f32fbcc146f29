"""Fairness per sensitive group: a biased model shows a large gap, a fair one a small gap, and
the per-group figures equal scikit-learn's on each group's rows."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm
from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference
from sklearn.linear_model import LinearRegression, LogisticRegression

from loopml.errors import InvalidInput
from loopml.governance.fairness import MISSING_GROUP, FairnessResult, fairness_table
from loopml.models.evaluation import evaluate


def people(rows: int = 2000, seed: int = 0, bias: float = 0.0) -> pd.DataFrame:
    """Applicants in two groups; ``bias`` raises group A's chance of a positive label."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["A", "B"], rows)
    region = rng.choice(["north", "south", "east"], rows)
    skill = rng.normal(size=rows)
    lift = np.where(sex == "A", bias, -bias)
    approved = (skill + lift + rng.normal(scale=0.5, size=rows)) > 0
    return pd.DataFrame(
        {
            "skill": skill,
            "is_a": (sex == "A").astype(float),
            "sex": sex,
            "region": region,
            "approved": approved.astype(int),
        }
    )


def biased_model(frame: pd.DataFrame) -> LogisticRegression:
    return LogisticRegression().fit(frame[["skill", "is_a"]], frame["approved"])


def test_a_model_favouring_one_group_shows_a_large_parity_gap() -> None:
    train, test = people(seed=0, bias=1.5), people(seed=1, bias=1.5)
    result = evaluate(biased_model(train), test, target="approved", sensitive=["sex"])

    assert result.fairness is not None
    assert result.metrics["demographic_parity_difference"] > 0.3
    assert (
        result.metrics["demographic_parity_difference.sex"]
        == (result.metrics["demographic_parity_difference"])
    )
    predicted = biased_model(train).predict(test[["skill", "is_a"]])
    assert result.metrics["demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(test["approved"], predicted, sensitive_features=test["sex"])
    )
    assert result.metrics["equalized_odds_difference"] == pytest.approx(
        equalized_odds_difference(test["approved"], predicted, sensitive_features=test["sex"])
    )


def test_a_model_treating_groups_alike_shows_a_small_parity_gap() -> None:
    train, test = people(seed=0), people(seed=1)
    model = LogisticRegression().fit(train[["skill"]], train["approved"])
    result = evaluate(model, test, target="approved", sensitive=["sex"])

    assert result.metrics["demographic_parity_difference"] < 0.1
    assert result.metrics["equalized_odds_difference"] < 0.1


def test_per_group_rows_count_every_row_and_equal_scikit_learn() -> None:
    train, test = people(seed=0, bias=1.0), people(rows=1500, seed=2, bias=1.0)
    model = biased_model(train)
    result = evaluate(model, test, target="approved", sensitive=["region"])
    assert result.fairness is not None
    rows = result.fairness.attributes["region"].groups

    assert sum(row["count"] for row in rows) == len(test)
    assert [row["group"] for row in rows] == ["east", "north", "south"]
    predicted = model.predict(test[["skill", "is_a"]])
    for row in rows:
        mask = (test["region"] == row["group"]).to_numpy()
        y, p = test["approved"][mask], predicted[mask]
        assert row["count"] == mask.sum()
        assert row["selection_rate"] == pytest.approx(p.mean())
        assert row["accuracy"] == pytest.approx(skm.accuracy_score(y, p))
        assert row["precision"] == pytest.approx(skm.precision_score(y, p))
        assert row["recall"] == pytest.approx(skm.recall_score(y, p))
        assert row["f1"] == pytest.approx(skm.f1_score(y, p))


def test_the_top_level_gap_is_the_worst_over_sensitive_columns() -> None:
    train, test = people(seed=0, bias=1.5), people(seed=3, bias=1.5)
    result = evaluate(biased_model(train), test, target="approved", sensitive=["sex", "region"])

    by_sex = result.metrics["demographic_parity_difference.sex"]
    by_region = result.metrics["demographic_parity_difference.region"]
    assert by_sex is not None and by_region is not None
    assert result.metrics["demographic_parity_difference"] == max(by_sex, by_region) == by_sex
    assert result.metrics["equalized_odds_difference"] == max(
        result.metrics["equalized_odds_difference.sex"] or 0.0,
        result.metrics["equalized_odds_difference.region"] or 0.0,
    )


def test_a_sensitive_column_need_not_be_a_feature() -> None:
    train, test = people(seed=0), people(seed=4)
    model = LogisticRegression().fit(train[["skill"]], train["approved"])
    result = evaluate(model, test, target="approved", sensitive=["region"])
    assert result.fairness is not None
    assert set(result.fairness.attributes) == {"region"}


def test_missing_sensitive_values_form_their_own_group() -> None:
    frame = people(rows=500, seed=5)
    sex = frame["sex"].where(np.arange(len(frame)) % 10 != 0)
    result = fairness_table(frame["approved"], frame["approved"], sex)
    groups = {row["group"]: row["count"] for row in result.attributes["sex"].groups}

    assert groups[MISSING_GROUP] == 50
    assert sum(groups.values()) == 500


def test_multiclass_gaps_need_a_positive_class() -> None:
    rng = np.random.default_rng(6)
    truth = rng.choice(["low", "mid", "high"], 600)
    predicted = np.where(rng.random(600) < 0.7, truth, rng.choice(["low", "mid", "high"], 600))
    sex = pd.Series(rng.choice(["A", "B"], 600), name="sex")

    skipped = fairness_table(truth, predicted, sex)
    assert skipped.metrics()["demographic_parity_difference"] is None
    assert "pass pos_label=" in skipped.attributes["sex"].notes[0]
    assert skipped.attributes["sex"].groups[0]["f1"] == pytest.approx(
        skm.f1_score(truth[sex == "A"], predicted[sex == "A"], average="macro")
    )

    one_vs_rest = fairness_table(truth, predicted, sex, pos_label="high")
    assert one_vs_rest.metrics()["demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(truth == "high", predicted == "high", sensitive_features=sex)
    )
    assert "one-vs-rest" in one_vs_rest.attributes["sex"].notes[0]


def test_regression_gives_error_per_group_and_no_gate_metrics() -> None:
    frame = people(rows=800, seed=7)
    noise = np.random.default_rng(8).normal(size=len(frame))
    frame["income"] = 3 * frame["skill"] + noise * np.where(frame["sex"] == "A", 3.0, 0.2)
    model = LinearRegression().fit(frame[["skill"]], frame["income"])
    result = evaluate(model, frame, target="income", sensitive=["sex"])
    assert result.fairness is not None

    predicted = model.predict(frame[["skill"]])
    for row in result.fairness.attributes["sex"].groups:
        mask = (frame["sex"] == row["group"]).to_numpy()
        assert row["mae"] == pytest.approx(
            skm.mean_absolute_error(frame["income"][mask], predicted[mask])
        )
        assert row["rmse"] == pytest.approx(
            skm.root_mean_squared_error(frame["income"][mask], predicted[mask])
        )
    assert result.fairness.attributes["sex"].differences["mae"] > 1.5
    assert result.fairness.metrics() == {}
    assert "demographic_parity_difference" not in result.metrics


def test_a_group_without_positives_is_noted_for_equalized_odds() -> None:
    truth = np.array([1, 0, 1, 0, 0, 0])
    predicted = np.array([1, 0, 0, 0, 1, 0])
    result = fairness_table(truth, predicted, {"site": ["a", "a", "a", "b", "b", "b"]})

    attribute = result.attributes["site"]
    assert attribute.demographic_parity_difference == pytest.approx(0.0)
    assert any("all one class: b" in note for note in attribute.notes)


def test_to_dict_is_strict_json() -> None:
    truth = np.array([True, False, True, True])
    predicted = np.array([True, True, False, True])
    result = fairness_table(truth, predicted, {"group": ["x", "x", "y", "y"]})

    assert isinstance(result, FairnessResult)
    assert result.pos_label is True
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["metrics"]["demographic_parity_difference"] == pytest.approx(0.5)  # 1 vs 1/2
    assert data["attributes"]["group"]["groups"][0] == {
        "group": "x",
        "count": 2,
        "selection_rate": 1.0,
        "accuracy": 0.5,
        "precision": 0.5,
        "recall": 1.0,
        "f1": pytest.approx(2 / 3),
    }


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"task": "ranking"}, r"fairness task 'ranking' is unknown"),
        ({"y_pred": [1, 0]}, r"got 4 true values, 2 predictions and 4 sensitive rows"),
        ({"y_true": [], "y_pred": [], "sensitive": {"g": []}}, r"got no rows"),
        ({"pos_label": "yes"}, r"pos_label 'yes' is not one of the classes \(0, 1\)"),
        ({"sensitive": pd.Series(["a", "b", "a", "b"])}, r"the sensitive Series has no name"),
        ({"sensitive": ["a", "b", "a", "b"]}, r"sensitive columns of type list"),
        ({"sensitive": pd.DataFrame(index=range(4))}, r"no sensitive column given"),
    ],
    ids=[
        "unknown task",
        "lengths differ",
        "no rows",
        "unknown pos_label",
        "unnamed series",
        "not a table",
        "no columns",
    ],
)
def test_bad_input_raises_invalid_input_with_a_hint(
    arguments: dict[str, Any], message: str
) -> None:
    call: dict[str, Any] = {
        "y_true": [1, 0, 1, 0],
        "y_pred": [1, 1, 0, 0],
        "sensitive": {"g": ["a", "b", "a", "b"]},
        **arguments,
    }
    with pytest.raises(InvalidInput, match=message) as caught:
        fairness_table(call.pop("y_true"), call.pop("y_pred"), call.pop("sensitive"), **call)
    assert caught.value.hint

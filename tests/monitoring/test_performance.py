"""Realised performance per period, change detectors on the error stream, and CBPE's
estimate of a binary classifier's performance before its labels arrive."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, roc_auc_score

from loopml.errors import InvalidInput
from loopml.monitoring.cbpe import CBPE, expected_roc_auc
from loopml.monitoring.changes import ChangeOptions, detect_changes
from loopml.monitoring.performance import (
    classification_metrics,
    infer_task,
    performance_over_time,
)

START = pd.Timestamp("2026-03-01", tz="UTC")


def _times(rows: int) -> pd.Series:
    return pd.Series(START + pd.to_timedelta(np.arange(rows), unit="min"))


def _classified(
    rows: int = 4000, seed: int = 0, error: float = 0.1, later: float | None = None
) -> pd.DataFrame:
    """A churn classifier's log: one prediction a minute, wrong at rate ``error`` (then
    ``later`` from the middle on), every label arrived, ``proba`` the model's score."""
    rng = np.random.default_rng(seed)
    rates = np.full(rows, error)
    if later is not None:
        rates[rows // 2 :] = later
    label = rng.random(rows) < 0.3
    wrong = rng.random(rows) < rates
    prediction = label ^ wrong
    proba = np.clip(np.where(prediction, 0.75, 0.25) + rng.normal(0, 0.15, rows), 0, 1)
    return pd.DataFrame(
        {
            "time": _times(rows),
            "tenure": rng.normal(24, 6, rows),
            "prediction": prediction.astype(int),
            "label": pd.Series(label.astype(int), dtype=object),
            "proba": proba,
        }
    )


def _regressed(rows: int = 4000, seed: int = 0, bias: float = 0.0) -> pd.DataFrame:
    """A house-price model, in thousands: residual sd 20, plus ``bias`` from the middle."""
    rng = np.random.default_rng(seed)
    size = rng.normal(120, 30, rows)
    price = 2.5 * size + rng.normal(0, 20, rows)
    prediction = 2.5 * size
    prediction[rows // 2 :] -= bias
    return pd.DataFrame(
        {
            "time": _times(rows),
            "size": size,
            "prediction": prediction,
            "label": pd.Series(price, dtype=object),
        }
    )


def _json(points: list) -> str:
    return json.dumps([point.to_dict() for point in points], allow_nan=False)


# --- performance over time -------------------------------------------------------------


def test_an_accuracy_drop_in_the_second_half_shows_in_its_buckets() -> None:
    points = performance_over_time(_classified(later=0.35), buckets=4)
    accuracy = [point.metrics["accuracy"] for point in points]
    assert accuracy == pytest.approx([0.9, 0.9, 0.65, 0.65], abs=0.03)
    assert [point.rows for point in points] == [1000] * 4
    assert set(points[0].metrics) == {"accuracy", "precision", "recall", "f1", "roc_auc"}
    assert points[3].metrics["f1"] < points[0].metrics["f1"] - 0.15
    assert points[0].start == START and points[0].end == START + pd.Timedelta(minutes=999)
    _json(points)


def test_unlabelled_rows_are_counted_but_left_out_of_the_metrics() -> None:
    frame = _classified(rows=1000, seed=1)
    rng = np.random.default_rng(2)
    frame.loc[rng.random(1000) < 0.3, "label"] = None
    frame.loc[750:, "label"] = None  # the last period's labels have not arrived yet
    points = performance_over_time(frame, buckets=4)
    assert [point.rows for point in points] == [250] * 4
    first = frame.iloc[:250].dropna(subset=["label"])
    assert points[0].labelled == len(first) < 250
    expected = (first["label"].astype(int) == first["prediction"]).mean()
    assert points[0].metrics["accuracy"] == pytest.approx(expected)
    assert points[3].labelled == 0 and points[3].metrics == {}
    assert json.loads(_json(points))[3] == {
        "start": points[3].start.isoformat(),
        "end": points[3].end.isoformat(),
        "rows": 250,
        "labelled": 0,
        "metrics": {},
    }


def test_periods_of_a_frequency_keep_the_gaps_in_traffic() -> None:
    frame = _classified(rows=600, seed=3)  # 10 hours, one row a minute
    frame = frame[
        (frame["time"] < START + pd.Timedelta("3h")) | (frame["time"] >= START + pd.Timedelta("5h"))
    ]
    points = performance_over_time(frame, freq="1h")
    assert len(points) == 10
    assert [point.rows for point in points] == [60, 60, 60, 0, 0, 60, 60, 60, 60, 60]
    assert points[3].metrics == {} and points[4].labelled == 0
    assert points[1].start == START + pd.Timedelta("1h")
    assert points[1].end == START + pd.Timedelta("2h")


def test_text_classes_are_scored_for_the_named_positive_class() -> None:
    frame = _classified(rows=2000, seed=4)
    names = {0: "no", 1: "yes"}
    frame["prediction"] = frame["prediction"].map(names)
    frame["label"] = frame["label"].map(names).astype(object)
    (point,) = performance_over_time(frame, buckets=1, positive="yes")
    assert point.metrics["f1"] == pytest.approx(
        f1_score(frame["label"], frame["prediction"], pos_label="yes")
    )
    (other,) = performance_over_time(frame, buckets=1, positive="no")
    assert other.metrics["f1"] != pytest.approx(point.metrics["f1"])
    with pytest.raises(InvalidInput, match="which is positive") as error:
        performance_over_time(frame)
    assert error.value.hint == "pass positive='yes'"
    with pytest.raises(InvalidInput, match="'maybe' is not one of the classes"):
        performance_over_time(frame, positive="maybe")


def test_booleans_take_true_as_the_positive_class() -> None:
    frame = _classified(rows=2000, seed=5)
    frame["prediction"] = frame["prediction"].astype(bool)
    frame["label"] = frame["label"].astype(bool).astype(object)
    (point,) = performance_over_time(frame, buckets=1)
    assert point.metrics["recall"] == pytest.approx(
        (frame["prediction"] & frame["label"].astype(bool)).sum() / frame["label"].sum()
    )


def test_multiclass_metrics_are_macro_averages() -> None:
    rng = np.random.default_rng(6)
    label = rng.choice(["basic", "plus", "pro"], 3000, p=[0.5, 0.3, 0.2])
    prediction = np.where(rng.random(3000) < 0.8, label, rng.choice(["basic", "plus", "pro"], 3000))
    frame = pd.DataFrame({"time": _times(3000), "prediction": prediction, "label": label})
    (point,) = performance_over_time(frame, buckets=1)
    assert set(point.metrics) == {"accuracy", "precision", "recall", "f1"}
    assert point.metrics["f1"] == pytest.approx(f1_score(label, prediction, average="macro"))


def test_regression_metrics_follow_the_bias() -> None:
    points = performance_over_time(_regressed(bias=30), buckets=2)
    assert points[0].metrics["rmse"] == pytest.approx(20, rel=0.05)
    assert points[1].metrics["rmse"] == pytest.approx(np.hypot(20, 30), rel=0.05)
    assert points[0].metrics["mae"] == pytest.approx(20 * np.sqrt(2 / np.pi), rel=0.05)
    assert points[0].metrics["r2"] > 0.9 > points[1].metrics["r2"]


def test_undefined_metrics_are_left_out_not_zero() -> None:
    frame = _classified(rows=20, seed=7)
    frame["prediction"] = 0  # no positive prediction: precision is undefined
    (point,) = performance_over_time(frame, buckets=1)
    assert "precision" not in point.metrics
    assert point.metrics["recall"] == 0.0
    (one,) = performance_over_time(_regressed(rows=1), buckets=1)
    assert set(one.metrics) == {"mae", "rmse"}


def test_a_frame_without_labels_gives_periods_without_metrics() -> None:
    frame = _classified(rows=400)
    frame["label"] = pd.Series([None] * 400, dtype=object)
    points = performance_over_time(frame, buckets=4)
    assert [(point.rows, point.labelled, point.metrics) for point in points] == [(100, 0, {})] * 4
    assert detect_changes(frame) == []
    assert performance_over_time(frame.iloc[:0]) == []


@pytest.mark.parametrize("column", ["time", "prediction", "label"])
def test_a_missing_column_is_named_with_the_fix(column: str) -> None:
    with pytest.raises(InvalidInput, match=f"no '{column}' column") as error:
        performance_over_time(_classified(rows=10).drop(columns=column))
    assert error.value.hint
    with pytest.raises(InvalidInput, match=f"no '{column}' column"):
        detect_changes(_classified(rows=10).drop(columns=column))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"label": ["1", "0"]}, "labels are text"),
        ({"label": ["yes", 0]}, "mixes text and other values"),
        ({"time": ["yesterday", "today"]}, "not times"),
        ({"time": [None, START]}, "1 rows have no time"),
    ],
)
def test_malformed_values_are_refused(change: dict, match: str) -> None:
    frame = pd.DataFrame({"time": [START, START], "prediction": [1, 0], "label": [1, 0]})
    for column, values in change.items():
        frame[column] = pd.Series(values, dtype=object)
    with pytest.raises(InvalidInput, match=match):
        performance_over_time(frame)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"freq": "fortnightly"}, "invalid period"),
        ({"buckets": 0}, "buckets 0"),
        ({"task": "ranking"}, "unknown task"),
    ],
)
def test_bad_options_are_refused(options: dict, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        performance_over_time(_classified(rows=10), **options)


@pytest.mark.parametrize(
    ("labels", "predictions", "task"),
    [
        ([0, 1, 1, None], [1, 1, 0, 0], "binary"),
        ([True, False], [False, False], "binary"),
        (["no", "yes"], ["yes", "yes"], "binary"),
        (["basic", "plus"], ["pro", "plus"], "multiclass"),
        ([0, 1, 2], [2.0, 1.0, 0.0], "multiclass"),
        ([10.0, 12.5], [11.0, 12.0], "regression"),
        ([3, 4], [3.4, 4.1], "regression"),
        (list(range(30)), list(range(30)), "regression"),
    ],
)
def test_the_task_is_inferred_from_the_values(labels: list, predictions: list, task: str) -> None:
    assert infer_task(labels, predictions) == task


# --- change detection ------------------------------------------------------------------

SEEDS = range(10)


# Measured at the default ChangeOptions on 100 seeded streams of 4,000 rows (error rate
# 0.1, jumping to 0.35 at row 2000 in the changing ones):
#                 delay median / max   alarms before the change   stationary streams' alarms
#   adwin              67 / 147                  0                        0
#   ddm               139 / 366                  4                        6
#   page_hinkley       33 / 98                   3                        6
# The tests run the first 10 seeds and allow at most one false alarm where any was seen.
FALSE_ALARMS = {"adwin": 0, "ddm": 1, "page_hinkley": 1}


@pytest.mark.parametrize("detector", ["adwin", "ddm", "page_hinkley"])
def test_an_abrupt_rise_in_the_error_rate_is_caught_within_a_few_hundred_rows(
    detector: str,
) -> None:
    delays, early = [], 0
    for seed in SEEDS:
        changes = detect_changes(_classified(seed=seed, later=0.35), detectors=[detector])
        early += sum(change.position < 2000 for change in changes)
        first = next(change for change in changes if change.position >= 2000)
        delays.append(first.position - 2000)
        assert first.error_before < 0.2 and first.error_after > 0.25
    assert early <= FALSE_ALARMS[detector]
    assert max(delays) < 400
    assert np.median(delays) < 200


@pytest.mark.parametrize("detector", ["adwin", "ddm", "page_hinkley"])
def test_a_stationary_error_stream_raises_no_alarm_or_barely_one(detector: str) -> None:
    alarms = [
        change
        for seed in SEEDS
        for change in detect_changes(_classified(seed=100 + seed), detectors=[detector])
    ]
    assert len(alarms) <= FALSE_ALARMS[detector]


def test_page_hinkley_follows_a_jump_in_a_regression_error_in_its_own_units() -> None:
    # Residual sd 20 (mean absolute error 16), then a bias of 20 (mean absolute error 24).
    # The threshold is 25 sd of the early absolute errors, not river's fixed 50 (which
    # would mean something else in every currency). DDM reads only right/wrong, so it is
    # left out for a regression. Measured on 100 seeds: delay median 57, at most 138
    # rows; 2 alarms on 100 stationary streams (ADWIN: 7).
    stationary = 0
    for seed in range(5):
        changes = detect_changes(_regressed(seed=seed, bias=20))
        assert {change.detector for change in changes} <= {"adwin", "page_hinkley"}
        first = next(change for change in changes if change.detector == "page_hinkley")
        assert 2000 <= first.position < 2300
        assert first.error_before == pytest.approx(16, abs=2)
        assert first.error_after == pytest.approx(24, abs=4)
        stationary += len(detect_changes(_regressed(seed=50 + seed), detectors=["page_hinkley"]))
    assert stationary <= 1


def test_a_change_names_its_row_in_the_frame_passed() -> None:
    frame = _classified(seed=1, later=0.35)
    frame.index = [f"p{i}" for i in range(len(frame))]
    shuffled = frame.sample(frac=1, random_state=0)
    (first, *_) = detect_changes(shuffled, detectors=["adwin"])
    assert shuffled.loc[first.index, "time"] == first.time
    assert first.index == f"p{first.position}"
    row = json.loads(json.dumps(first.to_dict(), allow_nan=False))
    assert row["detector"] == "adwin" and row["time"] == first.time.isoformat()


def test_detectors_are_named_and_ddm_refuses_a_regression() -> None:
    with pytest.raises(InvalidInput, match="unknown change detector 'cusum'"):
        detect_changes(_classified(rows=100), detectors=["cusum"])
    with pytest.raises(InvalidInput, match="DDM") as error:
        detect_changes(_regressed(rows=100), detectors=["ddm"])
    assert "adwin" in error.value.hint
    with pytest.raises(InvalidInput, match="window"):
        ChangeOptions(window=0)


# --- CBPE ------------------------------------------------------------------------------

WEIGHTS, BIAS = np.array([1.5, -1.0]), 0.3


def _population(rng: np.random.Generator, rows: int, mean=(0.0, 0.0), sd: float = 1.0):
    features = rng.normal(mean, sd, (rows, 2))
    chance = 1 / (1 + np.exp(-(features @ WEIGHTS + BIAS)))
    return features, rng.random(rows) < chance


@pytest.fixture(scope="module")
def fitted() -> tuple[LogisticRegression, CBPE, np.random.Generator]:
    """A logistic regression on logistic data (so well calibrated), and CBPE on a
    reference sample of 5,000 rows."""
    rng = np.random.default_rng(0)
    model = LogisticRegression().fit(*_population(rng, 20_000))
    features, labels = _population(rng, 5000)
    return model, CBPE().fit(model.predict_proba(features)[:, 1], labels), rng


def _realised(cbpe: CBPE, proba: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """The metrics once the labels are in, of the decisions ``proba >= threshold``."""
    predicted = proba >= cbpe.threshold
    return classification_metrics(labels, predicted, task="binary", positive=True, proba=proba)


@pytest.mark.parametrize(
    ("mean", "sd"),
    [((0.0, 0.0), 1.0), ((1.0, 0.5), 0.7), ((-0.8, -0.5), 0.6), ((0.5, 1.0), 1.5)],
)
def test_cbpe_estimates_the_realised_metrics_under_covariate_shift(fitted, mean, sd) -> None:
    # Measured: within 0.01 on every metric for these shifts; the realised accuracy
    # moves by up to 0.07 and f1 by up to 0.17 from the reference.
    model, cbpe, _ = fitted
    rng = np.random.default_rng(int(10 * sd))
    features, labels = _population(rng, 5000, mean, sd)
    proba = model.predict_proba(features)[:, 1]
    estimate = cbpe.estimate(proba)
    realised = _realised(cbpe, proba, labels)
    for name in ("accuracy", "f1", "roc_auc", "precision", "recall"):
        assert estimate.metrics[name].value == pytest.approx(realised[name], abs=0.03), name
    assert estimate.rows == 5000


def test_cbpe_calibrates_an_overconfident_model_on_the_reference(fitted) -> None:
    # The same model, its logit tripled: ranked alike, far too sure. Summing its raw
    # scores would promise an accuracy of 0.9 (measured); calibrated, the estimate holds.
    model, _, rng = fitted

    def overconfident(features: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-3 * model.decision_function(features)))

    features, labels = _population(rng, 5000)
    cbpe = CBPE().fit(overconfident(features), labels)
    current, truth = _population(rng, 5000, (-0.8, -0.5), 0.6)
    proba = overconfident(current)
    estimate = cbpe.estimate(proba)
    realised = _realised(cbpe, proba, truth)
    assert estimate.metrics["accuracy"].value == pytest.approx(realised["accuracy"], abs=0.03)
    assert estimate.metrics["f1"].value == pytest.approx(realised["f1"], abs=0.03)
    assert np.mean(np.maximum(proba, 1 - proba)) > realised["accuracy"] + 0.1


def test_cbpe_alerts_when_a_shift_moves_the_estimate_past_the_reference_band(fitted) -> None:
    model, cbpe, rng = fitted
    same = cbpe.estimate(model.predict_proba(_population(rng, 2000)[0])[:, 1])
    assert not same.alert
    accuracy = same.metrics["accuracy"]
    assert accuracy.lower_threshold < accuracy.value < accuracy.upper_threshold
    assert accuracy.lower < accuracy.value < accuracy.upper
    assert accuracy.reference == cbpe.reference_metrics["accuracy"]
    # Inputs crowded onto the decision boundary: the model is unsure, accuracy falls.
    crowded = cbpe.estimate(model.predict_proba(_population(rng, 2000, (-0.8, -0.5), 0.6)[0])[:, 1])
    assert crowded.alert and crowded.metrics["accuracy"].alert
    assert crowded.metrics["accuracy"].value < crowded.metrics["accuracy"].lower_threshold
    json.dumps(crowded.to_dict(), allow_nan=False)


def test_cbpe_cannot_see_concept_drift(fitted) -> None:
    # Labels flipped where the first feature is above 0.5: the inputs, and so the
    # probabilities and the estimate, do not move; the realised metrics collapse.
    model, cbpe, rng = fitted
    features, labels = _population(rng, 5000)
    flipped = labels ^ (features[:, 0] > 0.5)
    proba = model.predict_proba(features)[:, 1]
    estimate = cbpe.estimate(proba)
    realised = _realised(cbpe, proba, flipped)
    assert not estimate.alert
    assert estimate.metrics["accuracy"].value == pytest.approx(
        cbpe.reference_metrics["accuracy"], abs=0.02
    )
    assert realised["accuracy"] < estimate.metrics["accuracy"].value - 0.15
    assert realised["f1"] < estimate.metrics["f1"].value - 0.15


def test_the_sampling_error_matches_the_spread_of_small_samples(fitted) -> None:
    model, cbpe, rng = fitted
    samples = [_population(rng, 250) for _ in range(60)]
    spread = np.std(
        [_realised(cbpe, model.predict_proba(x)[:, 1], y)["accuracy"] for x, y in samples],
        ddof=1,
    )
    error = cbpe.estimate(model.predict_proba(samples[0][0])[:, 1]).metrics["accuracy"]
    assert 0.6 < error.sampling_error / spread < 1.6
    larger = cbpe.estimate(model.predict_proba(_population(rng, 2500)[0])[:, 1])
    assert larger.metrics["accuracy"].sampling_error == pytest.approx(
        error.sampling_error / np.sqrt(10), rel=0.3
    )


def test_cbpe_over_time_estimates_every_period_and_realises_the_labelled(fitted) -> None:
    model, cbpe, rng = fitted
    features = np.vstack([_population(rng, 1000)[0], _population(rng, 1000, (-0.8, -0.5), 0.6)[0]])
    labels = pd.Series([True] * 2000, dtype=object)
    labels[500:] = None  # ground truth so far for the first quarter only
    frame = pd.DataFrame(
        {"time": _times(2000), "proba": model.predict_proba(features)[:, 1], "label": labels}
    )
    frame.loc[10, "proba"] = None
    points = cbpe.estimate_over_time(frame, buckets=4)
    assert [point.rows for point in points] == [500] * 4
    assert points[0].estimate.rows == 499 and points[0].labelled == 499
    assert points[0].realised["accuracy"] == pytest.approx(
        (frame["proba"].iloc[:500].dropna() >= 0.5).mean()
    )
    assert [point.realised for point in points[1:]] == [{}, {}, {}]
    assert [point.estimate.alert for point in points] == [False, False, True, True]
    json.loads(_json(points))


def test_cbpe_reads_text_labels_with_their_positive_class(fitted) -> None:
    model, _, rng = fitted
    features, labels = _population(rng, 2000)
    proba = model.predict_proba(features)[:, 1]
    words = np.where(labels, "yes", "no")
    cbpe = CBPE().fit(proba, words, positive="yes")
    assert cbpe.reference_metrics == CBPE().fit(proba, labels).reference_metrics
    with pytest.raises(InvalidInput, match="which is positive"):
        CBPE().fit(proba, words)


@pytest.mark.parametrize(
    ("proba", "labels", "options", "match"),
    [
        (np.full(200, 0.3), [0] * 200, {}, "one class only"),
        (np.linspace(-0.5, 1.5, 200), [0, 1] * 100, {}, r"outside \[0, 1\]"),
        (np.full(200, 0.3), [0, 1] * 100, {"task": "regression"}, "binary classifiers only"),
        (np.full(200, 0.3), np.linspace(0, 9, 200), {}, "look regression"),
        (np.full((200, 2), 0.5), [0, 1] * 100, {}, "two columns"),
        (np.full(200, 0.3), [0, 1] * 50, {}, "200 reference probabilities but 100 labels"),
        (np.full(50, 0.3), [0, 1] * 25, {}, "too small"),
        (np.full(200, 0.3), [0, 1] * 99 + [None, 1], {}, "1 reference labels are missing"),
        (np.full(200, 0.3), [0, 1] * 100, {"threshold": 1.5}, "threshold"),
    ],
)
def test_cbpe_refuses_what_it_cannot_calibrate(proba, labels, options, match) -> None:
    with pytest.raises(InvalidInput, match=match):
        CBPE().fit(proba, labels, **options)


def test_cbpe_refuses_to_estimate_before_fit_or_from_non_probabilities(fitted) -> None:
    with pytest.raises(InvalidInput, match="not fitted"):
        CBPE().estimate([0.5])
    _, cbpe, _ = fitted
    with pytest.raises(InvalidInput, match="outside"):
        cbpe.estimate([0.2, 3.0])
    with pytest.raises(InvalidInput, match="empty"):
        cbpe.estimate([])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 20), st.booleans()), min_size=2, max_size=60).filter(
        lambda rows: len({label for _, label in rows}) == 2
    )
)
def test_expected_roc_auc_with_known_labels_is_the_roc_auc(rows) -> None:
    scores = np.array([score / 20 for score, _ in rows])  # few values: many ties
    labels = np.array([label for _, label in rows])
    assert expected_roc_auc(scores, labels.astype(float)) == pytest.approx(
        roc_auc_score(labels, scores)
    )


def test_f1_is_undefined_rather_than_zero_without_positive_rows() -> None:
    """A period whose labelled rows hold no churner has no recall, so no F1: a rule
    'f1 < 0.5' must not fire on it."""
    frame = pd.DataFrame(
        {
            "time": _times(6),
            "prediction": [0, 0, 1, 0, 0, 0],
            "label": pd.Series([0, 0, 0, 0, 0, 0], dtype=object),
        }
    )
    (point,) = performance_over_time(frame, task="binary", buckets=1)
    assert point.metrics["accuracy"] == pytest.approx(5 / 6)
    assert "f1" not in point.metrics and "recall" not in point.metrics

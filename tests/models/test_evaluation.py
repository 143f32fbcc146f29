"""Model evaluation on real scikit-learn models: metrics equal scikit-learn's own, curves stay
small, overfitting is flagged when it happens, the report is self-contained and escaped."""

from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.offline
import pytest
import sklearn.metrics as skm
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from loopml.errors import InvalidInput
from loopml.models.evaluation import Evaluation, evaluate

PLOTLY_JS = plotly.offline.get_plotlyjs()
NASTY = '<script>alert("x")</script>'


def binary_frame(rows: int = 800, seed: int = 0, noise: float = 0.8) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a, b, c = rng.normal(size=(3, rows))
    label = (a + 0.5 * b - 0.3 * c + rng.normal(scale=noise, size=rows)) > 0
    return pd.DataFrame(
        {"a": a, "b": b, "c": c, "group": rng.choice(["x", "y"], rows), "label": label.astype(int)}
    )


def multiclass_frame(rows: int = 900, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(2, rows))
    score = a + 0.3 * rng.normal(size=rows)
    kind = np.where(score < -0.5, "cat", np.where(score < 0.5, "dog", "fish"))
    return pd.DataFrame({"a": a, "b": b, "kind": kind})


def regression_frame(rows: int = 1500, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(2, rows))
    return pd.DataFrame({"a": a, "b": b, "price": 10 + 3 * a - 2 * b + rng.normal(size=rows)})


def fitted(model: Any, frame: pd.DataFrame, target: str, features: list[str]) -> Any:
    return model.fit(frame[features], frame[target])


# --- classification -----------------------------------------------------------------


def test_binary_metrics_equal_scikit_learn() -> None:
    train, test = binary_frame(seed=0), binary_frame(seed=10)
    model = fitted(LogisticRegression(), train, "label", ["a", "b", "c"])
    result = evaluate(model, test, target="label")

    y = test["label"].to_numpy()
    predicted = model.predict(test[["a", "b", "c"]])
    proba = model.predict_proba(test[["a", "b", "c"]])[:, 1]
    assert result.task == "classification"
    assert result.rows == len(test)
    expected = {
        "accuracy": skm.accuracy_score(y, predicted),
        "precision": skm.precision_score(y, predicted),
        "recall": skm.recall_score(y, predicted),
        "f1": skm.f1_score(y, predicted),
        "roc_auc": skm.roc_auc_score(y, proba),
        "auc": skm.roc_auc_score(y, proba),
        "log_loss": skm.log_loss(y, model.predict_proba(test[["a", "b", "c"]])),
        "brier": skm.brier_score_loss(y, proba),
    }
    assert result.metrics == pytest.approx(expected, rel=1e-12)
    assert all(type(value) is float for value in result.metrics.values())
    matrix = result.details["confusion_matrix"]
    assert matrix["labels"] == [0, 1]
    assert matrix["counts"] == skm.confusion_matrix(y, predicted).tolist()
    assert sum(result.details["class_counts"]["actual"]) == len(test)
    assert result.details["pos_label"] == 1


def test_binary_curves_are_small_and_match_scikit_learn() -> None:
    train, test = binary_frame(seed=0), binary_frame(rows=5000, seed=11)
    model = fitted(LogisticRegression(), train, "label", ["a", "b", "c"])
    result = evaluate(model, test, target="label")

    roc = result.details["roc_curve"]
    assert 2 < len(roc["fpr"]) <= 200
    assert (roc["fpr"][0], roc["tpr"][0]) == (0.0, 0.0)
    assert (roc["fpr"][-1], roc["tpr"][-1]) == (1.0, 1.0)
    assert roc["fpr"] == sorted(roc["fpr"]) and roc["tpr"] == sorted(roc["tpr"])

    proba = model.predict_proba(test[["a", "b", "c"]])[:, 1]
    observed, predicted = calibration_curve(test["label"], proba, n_bins=10)
    calibration = result.details["calibration_curve"]
    assert calibration["prob_true"] == pytest.approx(observed.tolist())
    assert calibration["prob_pred"] == pytest.approx(predicted.tolist())
    assert sum(calibration["counts"]) == len(test)
    assert len(calibration["counts"]) == len(observed) <= 10


def test_pos_label_picks_the_positive_class_of_text_labels() -> None:
    frame = binary_frame(seed=3)
    frame["label"] = np.where(frame["label"] == 1, "yes", "no")
    model = fitted(LogisticRegression(), frame, "label", ["a", "b", "c"])
    result = evaluate(model, frame, target="label", pos_label="no")

    predicted = model.predict(frame[["a", "b", "c"]])
    proba_no = model.predict_proba(frame[["a", "b", "c"]])[:, 0]
    assert result.metrics["precision"] == pytest.approx(
        skm.precision_score(frame["label"], predicted, pos_label="no")
    )
    assert result.metrics["roc_auc"] == pytest.approx(
        skm.roc_auc_score(frame["label"] == "no", proba_no)
    )
    assert evaluate(model, frame, target="label").details["pos_label"] == "yes"


def test_a_model_without_probabilities_gets_auc_from_its_decision_function() -> None:
    frame = binary_frame(seed=4)
    model = fitted(LinearSVC(), frame, "label", ["a", "b", "c"])
    result = evaluate(model, frame, target="label")

    scores = model.decision_function(frame[["a", "b", "c"]])
    assert result.metrics["roc_auc"] == pytest.approx(skm.roc_auc_score(frame["label"], scores))
    assert "log_loss" not in result.metrics and "brier" not in result.metrics
    assert "calibration_curve" not in result.details


def test_multiclass_uses_macro_averages_and_one_vs_rest_auc() -> None:
    train, test = multiclass_frame(seed=1), multiclass_frame(seed=12)
    model = fitted(LogisticRegression(), train, "kind", ["a", "b"])
    result = evaluate(model, test, target="kind")

    y, predicted = test["kind"], model.predict(test[["a", "b"]])
    proba = model.predict_proba(test[["a", "b"]])
    assert result.metrics["f1"] == pytest.approx(skm.f1_score(y, predicted, average="macro"))
    assert result.metrics["precision"] == pytest.approx(
        skm.precision_score(y, predicted, average="macro")
    )
    assert result.metrics["roc_auc"] == pytest.approx(
        skm.roc_auc_score(y, proba, multi_class="ovr")
    )
    assert result.metrics["log_loss"] == pytest.approx(skm.log_loss(y, proba))
    assert "brier" not in result.metrics
    assert "roc_curve" not in result.details
    assert result.details["confusion_matrix"]["labels"] == ["cat", "dog", "fish"]
    assert np.array(result.details["confusion_matrix"]["counts"]).sum() == len(test)


def test_a_target_with_one_class_gives_no_auc_and_says_why() -> None:
    train = binary_frame(seed=5)
    model = fitted(LogisticRegression(), train, "label", ["a", "b", "c"])
    only_positives = train[train["label"] == 1]
    result = evaluate(model, only_positives, target="label")

    assert result.metrics["roc_auc"] is None and result.metrics["auc"] is None
    assert result.metrics["accuracy"] == pytest.approx(
        skm.accuracy_score(only_positives["label"], model.predict(only_positives[["a", "b", "c"]]))
    )
    assert any("roc_auc is undefined" in note and "'label'" in note for note in result.notes)
    assert "roc_curve" not in result.details
    json.loads(result.to_json(), parse_constant=_refuse)


# --- regression ---------------------------------------------------------------------


def test_regression_metrics_equal_scikit_learn() -> None:
    train, test = regression_frame(seed=2), regression_frame(seed=13)
    model = fitted(LinearRegression(), train, "price", ["a", "b"])
    result = evaluate(model, test, target="price")

    y, predicted = test["price"], model.predict(test[["a", "b"]])
    assert result.task == "regression"
    assert result.metrics == pytest.approx(
        {
            "mae": skm.mean_absolute_error(y, predicted),
            "rmse": skm.root_mean_squared_error(y, predicted),
            "r2": skm.r2_score(y, predicted),
            "mape": skm.mean_absolute_percentage_error(y, predicted),
        }
    )
    residuals = result.details["residuals"]
    assert residuals["mean"] == pytest.approx(float(np.mean(y - predicted)))
    histogram = residuals["histogram"]
    assert len(histogram["counts"]) <= 50
    assert len(histogram["edges"]) == len(histogram["counts"]) + 1
    assert sum(histogram["counts"]) == len(test)


def test_the_predicted_versus_actual_sample_is_small_and_repeatable() -> None:
    frame = regression_frame(rows=3000)
    model = fitted(LinearRegression(), frame, "price", ["a", "b"])
    first = evaluate(model, frame, target="price").details["predicted_vs_actual"]
    second = evaluate(model, frame, target="price").details["predicted_vs_actual"]

    assert len(first["actual"]) == len(first["predicted"]) == 1000
    assert first["sampled"] is True
    assert first == second
    actual = set(frame["price"])
    assert all(value in actual for value in first["actual"])


def test_mape_is_skipped_when_the_target_is_zero() -> None:
    frame = regression_frame(rows=200)
    frame.loc[0, "price"] = 0.0
    model = fitted(LinearRegression(), frame, "price", ["a", "b"])
    result = evaluate(model, frame, target="price")

    assert result.metrics["mape"] is None
    assert any("mape" in note for note in result.notes)
    assert result.metrics["mae"] is not None


# --- task inference and inputs ------------------------------------------------------


class Threshold:
    """A model that is no scikit-learn estimator: ``predict`` only, no tags, no classes."""

    def __init__(self, cast: Any) -> None:
        self.cast = cast

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return self.cast((frame["a"] > 0).to_numpy())


@pytest.mark.parametrize(
    ("target_values", "model", "task"),
    [
        (lambda y: y.astype(bool), Threshold(lambda p: p), "classification"),
        (
            lambda y: np.where(y, "b", "a"),
            Threshold(lambda p: np.where(p, "b", "a")),
            "classification",
        ),
        (lambda y: y.astype(int), Threshold(lambda p: p.astype(int)), "classification"),
        (lambda y: y.astype(float), Threshold(lambda p: p.astype(float)), "regression"),
        (lambda y: np.arange(len(y)), Threshold(lambda p: p.astype(int)), "regression"),
        (lambda y: y.astype(float), DecisionTreeClassifier(max_depth=2), "classification"),
        (lambda y: y.astype(int), DecisionTreeRegressor(max_depth=2), "regression"),
    ],
    ids=[
        "bool",
        "text",
        "few integers",
        "floats",
        "many integers",
        "classifier on floats",
        "regressor on few integers",
    ],
)
def test_the_task_is_inferred_from_model_and_target(
    target_values: Any, model: Any, task: str
) -> None:
    frame = binary_frame(rows=300)
    frame["label"] = target_values(frame["label"].to_numpy())
    if hasattr(model, "fit"):
        model.fit(frame[["a", "b"]], frame["label"])
    assert evaluate(model, frame, target="label").task == task


def test_a_regressor_cannot_be_scored_as_a_classifier() -> None:
    frame = binary_frame(rows=300)
    model = fitted(LinearRegression(), frame, "label", ["a", "b"])
    with pytest.raises(InvalidInput, match="predicted continuous values on data") as caught:
        evaluate(model, frame, target="label", task="classification")
    assert caught.value.hint == "use task='regression' for a regressor"


def test_a_discrete_float_target_may_be_classified() -> None:
    frame = binary_frame(rows=300)
    frame["label"] = frame["label"].astype(float)
    model = Threshold(lambda p: p.astype(float))
    result = evaluate(model, frame, target="label", task="classification")
    assert result.task == "classification"
    assert result.details["classes"] == [0.0, 1.0]
    assert result.metrics["accuracy"] == pytest.approx(
        skm.accuracy_score(frame["label"], frame["a"] > 0)
    )


def test_a_pipeline_reads_only_its_features_and_extra_columns_are_ignored() -> None:
    frame = binary_frame(rows=400).assign(customer_id=np.arange(400), note="free text")
    model = make_pipeline(StandardScaler(), LogisticRegression())
    model.fit(frame[["a", "c"]], frame["label"])
    result = evaluate(model, frame, target="label", sensitive=["group"])

    proba = model.predict_proba(frame[["a", "c"]])[:, 1]
    assert result.metrics["roc_auc"] == pytest.approx(skm.roc_auc_score(frame["label"], proba))


def test_a_model_fitted_on_an_array_gets_an_array_without_the_sensitive_column() -> None:
    frame = binary_frame(rows=400)
    model = LogisticRegression().fit(frame[["a", "b", "c"]].to_numpy(), frame["label"])
    result = evaluate(model, frame, target="label", sensitive=["group"])

    predicted = model.predict(frame[["a", "b", "c"]].to_numpy())
    assert result.metrics["accuracy"] == pytest.approx(
        skm.accuracy_score(frame["label"], predicted)
    )


@pytest.mark.parametrize("kind", ["polars", "pyarrow"])
def test_polars_and_arrow_tables_are_evaluated_like_pandas(kind: str) -> None:
    frame = binary_frame(rows=300)
    model = fitted(LogisticRegression(), frame, "label", ["a", "b", "c"])
    if kind == "polars":
        import polars

        table: Any = polars.from_pandas(frame)
    else:
        import pyarrow

        table = pyarrow.Table.from_pandas(frame)
    expected = evaluate(model, frame, target="label", sensitive=["group"]).metrics
    assert evaluate(model, table, target="label", sensitive=["group"]).metrics == pytest.approx(
        expected
    )


# --- overfitting --------------------------------------------------------------------


def test_a_deep_tree_on_noisy_data_is_flagged_as_overfitting() -> None:
    train, test = binary_frame(seed=20, noise=2.0), binary_frame(seed=21, noise=2.0)
    model = fitted(DecisionTreeClassifier(random_state=0), train, "label", ["a", "b", "c"])
    result = evaluate(model, test, target="label", train_data=train)

    overfitting = result.overfitting
    assert overfitting is not None
    assert overfitting["metric"] == "roc_auc"
    assert overfitting["train"] == pytest.approx(1.0)
    assert overfitting["gap"] > 0.2
    assert overfitting["overfitting"] is True
    assert result.metrics["train_roc_auc"] == overfitting["train"]
    assert result.metrics["overfit_gap"] == pytest.approx(
        overfitting["train"] - result.metrics["roc_auc"]
    )


def test_a_shallow_logistic_regression_is_not_flagged() -> None:
    train, test = binary_frame(seed=20, noise=2.0), binary_frame(seed=21, noise=2.0)
    model = fitted(LogisticRegression(), train, "label", ["a", "b", "c"])
    result = evaluate(model, test, target="label", train_data=train, overfit_threshold=0.05)

    assert result.overfitting is not None
    assert result.overfitting["gap"] < 0.05
    assert result.overfitting["overfitting"] is False
    assert result.overfitting["threshold"] == 0.05


def test_regression_overfitting_compares_r2() -> None:
    train, test = regression_frame(rows=300, seed=30), regression_frame(rows=300, seed=31)
    model = fitted(DecisionTreeRegressor(random_state=0), train, "price", ["a", "b"])
    result = evaluate(model, test, target="price", train_data=train)

    assert result.overfitting is not None
    assert result.overfitting["metric"] == "r2"
    assert result.metrics["train_r2"] == pytest.approx(1.0)
    assert result.overfitting["overfitting"] is True


# --- serialisation and report -------------------------------------------------------


def _refuse(constant: str) -> None:
    raise AssertionError(f"{constant} in JSON")


def test_to_json_round_trips_without_nan() -> None:
    frame = binary_frame(rows=300)
    model = fitted(LogisticRegression(), frame, "label", ["a", "b", "c"])
    result = evaluate(model, frame, target="label", sensitive=["group"], train_data=frame)

    loaded = json.loads(result.to_json(), parse_constant=_refuse)
    assert loaded == result.to_dict()
    assert loaded["metrics"] == pytest.approx(result.metrics)
    assert loaded["details"]["roc_curve"]["thresholds"][0] is None  # +inf in scikit-learn
    assert loaded["fairness"]["attributes"]["group"]["groups"][0]["count"] > 0
    assert loaded["overfitting"]["metric"] == "roc_auc"


class Page(HTMLParser):
    """Scripts, chart slots and text of a page, as a browser would split them."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[dict[str, Any]] = []
        self.chart_ids: list[str] = []
        self.texts: list[str] = []
        self.in_script = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script":
            self.scripts.append({"attrs": attributes, "text": ""})
            self.in_script = True
        if "data-chart" in attributes:
            self.chart_ids.append(attributes.get("id") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self.in_script = False

    def handle_data(self, data: str) -> None:
        if self.in_script:
            self.scripts[-1]["text"] += data
        else:
            self.texts.append(data)

    def charts(self) -> dict[str, Any]:
        (spec,) = [s for s in self.scripts if s["attrs"].get("id") == "loopml-charts"]
        return json.loads(spec["text"], parse_constant=_refuse)


def test_the_classification_report_is_self_contained_with_its_charts() -> None:
    frame = binary_frame(rows=400)
    model = fitted(LogisticRegression(), frame, "label", ["a", "b", "c"])
    page_text = evaluate(
        model, frame, target="label", sensitive=["group"], train_data=frame
    ).to_html()
    page = Page(page_text)

    assert page_text.count(PLOTLY_JS) == 1
    assert len(page.scripts) == 3
    assert not any(s["attrs"].get("src") for s in page.scripts)
    assert page.chart_ids == [
        "chart-roc",
        "chart-calibration",
        "chart-confusion",
        "chart-overfitting",
        "chart-fairness-0",
    ]
    assert set(page.charts()) == {"roc", "calibration", "confusion", "overfitting", "fairness-0"}
    assert page_text.index('id="chart-roc"') < page_text.index("<table")  # pictures first


def test_the_regression_report_shows_residuals_and_predicted_vs_actual(tmp_path: Path) -> None:
    frame = regression_frame(rows=300)
    model = fitted(LinearRegression(), frame, "price", ["a", "b"])
    result = evaluate(model, frame, target="price")
    result.save_html(tmp_path / "evaluation.html")
    page = Page((tmp_path / "evaluation.html").read_text(encoding="utf-8"))

    assert page.chart_ids == ["chart-residuals", "chart-predicted-vs-actual"]
    charts = page.charts()
    assert sum(charts["residuals"]["data"][0]["y"]) == 300
    assert len(charts["predicted-vs-actual"]["data"][1]["x"]) == 300


def test_user_labels_are_escaped_in_page_and_charts() -> None:
    frame = binary_frame(rows=400).rename(columns={"group": NASTY})
    frame[NASTY] = np.where(frame[NASTY] == "x", "<b>bold</b>", "<img src=x onerror=alert(1)>")
    frame["label"] = np.where(frame["label"] == 1, "<i>yes</i>", "no")
    model = fitted(LogisticRegression(), frame, "label", ["a", "b", "c"])
    page_text = evaluate(model, frame, target="label", sensitive=[NASTY]).to_html(title=NASTY)
    page = Page(page_text)

    assert len(page.scripts) == 3  # nothing injected
    assert "<img src=x" not in page_text and "<i>yes</i>" not in page_text
    assert NASTY in " ".join(page.texts)  # shown, as text
    charts = page.charts()
    assert charts["confusion"]["data"][0]["x"] == ["&lt;i&gt;yes&lt;/i&gt;", "no"]
    groups = charts["fairness-0"]["data"][0]["x"]
    assert "&lt;b&gt;bold&lt;/b&gt;" in groups


def test_figures_are_valid_plotly_figures_by_chart_id() -> None:
    frame = multiclass_frame(rows=300)
    model = fitted(LogisticRegression(), frame, "kind", ["a", "b"])
    figures = evaluate(model, frame, target="kind").figures()
    assert list(figures) == ["confusion"]
    assert figures["confusion"].data[0].type == "heatmap"

    frame = binary_frame(rows=300)
    model = fitted(LogisticRegression(), frame, "label", ["a", "b", "c"])
    figures = evaluate(
        model, frame, target="label", sensitive=["group"], train_data=frame
    ).figures()
    assert list(figures) == ["roc", "calibration", "confusion", "overfitting", "fairness-0"]
    assert all(isinstance(figure, go.Figure) for figure in figures.values())
    assert [trace.name for trace in figures["fairness-0"].data] == [
        "selection rate",
        "accuracy",
        "recall",
    ]

    frame = regression_frame(rows=300)
    model = fitted(LinearRegression(), frame, "price", ["a", "b"])
    figures = evaluate(model, frame, target="price", train_data=frame).figures()
    assert list(figures) == ["residuals", "predicted-vs-actual", "overfitting"]


def test_a_saved_and_loaded_model_is_evaluated_like_the_original(tmp_path: Path) -> None:
    import loopml.models

    frame = binary_frame(rows=300)
    model = fitted(LogisticRegression(), frame, "label", ["a", "b", "c"])
    loopml.models.save(model, tmp_path / "model", input_example=frame[["a", "b", "c"]][:5])
    loaded = loopml.models.load(tmp_path / "model")

    result = evaluate(loaded, frame, target="label", sensitive=["group"])
    assert result.metrics == pytest.approx(
        evaluate(model, frame, target="label", sensitive=["group"]).metrics
    )
    assert "brier" in result.metrics


def test_importing_evaluation_loads_neither_scikit_learn_nor_fairlearn() -> None:
    code = (
        "import sys, loopml.models.evaluation\n"
        "print(sorted(m for m in ('sklearn', 'fairlearn', 'plotly') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# --- bad input ----------------------------------------------------------------------


class NoPredict:
    def fit(self) -> None: ...


@pytest.fixture
def classifier() -> tuple[Any, pd.DataFrame]:
    frame = binary_frame(rows=200)
    return fitted(LogisticRegression(), frame, "label", ["a", "b", "c"]), frame


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda m, f: {"target": "churned"},
            r"target column 'churned' is not in data; "
            r"columns are: 'a', 'b', 'c', 'group', 'label'",
        ),
        (lambda m, f: {"sensitive": ["sex"]}, r"sensitive column 'sex' is not in the data"),
        (lambda m, f: {"data": f.iloc[:0]}, r"data has no rows"),
        (lambda m, f: {"task": "ranking"}, r"task 'ranking' is unknown"),
        (lambda m, f: {"model": NoPredict()}, r"model of type NoPredict has no predict\(\)"),
        (
            lambda m, f: {"data": f.assign(label=f["a"]), "task": "classification"},
            r"target column 'label' of data is continuous",
        ),
        (
            lambda m, f: {"data": f.assign(label=f["group"]), "task": "regression"},
            r"target column 'label' of data holds .* values, not numbers",
        ),
        (lambda m, f: {"pos_label": 2}, r"pos_label 2 is not a class of target 'label'"),
        (
            lambda m, f: {"train_data": f.drop(columns=["label"])},
            r"target column 'label' is not in train_data",
        ),
        (lambda m, f: {"data": f.drop(columns=["b"])}, r"data lacks 1 feature column.*'b'"),
        (
            lambda m, f: {"data": f.assign(label=f["label"].astype(float).where(f["a"] > 0))},
            r"target column 'label' of data has \d+ missing values",
        ),
        (lambda m, f: {"data": f.to_dict()}, r"data of type dict is not a table"),
        (lambda m, f: {"overfit_threshold": float("nan")}, r"overfit_threshold nan"),
    ],
    ids=[
        "target missing",
        "sensitive missing",
        "empty data",
        "unknown task",
        "no predict",
        "continuous target classified",
        "text target regressed",
        "unknown pos_label",
        "train data without target",
        "feature missing",
        "target with missing values",
        "not a table",
        "nan threshold",
    ],
)
def test_bad_input_raises_invalid_input_with_a_hint(
    classifier: tuple[Any, pd.DataFrame], change: Any, message: str
) -> None:
    model, frame = classifier
    arguments: dict[str, Any] = {"model": model, "data": frame, "target": "label"}
    arguments.update(change(model, frame))
    with pytest.raises(InvalidInput, match=message) as caught:
        evaluate(arguments.pop("model"), arguments.pop("data"), **arguments)
    assert caught.value.hint
    assert caught.value.to_dict()["error"]["code"] == "invalid_input"


def test_evaluation_is_exported_from_the_models_package() -> None:
    import loopml.models

    frame = binary_frame(rows=200)
    model = fitted(LogisticRegression(), frame, "label", ["a", "b", "c"])
    assert isinstance(loopml.models.evaluate(model, frame, target="label"), Evaluation)

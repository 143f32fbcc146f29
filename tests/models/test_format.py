"""The model format: every flavor round-trips, signatures check inputs, files are verified."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import loopml
from loopml.errors import AlreadyExists, IntegrityFailure, InvalidInput, NotFound
from loopml.models import load, save
from loopml.models.format import MANIFEST

from ..modeldata import FEATURES


class Doubler:
    """A custom model: any object with predict(df)."""

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return frame["x"].to_numpy() * 2


class Tripwire:
    """Unpickling this sets a flag, so a test can tell whether anything was deserialised."""

    loaded = False

    def __init__(self) -> None:
        self.armed = True  # an empty state would never reach __setstate__

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.zeros(len(frame))

    def __setstate__(self, state: dict) -> None:
        Tripwire.loaded = True
        self.__dict__.update(state)


def test_a_scikit_learn_pipeline_round_trips_with_signature_and_requirements(
    tmp_path: Path, churn: pd.DataFrame, churn_model
) -> None:
    info = save(churn_model, tmp_path / "model", input_example=churn[FEATURES][:5])
    assert info.flavor == "sklearn"
    assert [(c.name, c.type) for c in info.signature.inputs] == [
        ("tenure", "integer"),
        ("monthly", "double"),
        ("plan", "string"),
    ]
    assert info.signature.output_type == "integer"
    sklearn_version = importlib.metadata.version("scikit-learn")
    for line in (f"scikit-learn=={sklearn_version}", "scipy==", "numpy==", "pandas==", "loopml=="):
        assert any(r.startswith(line) for r in info.requirements), line
    assert (tmp_path / "model" / "requirements.txt").read_text().split() == info.requirements

    model = load(tmp_path / "model")
    expected = churn_model.predict(churn[FEATURES])
    assert (model.predict(churn) == expected).all()  # extra columns are ignored
    np.testing.assert_allclose(
        model.predict_proba(churn[FEATURES]), churn_model.predict_proba(churn[FEATURES])
    )
    assert model.signature == info.signature
    assert model.input_example().shape == (5, 3)


def test_records_dicts_and_columns_in_any_order_are_accepted(
    tmp_path: Path, churn: pd.DataFrame, churn_model
) -> None:
    save(churn_model, tmp_path / "m", input_example=churn[FEATURES][:5])
    model = load(tmp_path / "m")
    row = {"plan": "basic", "monthly": 80.5, "tenure": 3}
    expected = churn_model.predict(pd.DataFrame([row])[FEATURES])
    assert model.predict(row) == expected
    assert model.predict([row, row]).tolist() == [expected[0]] * 2
    # an integer where a double is expected is widened, a float that is whole narrowed
    assert model.predict({"plan": "basic", "monthly": 80, "tenure": 3.0}) == expected


def test_a_missing_column_is_named_with_its_type(tmp_path: Path, churn, churn_model) -> None:
    save(churn_model, tmp_path / "m", input_example=churn[FEATURES][:5])
    model = load(tmp_path / "m")
    with pytest.raises(InvalidInput, match=r"missing column 'monthly' \(double\)") as caught:
        model.predict(churn[["tenure", "plan"]])
    assert caught.value.details["missing"] == ["monthly"]


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        (
            "monthly",
            "lots",
            r"column 'monthly' holds str values such as 'lots' where the model "
            r"expects double",
        ),
        ("tenure", 2.5, r"column 'tenure' is double but the model expects integer"),
        ("plan", 3, r"column 'plan' is integer but the model expects string"),
    ],
)
def test_a_mistyped_column_is_named_with_the_expected_type(
    tmp_path: Path, churn, churn_model, column: str, value: object, message: str
) -> None:
    save(churn_model, tmp_path / "m", input_example=churn[FEATURES][:5])
    model = load(tmp_path / "m")
    bad = churn[FEATURES][:3].copy()
    bad[column] = value
    with pytest.raises(InvalidInput, match=message):
        model.predict(bad)


def test_numbers_sent_as_strings_are_read_as_numbers(tmp_path: Path, churn, churn_model) -> None:
    save(churn_model, tmp_path / "m", input_example=churn[FEATURES][:5])
    model = load(tmp_path / "m")
    as_text = churn[FEATURES][:4].astype({"monthly": str, "tenure": str})
    assert (model.predict(as_text) == churn_model.predict(churn[FEATURES][:4])).all()


def test_a_model_fitted_on_an_array_takes_an_array(tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression

    x = np.arange(20, dtype=float).reshape(10, 2)
    model = LinearRegression().fit(x, x.sum(axis=1))
    info = save(model, tmp_path / "m", input_example=x[:3])
    assert info.signature.tensor and info.signature.columns == ["0", "1"]
    loaded = load(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict(x), model.predict(x))
    with pytest.raises(InvalidInput, match="the array has 3 columns; the model expects 2"):
        loaded.predict(np.ones((2, 3)))


def test_xgboost_round_trips_in_its_native_format(tmp_path: Path, churn) -> None:
    xgboost = pytest.importorskip("xgboost")
    x = churn[["tenure", "monthly"]]
    model = xgboost.XGBClassifier(n_estimators=10, max_depth=3).fit(x, churn.churned)
    info = save(model, tmp_path / "m", input_example=x[:5])
    assert info.flavor == "xgboost"
    assert (tmp_path / "m" / "model.ubj").is_file() and not (tmp_path / "m" / "model.pkl").exists()
    assert any(r.startswith("xgboost") for r in info.requirements)
    loaded = load(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict_proba(x), model.predict_proba(x), rtol=1e-6)
    booster = model.get_booster()
    save(booster, tmp_path / "b", input_example=x[:5])
    np.testing.assert_allclose(
        load(tmp_path / "b").predict(x), booster.predict(xgboost.DMatrix(x)), rtol=1e-6
    )


def test_lightgbm_round_trips_both_apis(tmp_path: Path, churn) -> None:
    lightgbm = pytest.importorskip("lightgbm")
    x = churn[["tenure", "monthly"]]
    model = lightgbm.LGBMClassifier(n_estimators=10, verbose=-1).fit(x, churn.churned)
    info = save(model, tmp_path / "m", input_example=x[:5])
    assert info.flavor == "lightgbm"
    np.testing.assert_allclose(load(tmp_path / "m").predict_proba(x), model.predict_proba(x))
    booster = model.booster_
    save(booster, tmp_path / "b", input_example=x[:5])
    assert (tmp_path / "b" / "model.txt").is_file()
    np.testing.assert_allclose(load(tmp_path / "b").predict(x), booster.predict(x))


# TorchScript is deprecated in favour of torch.export but still what many models ship as.
@pytest.mark.filterwarnings("ignore:`torch.jit.*deprecated:DeprecationWarning")
def test_pytorch_saves_a_state_dict_or_torchscript(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from .torchnet import TinyNet

    net = TinyNet(hidden=4)
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    expected = net(torch.as_tensor(x)).detach().numpy()[:, 0]

    info = save(net, tmp_path / "state", input_example=x[:2], init_kwargs={"hidden": 4})
    assert (tmp_path / "state" / "state_dict.pt").is_file()
    assert any(r.startswith("torch==") for r in info.requirements)
    np.testing.assert_allclose(load(tmp_path / "state").predict(x), expected, rtol=1e-5)

    save(torch.jit.script(net), tmp_path / "script", input_example=x[:2])
    np.testing.assert_allclose(load(tmp_path / "script").predict(x), expected, rtol=1e-5)

    with pytest.raises(InvalidInput, match=r"TinyNet\(\*\*init_kwargs\) cannot be called"):
        save(net, tmp_path / "bad", init_kwargs={"width": 4})
    assert not (tmp_path / "bad").exists()


def test_any_object_with_predict_is_a_custom_model(tmp_path: Path) -> None:
    info = save(Doubler(), tmp_path / "m", input_example=pd.DataFrame({"x": [1.0, 2.0]}))
    assert info.flavor == "custom"
    assert load(tmp_path / "m").predict({"x": [3.0]}).tolist() == [6.0]
    with pytest.raises(InvalidInput, match="has no predict_proba"):
        load(tmp_path / "m").predict_proba({"x": [3.0]})


def test_code_paths_travel_with_the_model(tmp_path: Path) -> None:
    module = tmp_path / "src" / "ownmodel.py"
    module.parent.mkdir()
    module.write_text("class Own:\n    def predict(self, df):\n        return df['x'] + 1\n")
    code = (
        "import sys; sys.path.insert(0, 'src'); import ownmodel, loopml.models as m\n"
        "m.save(ownmodel.Own(), 'model', input_example={'x': [1.0]},\n"
        "       code_paths=['src/ownmodel.py'])"
    )
    from ..helpers import run_python

    done = run_python(code, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    loaded = run_python(
        "import loopml.models as m; print(m.load('model').predict({'x': [1.0]}).tolist())",
        cwd=tmp_path,
    )
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "[2.0]"


def test_a_changed_file_is_refused_before_anything_is_deserialised(tmp_path: Path) -> None:
    save(Tripwire(), tmp_path / "m", input_example={"x": [1.0]})
    Tripwire.loaded = False
    load(tmp_path / "m")
    assert Tripwire.loaded
    Tripwire.loaded = False
    example = tmp_path / "m" / "input_example.json"
    example.write_text(example.read_text().replace("1.0", "2.0"))
    with pytest.raises(IntegrityFailure, match="input_example.json .* does not match its hash"):
        load(tmp_path / "m")
    assert not Tripwire.loaded


def test_a_swapped_pickle_is_refused(tmp_path: Path) -> None:
    save(Doubler(), tmp_path / "m", input_example={"x": [1.0]})
    save(Tripwire(), tmp_path / "evil", input_example={"x": [1.0]})
    (tmp_path / "m" / "model.pkl").write_bytes((tmp_path / "evil" / "model.pkl").read_bytes())
    Tripwire.loaded = False
    with pytest.raises(IntegrityFailure, match="model.pkl"):
        load(tmp_path / "m")
    assert not Tripwire.loaded


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: save(object(), p), "cannot save a builtins.object as a model"),
        (lambda p: save(Doubler(), p, flavor="tensorflow"), "unknown model flavor 'tensorflow'"),
        (lambda p: save(Doubler(), p, flavor="sklearn"), "cannot be saved with the 'sklearn'"),
        (
            lambda p: save(Doubler(), p, input_example={"y": [1.0]}),
            "the model failed on its input example: KeyError",
        ),
    ],
)
def test_bad_models_are_refused_and_nothing_is_written(tmp_path: Path, make, message) -> None:
    with pytest.raises(InvalidInput, match=message):
        make(tmp_path / "m")
    assert not (tmp_path / "m").exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_saving_over_a_folder_that_holds_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "keep.txt").write_text("mine")
    with pytest.raises(AlreadyExists, match="exists and is not empty"):
        save(Doubler(), tmp_path / "m")
    assert (tmp_path / "m" / "keep.txt").read_text() == "mine"


def test_loading_what_is_not_a_model_says_so(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    with pytest.raises(InvalidInput, match=f"is not a loopml model: it has no {MANIFEST}"):
        load(tmp_path / "plain")
    with pytest.raises(NotFound, match="no model at"):
        load(tmp_path / "nowhere")
    manifest = {"format": 1, "flavor": "keras", "files": {}}
    (tmp_path / "plain" / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(InvalidInput, match="unknown model flavor 'keras'"):
        load(tmp_path / "plain")


def test_onnx_export_matches_scikit_learn(tmp_path: Path) -> None:
    pytest.importorskip("skl2onnx")
    onnxruntime = pytest.importorskip("onnxruntime")
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 3)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)
    save(model, tmp_path / "m", input_example=x[:5])
    path = loopml.models.export_onnx(load(tmp_path / "m"), tmp_path / "m.onnx")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    labels = session.run(None, {session.get_inputs()[0].name: x})[0]
    assert (labels == model.predict(x)).all()
    with pytest.raises(InvalidInput, match="covers scikit-learn models"):
        loopml.models.export_onnx(Doubler(), tmp_path / "d.onnx")


@pytest.mark.parametrize("name", ["../outside.txt", "/etc/passwd", "a/../../b", "a\\b"])
def test_a_manifest_naming_a_file_outside_the_model_is_refused(tmp_path: Path, name) -> None:
    save(Doubler(), tmp_path / "m", input_example={"x": [1.0]})
    manifest_path = tmp_path / "m" / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["files"][name] = {"hash": "0" * 64, "size": 1}
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(InvalidInput, match="unsafe or malformed file"):
        load(tmp_path / "m")

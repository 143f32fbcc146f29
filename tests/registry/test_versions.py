"""Registering versions with their lineage, reading them back by URI, tags and descriptions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import loopml
from loopml.errors import IntegrityFailure, InvalidInput, NotFound
from loopml.governance.audit import list_events
from loopml.registry import get_version, list_models, list_versions, register, set_tags
from loopml.store import Store

from ..modeldata import FEATURES


def _log(churn: pd.DataFrame, model, **run_options):
    with loopml.start_run(experiment="churn", **run_options) as run:
        loopml.log_metric("auc", 0.9)
        info = loopml.log_model(model, input_example=churn[FEATURES][:5])
    return run, info


def test_a_logged_model_becomes_numbered_versions_with_lineage(
    store: Store, churn: pd.DataFrame, churn_model
) -> None:
    loopml.data.add("customers", churn)
    with loopml.start_run(experiment="churn") as run:
        loopml.data.load("customers@1")
        loopml.log_metric("auc", 0.91)
        info = loopml.log_model(churn_model, input_example=churn[FEATURES][:5])
    first = register(store, info, "churn", description="baseline")
    second = register(store, f"runs:/{run.id}/model", "churn")
    third = register(store, run.id, "churn")
    assert [first.version, second.version, third.version] == [1, 2, 3]
    assert first.uri == "models:/churn/1"
    assert first.flavor == "sklearn" and first.run_id == run.id
    assert first.lineage["datasets"] == ["customers@1"]
    assert first.lineage["run"] == run.id
    assert first.metrics == {"auc": 0.91}
    assert first.signature["inputs"][0] == {"name": "tenure", "type": "integer", "nullable": False}
    assert any(line.startswith("scikit-learn==") for line in first.requirements)
    assert [v.version for v in list_versions(store, "churn")] == [3, 2, 1]
    (model,) = list_models(store)
    assert model.latest_version == 3 and model.description == "baseline"
    events = list_events(store, object_type="model_version")
    registered = [e.object_id for e in events if e.action == "model.register"]
    assert sorted(registered) == ["churn/1", "churn/2", "churn/3"]


def test_versions_load_by_every_uri_form(store: Store, churn: pd.DataFrame, churn_model) -> None:
    _, info = _log(churn, churn_model)
    register(store, info, "churn")
    loopml.registry.set_alias(store, "churn", "champion", 1)
    expected = churn_model.predict(churn[FEATURES])
    for uri in ("models:/churn/1", "models:/churn@champion", "churn@champion", "churn/1", info.uri):
        model = loopml.load_model(uri)
        assert (model.predict(churn) == expected).all(), uri
    assert loopml.load_model("models:/churn@latest").uri == "models:/churn/1"


def test_the_sdk_registers_inside_log_model(project: Path, churn, churn_model) -> None:
    with loopml.start_run(experiment="churn"):
        info = loopml.log_model(churn_model, input_example=churn[FEATURES][:5], registered_name="c")
    assert info.version.uri == "models:/c/1"
    assert loopml.register(info, "c").version == 2


def test_a_saved_folder_registers_without_a_run(store: Store, tmp_path: Path, churn_model, churn):
    loopml.models.save(churn_model, tmp_path / "m", input_example=churn[FEATURES][:5])
    version = register(store, tmp_path / "m", "churn")
    assert version.run_id is None and version.lineage == {}
    assert (loopml.load_model("churn/1").predict(churn[:3]) == churn_model.predict(churn[:3])).all()


def test_tags_and_descriptions_are_stored_and_audited(store: Store, churn, churn_model) -> None:
    _, info = _log(churn, churn_model)
    register(store, info, "churn")
    version = set_tags(store, "churn/1", {"production-ready": True})
    assert version.tags == {"production-ready": "True"}
    model = set_tags(store, "churn", {"team": "growth"})
    assert model.tags == {"team": "growth"}
    loopml.registry.set_description(store, "churn/1", "first cut")
    assert get_version(store, "churn/1").description == "first cut"
    actions = {e.action for e in list_events(store, object_type="model_version")}
    assert {"model.register", "model.tag", "model.describe"} <= actions


@pytest.mark.parametrize(
    ("source", "error", "message"),
    [
        ("missing-folder", NotFound, "no model folder or run at 'missing-folder'"),
        (42, InvalidInput, "cannot register a int"),
    ],
)
def test_registering_what_is_not_a_model_is_refused(store: Store, source, error, message) -> None:
    with pytest.raises(error, match=message):
        register(store, source, "churn")
    assert list_models(store) == []


def test_registering_a_folder_or_run_without_a_model_is_refused(store: Store, tmp_path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.csv").write_text("a\n1\n")
    with pytest.raises(InvalidInput, match="is not a loopml model"):
        register(store, tmp_path / "data", "churn")
    with loopml.start_run(experiment="x") as run:
        loopml.log_text("hello", "notes/readme.txt")
    with pytest.raises(InvalidInput, match=r"has no model at 'model' .*under it: notes"):
        register(store, run.id, "churn")
    with pytest.raises(InvalidInput, match="invalid model name"):
        register(store, tmp_path / "data", "bad name!")
    assert list_models(store) == []


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("models:/nope/1", "model 'nope' is not registered"),
        ("models:/churn/9", "model 'churn' has no version 9; latest is 1"),
        ("models:/churn@gold", r"model 'churn' has no alias 'gold' \(aliases: none yet\)"),
    ],
)
def test_unknown_models_versions_and_aliases_are_named(
    store: Store, churn, churn_model, uri, message
) -> None:
    _, info = _log(churn, churn_model)
    register(store, info, "churn")
    with pytest.raises(NotFound, match=message):
        loopml.load_model(uri)


def test_a_tampered_blob_is_refused_and_nothing_loads(
    store: Store, db: Store, churn, churn_model
) -> None:
    _, info = _log(churn, churn_model)
    version = register(store, info, "churn")
    manifest = loopml.registry.fetch(store, version.uri)[0] / "loopml-model.json"
    pickle_hash = json.loads(manifest.read_text())["files"]["model.pkl"]["hash"]
    blob = db.blobs.path_of(pickle_hash)
    assert blob.is_file()
    shutil.rmtree(manifest.parent)  # the local cache goes, so the blob is read again
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes()[:-1] + b"\x00")
    with pytest.raises(IntegrityFailure, match="does not match its hash"):
        loopml.load_model("churn/1")


def test_a_tampered_cache_is_refused(store: Store, churn, churn_model) -> None:
    _, info = _log(churn, churn_model)
    register(store, info, "churn")
    model = loopml.load_model("churn/1")
    pickle = model.path / "model.pkl"
    pickle.write_bytes(pickle.read_bytes() + b"\x00")
    with pytest.raises(IntegrityFailure, match="model.pkl .* does not match its hash"):
        loopml.load_model("churn/1")


def test_a_fresh_process_loads_and_predicts(project: Path, churn, churn_model) -> None:
    from ..helpers import run_python

    _, info = _log(churn, churn_model)
    loopml.register(info, "churn")
    done = run_python(
        "import loopml; m = loopml.load_model('models:/churn/1');"
        "print(m.predict({'tenure': 3, 'monthly': 99.0, 'plan': 'basic'}).tolist())",
        cwd=project,
    )
    assert done.returncode == 0, done.stderr
    row = pd.DataFrame([{"tenure": 3, "monthly": 99.0, "plan": "basic"}])
    assert done.stdout.strip() == str(np.asarray(churn_model.predict(row)).tolist())


def test_a_cached_model_loads_without_the_store_layers_and_follows_alias_moves(
    project: Path, churn, churn_model
) -> None:
    from ..helpers import run_python

    _, info = _log(churn, churn_model)
    loopml.register(info, "churn")
    loopml.register(info, "churn")
    store = loopml.default_store()
    loopml.registry.set_alias(store, "churn", "champion", 1)
    code = (
        "import sys, loopml; m = loopml.load_model('churn@champion');"
        "print(m.uri, 'sqlalchemy' in sys.modules)"
    )
    first = run_python(code, cwd=project)  # materialises the files through the store
    assert first.returncode == 0, first.stderr
    assert first.stdout.split() == ["models:/churn/1", "True"]
    cached = run_python(code, cwd=project)
    assert cached.stdout.split() == ["models:/churn/1", "False"]
    loopml.registry.set_alias(store, "churn", "champion", 2)  # same files, new version
    moved = run_python(code, cwd=project)
    assert moved.stdout.split() == ["models:/churn/2", "False"]
    gone = run_python("import loopml; loopml.load_model('churn@nothere')", cwd=project)
    assert gone.returncode == 1 and "has no alias 'nothere'" in gone.stderr

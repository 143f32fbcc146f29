from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

import loopml
from loopml.errors import InvalidInput, NotFound
from loopml.governance import list_events
from loopml.tracking import download_artifacts, list_artifacts, read_artifact


@pytest.fixture(params=["local", "s3"])
def blob_location(request: pytest.FixtureRequest, project: Path, monkeypatch) -> str:
    if request.param == "s3":
        monkeypatch.setenv("LOOPML_ARTIFACTS_URL", request.getfixturevalue("s3_url"))
    return request.param


def test_files_and_folders_are_attached_and_come_back_byte_identical(
    blob_location: str, tmp_path: Path
) -> None:
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "weights.bin").write_bytes(bytes(range(256)) * 100)
    (folder / "sub" / "config.json").write_text('{"a": 1}')
    single = tmp_path / "notes.txt"
    single.write_text("hello")
    with loopml.start_run() as run:
        run.log_artifact(single)
        run.log_artifact(folder, "model")
    paths = [entry.path for entry in list_artifacts(run.store, run.id)]
    assert paths == ["model/sub/config.json", "model/weights.bin", "notes.txt"]
    assert [e.path for e in list_artifacts(run.store, run.id, "model/sub")] == [
        "model/sub/config.json"
    ]
    out = tmp_path / "out"
    download_artifacts(run.store, run.id, out)
    assert (out / "model" / "weights.bin").read_bytes() == (folder / "weights.bin").read_bytes()
    assert (out / "notes.txt").read_text() == "hello"


def test_log_dict_text_figure_and_table(project: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import plotly.graph_objects as go

    figure, axis = plt.subplots()
    axis.plot([0, 1], [0, 1])
    frame = pd.DataFrame({"x": [1, 2, 3], "label": ["a", "b", "c"]})
    with loopml.start_run() as run:
        run.log_dict({"lr": 0.1, "layers": [64, 32]}, "config.json")
        run.log_dict({"lr": 0.1}, "config.yaml")
        run.log_text("free text", "notes/readme.md")
        run.log_figure(figure, "plots/roc.png")
        run.log_figure(go.Figure(go.Scatter(x=[1, 2], y=[3, 4])), "plots/live.html")
        run.log_figure(go.Figure(), "plots/live.json")
        run.log_table(frame, "predictions.parquet")
        run.log_table(frame, "predictions.csv")
        run.log_table(frame, "predictions.json")
    plt.close(figure)

    def read(path: str) -> bytes:
        return read_artifact(run.store, run.id, path)

    assert json.loads(read("config.json")) == {"lr": 0.1, "layers": [64, 32]}
    assert yaml.safe_load(read("config.yaml")) == {"lr": 0.1}
    assert read("notes/readme.md") == b"free text"
    assert read("plots/roc.png").startswith(b"\x89PNG")
    html = read("plots/live.html")
    assert b"<html>" in html and b'<script src="https://cdn' not in html  # opens offline
    assert json.loads(read("plots/live.json"))["data"] == []
    pd.testing.assert_frame_equal(pd.read_parquet(io.BytesIO(read("predictions.parquet"))), frame)
    assert read("predictions.csv").decode().splitlines()[0] == '"x","label"'
    assert json.loads(read("predictions.json").splitlines()[0]) == {"x": 1, "label": "a"}
    media = {e.path: e.media_type for e in list_artifacts(run.store, run.id)}
    assert media["plots/roc.png"] == "image/png"


@pytest.mark.parametrize("bad", ["../escape.txt", "/abs/path.txt", "a/../../b.txt", "a\\b.txt"])
def test_paths_that_escape_are_refused_and_nothing_is_stored(project: Path, bad: str) -> None:
    with loopml.start_run() as run:
        with pytest.raises(InvalidInput):
            run.log_text("x", bad)
        with pytest.raises(InvalidInput):
            run.log_artifact(project / ".loopml" / "loopml.db", bad)
    assert list_artifacts(run.store, run.id) == []
    assert list(run.store.blobs.iter_hashes()) == []  # refused before any blob was written


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda run: run.log_figure(object(), "x.png"), "cannot log a object as a figure"),
        (lambda run: run.log_table([1, 2], "x.parquet"), "cannot log a list as a table"),
        (lambda run: run.log_table(pd.DataFrame({"a": [1]}), "x.xlsx"), "cannot save a table"),
        (lambda run: run.log_dict({"a": object()}, "x.json"), "cannot log x.json as JSON"),
        (lambda run: run.log_text(b"bytes", "x.txt"), "needs a str"),
    ],
)
def test_unsupported_objects_are_refused_clearly(project: Path, call, message) -> None:
    with loopml.start_run() as run, pytest.raises(InvalidInput, match=message):
        call(run)
    assert list_artifacts(run.store, run.id) == []


def test_missing_local_files_are_named(project: Path) -> None:
    with loopml.start_run() as run, pytest.raises(NotFound, match="no file or folder at"):
        run.log_artifact(project / "nope.txt")


def test_replacing_a_file_is_audited_with_the_old_hash(project: Path) -> None:
    with loopml.start_run() as run:
        first = run.log_text("v1", "model.txt")
        second = run.log_text("v2", "model.txt")
        run.log_text("v2", "model.txt")  # unchanged: no new event
    events = list_events(run.store, action="run.artifacts")
    assert len(events) == 2
    assert events[0].before == {"model.txt": first.hash}
    assert events[0].after["paths"] == {"model.txt": second.hash}
    assert read_artifact(run.store, run.id, "model.txt") == b"v2"


def test_reading_an_artifact_a_run_does_not_have(project: Path) -> None:
    with loopml.start_run() as run:
        pass
    with pytest.raises(NotFound, match="has no artifact 'x.txt'"):
        read_artifact(run.store, run.id, "x.txt")
    with pytest.raises(NotFound, match="has no artifacts"):
        download_artifacts(run.store, run.id, project / "out")

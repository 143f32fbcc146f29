"""Batch scoring: files in, the same rows with predictions out, in chunks, logged."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import loopml
from loopml.errors import InvalidInput
from loopml.serving.batch import score_file
from loopml.serving.predictions import predictions
from loopml.store import Store

from ..helpers import loopml_cli
from .support import FEATURES, MODEL, customers, expected, sample_rows


@pytest.fixture
def champion(registered: Store) -> loopml.models.LoadedModel:
    return loopml.load_model(f"{MODEL}@champion")


def _rows(count: int) -> pd.DataFrame:
    frame = pd.DataFrame(sample_rows(count), columns=FEATURES)
    frame["customer_id"] = range(count)  # an extra column: kept in the output, not scored
    return frame


@pytest.mark.parametrize(("suffix", "chunk_rows", "chunks"), [(".parquet", 7, 6), (".csv", 50, 1)])
def test_every_row_is_scored_in_chunks_and_logged(
    registered: Store, champion, tmp_path: Path, suffix: str, chunk_rows: int, chunks: int
) -> None:
    frame = _rows(40)
    source = tmp_path / f"in{suffix}"
    output = tmp_path / f"out{suffix}"
    if suffix == ".csv":
        frame.to_csv(source, index=False)
    else:
        frame.to_parquet(source, index=False)
    seen = []
    result = score_file(
        champion,
        source,
        output,
        store=registered,
        deployment="nightly",
        chunk_rows=chunk_rows,
        on_progress=lambda done, total: seen.append((done, total)),
    )
    assert (result.rows, result.chunks, result.model) == (40, chunks, f"{MODEL}/1")
    scored = pd.read_csv(output) if suffix == ".csv" else pd.read_parquet(output)
    assert list(scored.columns) == [*FEATURES, "customer_id", "prediction"]
    assert scored["prediction"].tolist() == expected(frame[FEATURES].to_numpy().tolist())
    assert scored["customer_id"].tolist() == list(range(40))
    assert seen[-1][0] == 40
    logged = predictions(registered, "nightly")
    assert len(logged) == 40
    assert set(logged["variant"]) == {"batch"}
    assert sorted(logged["customer_id"]) == list(range(40))
    assert not list(tmp_path.glob(".*.partial"))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: f.drop(columns=["monthly"]), "missing column 'monthly'"),
        (lambda f: f.assign(tenure="long"), "column 'tenure' holds str"),
        (lambda f: f.assign(support_calls=None), "column 'support_calls' holds a missing"),
    ],
    ids=["missing-column", "wrong-type", "null"],
)
def test_bad_rows_name_the_rows_and_column_and_leave_no_output(
    registered: Store, champion, tmp_path: Path, mutate, message: str
) -> None:
    source = tmp_path / "in.parquet"
    mutate(_rows(10)).to_parquet(source, index=False)
    output = tmp_path / "out.parquet"
    with pytest.raises(InvalidInput, match=rf"rows 1-10 of in.parquet: .*{message}"):
        score_file(champion, source, output, store=registered)
    assert not output.exists()
    assert not list(tmp_path.glob(".*.partial"))
    assert predictions(registered, MODEL).empty


@pytest.mark.parametrize(
    ("name", "target", "message"),
    [
        ("missing.parquet", "out.parquet", "does not exist"),
        ("in.parquet", "in.parquet", "overwrite the input"),
        ("in.parquet", "out.json", "cannot tell the format"),
    ],
)
def test_bad_paths_are_refused(
    champion, tmp_path: Path, name: str, target: str, message: str
) -> None:
    _rows(3).to_parquet(tmp_path / "in.parquet", index=False)
    with pytest.raises(InvalidInput, match=message):
        score_file(champion, tmp_path / name, tmp_path / target)


def test_an_empty_file_is_refused(champion, tmp_path: Path) -> None:
    source = tmp_path / "empty.parquet"
    _rows(3).head(0).to_parquet(source, index=False)
    with pytest.raises(InvalidInput, match="holds no rows"):
        score_file(champion, source, tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()


def test_the_cli_scores_a_file_and_prints_json(
    registered: Store, project: Path, tmp_path: Path
) -> None:
    _rows(25).to_csv(tmp_path / "in.csv", index=False)
    done = loopml_cli(
        "predict", f"{MODEL}@champion", str(tmp_path / "in.csv"), "-o",
        str(tmp_path / "out.parquet"), "--chunk-rows", "10", "--json", cwd=project,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["rows"], result["chunks"], result["logged_as"]) == (25, 3, MODEL)
    assert len(pd.read_parquet(tmp_path / "out.parquet")) == 25


def test_the_cli_refuses_bad_input_in_one_line(
    registered: Store, project: Path, tmp_path: Path
) -> None:
    _rows(5).drop(columns=["tenure"]).to_csv(tmp_path / "in.csv", index=False)
    done = loopml_cli(
        "predict", f"{MODEL}@champion", str(tmp_path / "in.csv"), "-o",
        str(tmp_path / "out.csv"), cwd=project,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("error: rows 1-5 of in.csv: input is missing column 'tenure'")
    assert done.stderr.count("\n") == 1
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.slow
def test_partitions_are_scored_on_a_dask_cluster(
    project: Path, model_folders: dict[int, Path], tmp_path: Path
) -> None:
    # One embedded store only: the cluster is what this test is about, not the backend.
    from distributed import LocalCluster

    from loopml.registry import register
    from loopml.serving.batch import score_on_dask

    registered = loopml.default_store()
    register(registered, model_folders[1], MODEL)
    champion = loopml.load_model(f"{MODEL}/1")

    frame = customers(60)
    source = tmp_path / "in"
    source.mkdir()
    for part in range(3):
        frame.iloc[part * 20 : (part + 1) * 20].to_parquet(source / f"{part}.parquet")
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
        host="127.0.0.1",
    ) as cluster:  # fmt: skip
        result = score_on_dask(
            champion, source, tmp_path / "out", cluster.scheduler_address, store=registered
        )
    assert (result.rows, result.chunks) == (60, 3)
    scored = pd.read_parquet(tmp_path / "out").sort_values("tenure").reset_index(drop=True)
    local = champion.predict(scored[FEATURES])
    assert scored["prediction"].tolist() == local.tolist()
    assert len(predictions(registered, MODEL)) == 60

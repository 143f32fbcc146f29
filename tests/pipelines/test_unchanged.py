"""A re-run that nothing has changed reuses the last run without importing the pipeline's
code; any change at all (a file, a param, a package, a dataset version, a missing output,
a step that must always run) takes the normal path."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import update

import loopml
import loopml.data
import loopml.pipelines
from loopml.store import Store
from loopml.store.schema import pipeline_runs

from .conftest import statuses

# Each test runs on the embedded store and through a team server.
pytestmark = pytest.mark.usefixtures("mode")

PIPELINE = """
from pathlib import Path

import pandas as pd

import helpers
import loopml

# Counts how often this file is imported: the check must not import it.
with open(Path(__file__).with_name("imports.log"), "a") as log:
    log.write("x")


@loopml.step
def ingest(name: str) -> pd.DataFrame:
    return loopml.data.load(name)


@loopml.step
def total(frame: pd.DataFrame, factor: float = 1.0) -> float:
    return helpers.scale(float(frame["v"].sum()), factor)


@loopml.pipeline
def summary(name: str = "numbers"):
    total(ingest(name))
"""

HELPERS = """
def scale(value, factor):
    return value * factor
"""


@pytest.fixture
def pipeline(project: Path, write) -> Path:
    loopml.data.add("numbers", pd.DataFrame({"v": [1.0, 2.0, 3.0]}))
    write(HELPERS, "helpers.py")
    return write(PIPELINE)


def _imports(project: Path) -> int:
    path = project / "imports.log"
    return len(path.read_text()) if path.exists() else 0


def _run(cli, *args: str) -> dict:
    return cli.json("pipeline", "run", "pipe.py", *args)


def _unchanged(run: dict) -> bool:
    return all(step["reason"].startswith("unchanged since run") for step in run["steps"])


def test_an_unchanged_rerun_reuses_every_step_without_importing_the_code(
    project, pipeline, cli
) -> None:
    first = _run(cli)
    assert _imports(project) == 1
    second = _run(cli)
    assert _imports(project) == 1  # not imported again
    assert _unchanged(second)
    assert statuses(second) == {"ingest": "CACHED", "total": "CACHED"}
    assert second["status"] == "FINISHED" and second["id"] != first["id"]
    for step in second["steps"]:
        assert step["reused_from"] == first["id"]
        assert step["outputs"] == next(
            s["outputs"] for s in first["steps"] if s["name"] == step["name"]
        )
    assert loopml.pipelines.output(second["id"], "total") == 6.0
    third = _run(cli)  # and again, from the reused run
    assert _unchanged(third) and _imports(project) == 1


@pytest.mark.parametrize(
    "change",
    ["helper", "pipeline file", "param", "dataset", "missing output", "packages"],
)
def test_any_change_takes_the_normal_path(project, pipeline, cli, change, db) -> None:
    first = _run(cli)
    args: tuple[str, ...] = ()
    expected = {"ingest": "CACHED", "total": "CACHED"}
    if change == "helper":
        (project / "helpers.py").write_text(HELPERS.replace("value * factor", "factor * value"))
        expected = {"ingest": "CACHED", "total": "COMPLETED"}
    elif change == "pipeline file":
        pipeline.write_text(pipeline.read_text() + "\n# a comment changes the file's bytes\n")
    elif change == "param":
        args = ("-p", "total.factor=2")
        expected = {"ingest": "CACHED", "total": "COMPLETED"}
    elif change == "dataset":
        loopml.data.add("numbers", pd.DataFrame({"v": [5.0]}))
        expected = {"ingest": "COMPLETED", "total": "COMPLETED"}
    elif change == "missing output":
        digest = next(s for s in first["steps"] if s["name"] == "total")["outputs"][0]["hash"]
        blob = db.blobs.path_of(digest)
        blob.chmod(0o600)
        blob.unlink()
        expected = {"ingest": "CACHED", "total": "COMPLETED"}
    elif change == "packages":
        recorded = json.loads(_manifest(db, first["id"]))
        recorded["packages"] = "another environment"
        with db.write() as connection:
            connection.execute(
                update(pipeline_runs)
                .where(pipeline_runs.c.run_id == first["id"])
                .values(manifest=json.dumps(recorded))
            )
    again = _run(cli, *args)
    assert _imports(project) == 2  # the normal path imports and checks every step
    assert not _unchanged(again)
    assert statuses(again) == expected


def _manifest(db: Store, run_id: str) -> str:
    from sqlalchemy import select

    with db.read() as connection:
        return connection.execute(
            select(pipeline_runs.c.manifest).where(pipeline_runs.c.run_id == run_id)
        ).scalar_one()


def test_no_cache_a_failed_run_or_a_step_that_always_runs_skip_the_check(
    project, pipeline, cli
) -> None:
    _run(cli)
    again = _run(cli, "--no-cache")
    assert statuses(again) == {"ingest": "COMPLETED", "total": "COMPLETED"}
    pipeline.write_text(
        pipeline.read_text().replace(
            "@loopml.step\ndef total", "@loopml.step(cache=False)\ndef total"
        )
    )
    _run(cli)
    latest = _run(cli)
    assert not _unchanged(latest)
    assert statuses(latest) == {"ingest": "CACHED", "total": "COMPLETED"}


def test_the_manifest_names_the_files_the_run_depended_on(project, pipeline, cli, db) -> None:
    run = _run(cli)
    files = json.loads(_manifest(db, run["id"]))["files"]
    assert str(pipeline.resolve()) in files
    assert str((project / "helpers.py").resolve()) in files
    assert not any("site-packages" in path for path in files)
    assert json.loads(_manifest(db, run["id"]))["datasets"] == {"numbers": "numbers@1"}


def test_a_file_edited_while_the_run_goes_on_is_not_vouched_for(project, write, cli, db) -> None:
    loopml.data.add("numbers", pd.DataFrame({"v": [1.0, 2.0, 3.0]}))
    write(HELPERS, "helpers.py")
    write(
        PIPELINE.replace(
            'return helpers.scale(float(frame["v"].sum()), factor)',
            "value = helpers.scale(float(frame['v'].sum()), factor)\n"
            "    Path(__file__).with_name('helpers.py').write_text("
            "'def scale(value, factor):\\n    return value * factor * 100\\n')\n"
            "    return value",
        )
    )
    first = _run(cli)
    assert _manifest(db, first["id"]) is None  # helpers.py changed under it
    again = _run(cli)
    assert not _unchanged(again)
    assert statuses(again)["total"] == "COMPLETED"  # the edited helper runs
    assert loopml.pipelines.output(again["id"], "total") == 600.0


def test_a_file_with_several_pipelines_needs_a_name_to_be_reused(project, write, cli) -> None:
    loopml.data.add("numbers", pd.DataFrame({"v": [1.0]}))
    write(HELPERS, "helpers.py")
    write(PIPELINE + "\n\n@loopml.pipeline\ndef other(name: str = 'numbers'):\n    ingest(name)\n")
    cli.json("pipeline", "run", "pipe.py:summary")
    cli.json("pipeline", "run", "pipe.py:other")
    again = cli.json("pipeline", "run", "pipe.py:other")
    assert _unchanged(again) and again["pipeline"] == "other"
    plain = cli("pipeline", "run", "pipe.py")  # ambiguous: the normal path says so
    assert plain.returncode == 2 and "several pipelines" in plain.stderr

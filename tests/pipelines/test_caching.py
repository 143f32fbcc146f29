"""Caching end to end: what a second run reuses, what makes a step run again, and the
reason recorded for each step, as ``loopml pipeline explain`` shows it."""

from __future__ import annotations

import pandas as pd
import pytest

import loopml
import loopml.data
import loopml.pipelines
from loopml.store import default_store

from .conftest import reasons, statuses

# Each test runs on the embedded store and through a team server.
pytestmark = pytest.mark.usefixtures("mode")

PIPELINE = """
import pandas as pd
import loopml


@loopml.step
def ingest() -> pd.DataFrame:
    return loopml.data.load("customers")


@loopml.step
def features(frame: pd.DataFrame, scale: int = 1) -> pd.DataFrame:
    return frame.assign(weighted=frame["spend"] * scale)


@loopml.step
def plans(frame: pd.DataFrame) -> list:
    return sorted(set(frame["plan"]))


@loopml.step
def spend_of(plan: str, frame: pd.DataFrame) -> float:
    return float(frame.loc[frame["plan"] == plan, "weighted"].sum())


@loopml.step(cache=False)
def publish(frame: pd.DataFrame) -> int:
    return len(frame)


@loopml.pipeline
def churn():
    frame = features(ingest())
    spend_of.map(plans(frame), frame=frame)
    publish(frame)
"""

CUSTOMERS = pd.DataFrame(
    {"id": [1, 2, 3, 4], "plan": ["basic", "pro", "basic", "pro"], "spend": [10.0, 50, 12, 70]}
)
ALL_STEPS = {
    "ingest",
    "features",
    "plans",
    "spend_of",
    "spend_of[0]",
    "spend_of[1]",
    "publish",
}


@pytest.fixture
def churn(project, write):
    """The pipeline file, its dataset added, and its first run."""
    loopml.data.add("customers", CUSTOMERS)
    path = write(PIPELINE)
    first = loopml.pipelines.run(path)
    assert statuses(first) == dict.fromkeys(ALL_STEPS, "COMPLETED")
    assert set(reasons(first).values()) == {
        "first run of this step",
        "mapped over 2 items",
        "cache=False on the step",
    }
    return path, first


def test_a_second_run_reuses_every_step(churn) -> None:
    path, first = churn
    second = loopml.pipelines.run(path)
    assert second.status == "FINISHED"
    reused = {name for name, status in statuses(second).items() if status == "CACHED"}
    assert reused == ALL_STEPS - {"publish"}
    for name in reused:
        step = second.step(name)
        assert step.reason.startswith(f"cache hit: same key as in run {first.id[:8]}")
        assert step.outputs == first.step(name).outputs
        assert step.run_id is None  # nothing ran, so no tracked run was made
    assert second.step("spend_of[0]").reused_from == first.id
    assert loopml.pipelines.output(second.id, "spend_of") == [22.0, 120.0]


def test_a_step_with_cache_off_runs_every_time(churn) -> None:
    path, _ = churn
    second = loopml.pipelines.run(path)
    assert second.step("publish").status == "COMPLETED"
    assert second.step("publish").reason == "cache=False on the step"
    assert second.step("publish").attempts == 1


def test_no_cache_runs_every_step(churn, cli) -> None:
    again = cli.json("pipeline", "run", "pipe.py", "--no-cache")
    assert statuses(again) == dict.fromkeys(ALL_STEPS, "COMPLETED")
    assert reasons(again)["ingest"] == "cache off (--no-cache)"
    assert reasons(again)["spend_of[1]"] == "cache off (--no-cache)"


def test_a_new_dataset_version_invalidates_the_step_that_reads_it(churn) -> None:
    path, _ = churn
    assert not loopml.data.add("customers", CUSTOMERS.copy()).created  # same content
    assert loopml.pipelines.run(path).step("ingest").status == "CACHED"

    loopml.data.add("customers", CUSTOMERS.assign(spend=CUSTOMERS["spend"] + 1))
    third = loopml.pipelines.run(path)
    assert third.step("ingest").status == "COMPLETED"
    assert third.step("ingest").reason == (
        "dataset customers now resolves to customers@2 (was customers@1)"
    )
    assert third.step("ingest").key_parts["datasets"] == {"customers": "customers@2"}
    assert third.step("features").reason == "input frame changed"
    assert third.step("plans").reason == "input frame changed"
    assert loopml.pipelines.output(third.id, "spend_of") == [24.0, 122.0]
    assert loopml.pipelines.run(path).step("ingest").status == "CACHED"


def test_a_param_change_reruns_the_step_and_what_follows(churn) -> None:
    path, _ = churn
    again = loopml.pipelines.run(path, {"features.scale": 2})
    assert again.step("ingest").status == "CACHED"
    assert again.step("features").reason == "param scale: 1 -> 2"
    assert again.step("spend_of[0]").reason == "input frame changed"
    assert again.step("publish").status == "COMPLETED"
    assert loopml.pipelines.output(again.id, "spend_of") == [44.0, 240.0]


def test_a_deleted_artifact_makes_its_step_run_again(churn, db) -> None:
    path, first = churn
    [lost] = first.step("features").outputs
    db.blobs.delete(lost.hash)
    again = loopml.pipelines.run(path)
    assert again.step("features").status == "COMPLETED"
    assert again.step("features").reason == (
        "its earlier outputs are no longer in the artifact store"
    )
    assert again.step("features").outputs == [lost]  # rebuilt, byte for byte
    assert again.step("ingest").status == "CACHED"
    assert again.step("plans").status == "CACHED"
    assert default_store().blobs.exists(lost.hash)


def test_explain_lists_every_step_with_its_reason(churn, cli) -> None:
    path, first = churn
    second = loopml.pipelines.run(path, {"features.scale": 3})
    done = cli("pipeline", "explain", second.id[:10])
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [cell.strip() for cell in lines[0].split("┃")] == [
        "step",
        "status",
        "why",
        "attempts",
        "duration",
    ]
    cells = [[cell.strip() for cell in line.split("│")] for line in lines[2:]]
    rows = {row[0]: row[1:3] for row in cells}
    assert rows == {step.name: [step.status, step.reason] for step in second.steps}
    assert rows["ingest"] == ["CACHED", f"cache hit: same key as in run {first.id[:8]}"]
    assert rows["features"] == ["COMPLETED", "param scale: 1 -> 3"]
    assert set(rows) == ALL_STEPS
    explained = cli.json("pipeline", "explain", second.id)
    assert reasons(explained) == reasons(second)
    missing = cli("pipeline", "explain", "ffffffff")
    assert missing.returncode == 3
    assert missing.stderr.startswith("error: pipeline run 'ffffffff' not found")


def test_a_reproduce_run_does_not_hide_a_valid_older_cache_entry(project, write) -> None:
    # reproduce records the same key with the old, pinned versions: the next normal run
    # must still find the entry that read what the name resolves to now.
    loopml.data.add("customers", pd.DataFrame({"plan": ["a"], "spend": [1.0]}))
    path = write(
        """
        import loopml

        @loopml.step
        def total() -> float:
            return float(loopml.data.load("customers")["spend"].sum())

        @loopml.pipeline
        def sums():
            total()
        """
    )
    old = loopml.pipelines.run(path)
    loopml.data.add("customers", pd.DataFrame({"plan": ["a"], "spend": [5.0]}))
    new = loopml.pipelines.run(path)
    from loopml.pipelines.reproduce import reproduce_run

    assert reproduce_run(old.id, force=True).identical
    again = loopml.pipelines.run(path, cache=True)
    assert statuses(again) == {"total": "CACHED"}
    assert reasons(again)["total"] == f"cache hit: same key as in run {new.id[:8]}"


def test_a_folder_got_inside_a_step_joins_its_cache_key(project, write, tmp_path) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "a.txt").write_text("one")
    loopml.data.add("images", folder)
    path = write(
        f"""
        import loopml

        @loopml.step
        def count() -> int:
            return len(loopml.data.get("images", {str(tmp_path / "out")!r}))

        @loopml.pipeline
        def counting():
            count()
        """
    )
    first = loopml.pipelines.run(path)
    assert first.step("count").key_parts["datasets"] == {"images": "images@1"}
    (folder / "b.txt").write_text("two")
    loopml.data.add("images", folder)
    again = loopml.pipelines.run(path)
    assert reasons(again)["count"] == "dataset images now resolves to images@2 (was images@1)"
    assert loopml.pipelines.output(again.id, "count") == 2

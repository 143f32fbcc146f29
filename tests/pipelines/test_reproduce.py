"""``loopml pipeline reproduce``: a past run again, on its commit, with its params and the
dataset versions it read, compared step by step with the original."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest

import loopml.data
import loopml.pipelines

# Each test runs on the embedded store and through a team server.
pytestmark = pytest.mark.usefixtures("mode")

PIPELINE = """
import random

import pandas as pd
import loopml


@loopml.step
def ingest() -> pd.DataFrame:
    return loopml.data.load("customers")


@loopml.step
def features(frame: pd.DataFrame, scale: float = 2.0) -> pd.DataFrame:
    return frame.assign(weighted=frame["spend"] * scale)


@loopml.step
def sample(frame: pd.DataFrame) -> list:
    return sorted(frame["id"].tolist()){noise}


@loopml.step
def report(ids: list, frame: pd.DataFrame) -> dict:
    return {{"ids": ids, "total": float(frame["weighted"].sum())}}


@loopml.pipeline
def churn():
    frame = features(ingest())
    report(sample(frame), frame)
"""

CUSTOMERS = pd.DataFrame({"id": [3, 1, 2], "spend": [10.0, 20.0, 30.0]})


def _git(folder: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True)


@pytest.fixture
def repo(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The project as a git repository holding the committed pipeline and its data."""
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Test User")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "test@example.com")
    _git(project, "init", "-q")
    (project / "pipe.py").write_text(PIPELINE.format(noise=""), encoding="utf-8")
    _git(project, "add", "pipe.py")
    _git(project, "commit", "-q", "-m", "pipeline")
    loopml.data.add("customers", CUSTOMERS)
    return project


def test_a_run_reproduces_step_for_step(repo, cli) -> None:
    original = loopml.pipelines.run(repo / "pipe.py", {"features.scale": 3})
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert original.git_commit == head  # the pipeline's repository, not loopml's
    assert original.git_dirty is False

    report = cli.json("pipeline", "reproduce", original.id[:8])
    assert report["identical"] is True
    assert report["first_difference"] is None
    assert [row["step"] for row in report["steps"]] == ["ingest", "features", "sample", "report"]
    assert all(row["same"] and row["original"] for row in report["steps"])
    again = loopml.pipelines.get_run(report["new_run"])
    assert again.reproduced_from == original.id
    assert {step.status for step in again.steps} == {"COMPLETED"}  # nothing from the cache
    assert again.step("features").key_parts["params"] == {"scale": 3}
    assert again.step("ingest").reason == f"reproducing run {original.id[:8]}: every step runs"

    table = cli("pipeline", "reproduce", original.id[:8])
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[-1].endswith(
        f"reproduced {original.id[:8]}: all 4 steps match"
    )


def test_reproduce_reads_the_dataset_versions_the_run_read(repo, cli) -> None:
    original = loopml.pipelines.run(repo / "pipe.py")
    loopml.data.add("customers", CUSTOMERS.assign(spend=0.0))
    assert loopml.pipelines.run(repo / "pipe.py").step("ingest").status == "COMPLETED"
    report = cli.json("pipeline", "reproduce", original.id)
    assert report["identical"] is True
    again = loopml.pipelines.get_run(report["new_run"])
    assert again.step("ingest").key_parts["datasets"] == {"customers": "customers@1"}


def test_uncommitted_changes_refuse_to_reproduce_unless_forced(repo, cli) -> None:
    original = loopml.pipelines.run(repo / "pipe.py")
    path = repo / "pipe.py"
    path.write_text(path.read_text() + "\n# tuning notes\n", encoding="utf-8")
    refused = cli("pipeline", "reproduce", original.id[:8])
    assert refused.returncode == 4
    assert refused.stderr == (
        f"error: the working tree has changes that run {original.id[:8]} did not have "
        "(commit or stash them (git stash), or pass --force)\n"
    )
    assert len(loopml.pipelines.list_runs()) == 1  # nothing ran

    forced = cli.json("pipeline", "reproduce", original.id[:8], "--force")
    assert forced["identical"] is True  # a comment does not change what the steps make


def test_a_new_commit_refuses_to_reproduce_naming_the_commit(repo, cli) -> None:
    original = loopml.pipelines.run(repo / "pipe.py")
    (repo / "README.md").write_text("notes\n")
    _git(repo, "add", "README.md")
    _git(repo, "commit", "-q", "-m", "notes")
    refused = cli("pipeline", "reproduce", original.id[:8])
    assert refused.returncode == 4
    assert f"was made at {original.git_commit[:12]}" in refused.stderr
    assert f"(git checkout {original.git_commit[:12]} first, or pass --force)" in refused.stderr


def test_a_run_outside_git_can_only_be_reproduced_by_force(project, write, cli) -> None:
    loopml.data.add("customers", CUSTOMERS)
    original = loopml.pipelines.run(write(PIPELINE.format(noise="")))
    assert original.git_commit is None
    refused = cli("pipeline", "reproduce", original.id[:8])
    assert refused.returncode == 4
    assert "recorded no git commit" in refused.stderr
    assert cli.json("pipeline", "reproduce", original.id[:8], "--force")["identical"] is True


def test_randomness_without_a_seed_is_found_at_the_first_differing_step(repo, cli) -> None:
    path = repo / "pipe.py"
    path.write_text(PIPELINE.format(noise=" + [random.random()]"), encoding="utf-8")
    _git(repo, "commit", "-q", "-am", "sample with noise")
    original = loopml.pipelines.run(path)

    done = cli("pipeline", "reproduce", original.id[:8], "--json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["identical"] is False
    assert report["first_difference"] == "sample"
    same = {row["step"]: row["same"] for row in report["steps"]}
    assert same == {"ingest": True, "features": True, "sample": False, "report": False}
    assert report["summary"] == (
        f"run {report['new_run'][:8]} differs from {original.id[:8]}: first at step 'sample' "
        f"(loopml pipeline explain {report['new_run'][:8]})"
    )

"""Lineage over real records: datasets added, pipelines run (and re-run from the cache),
runs that read data and log files; traced with the service and with ``loopml lineage``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from typer.testing import CliRunner

import loopml
import loopml.data
import loopml.pipelines
from loopml.cli import app
from loopml.errors import InvalidInput, NotFound
from loopml.governance import lineage as lineage_module
from loopml.governance.lineage import LineageNode, lineage
from loopml.pipelines import PipelineRun
from loopml.store import Store, default_store
from loopml.tracking import runs as tracking_runs

from ..helpers import loopml_cli

PIPELINE = """
import pandas as pd

import loopml
import loopml.data


@loopml.step
def ingest(name: str) -> pd.DataFrame:
    return loopml.data.load(name)


@loopml.step
def prep(frame: pd.DataFrame, scale: float = 2.0) -> pd.DataFrame:
    return frame.assign(spend=frame["spend"] * scale)


@loopml.step
def train(features: pd.DataFrame, max_depth: int = 3) -> dict:
    return {"max_depth": max_depth, "mean_spend": float(features["spend"].mean())}


@loopml.pipeline
def churn(data: str = "customers"):
    train(prep(ingest(data)))
"""

# A step that returns its input unchanged writes the very blob it read: a cycle.
ECHO = """
import pandas as pd

import loopml
import loopml.data


@loopml.step
def ingest(name: str) -> pd.DataFrame:
    return loopml.data.load(name)


@loopml.step
def passthrough(frame: pd.DataFrame) -> pd.DataFrame:
    return frame


@loopml.pipeline
def echo(data: str = "customers"):
    passthrough(ingest(data))
"""


def _add_customers() -> None:
    loopml.data.add("customers", pd.DataFrame({"id": [1, 2], "spend": [10.0, 20.0]}))
    loopml.data.add("customers", pd.DataFrame({"id": [1, 2, 3], "spend": [10.0, 20.0, 5.0]}))


@pytest.fixture
def pipeline_file(project: Path, store: Store) -> Path:
    """The churn pipeline and two versions of customers, in the store under test."""
    _add_customers()
    path = project / "churn_pipeline.py"
    path.write_text(PIPELINE, encoding="utf-8")
    return path


@pytest.fixture
def first(pipeline_file: Path) -> PipelineRun:
    return loopml.pipelines.run(pipeline_file, {"train.max_depth": 4})


@pytest.fixture
def store(backend: str) -> Store:
    """The default store of the test's project, on SQLite and on PostgreSQL."""
    return default_store()


def _train_output(run: PipelineRun) -> str:
    return run.step("train").outputs[0].hash


def _path_to(tree: LineageNode, found: Callable[[LineageNode], bool]) -> list[LineageNode]:
    """The nodes from ``tree`` down to the first (shallowest) node ``found`` accepts."""
    queue = [[tree]]
    while queue:
        path = queue.pop(0)
        if found(path[-1]):
            return path
        queue += [[*path, child] for child in [*path[-1].upstream, *path[-1].downstream]]
    raise AssertionError(f"no such node under {tree.id}")


def _ids(tree: LineageNode) -> set[str]:
    return {node.id for node in tree.walk()}


# --- upstream: which data, commit and params produced this -----------------------------


def test_model_output_traces_back_to_data_version_commit_and_params(store, first) -> None:
    tree = lineage(store, f"artifact:{_train_output(first)}", direction="up")
    assert tree.kind == "artifact"
    assert tree.facts["type"] == "builtins.dict"
    assert tree.downstream == []
    path = _path_to(tree, lambda node: node.id == "dataset:customers@2")
    assert [node.relation for node in path] == [
        None,
        "output 0 of",
        "input features",
        "output 0 of",
        "input frame",
        "output 0 of",
        "read",
    ]
    assert [node.id for node in path if node.kind == "step_run"] == [
        f"step:{first.id}/{name}" for name in ("train", "prep", "ingest")
    ]
    train, prep = path[1], path[3]
    assert train.facts["params"] == {"max_depth": 4}
    assert prep.facts["params"] == {"scale": 2.0}
    assert train.facts["commit"] == first.git_commit
    # the pipeline run, with its commit, params and file, hangs off the first step shown
    (context,) = [node for node in train.upstream if node.kind == "pipeline_run"]
    assert context.id == first.id
    assert context.relation == "in"
    assert context.facts["params"] == {"train.max_depth": 4}
    assert context.facts["commit"] == first.git_commit
    assert context.facts["file"].endswith("churn_pipeline.py")
    assert context.upstream == []  # a fact, not a branch to walk
    # the version before is the parent, not something the pipeline read
    assert path[-1].upstream[0].id == "dataset:customers@1"
    assert path[-1].upstream[0].relation == "parent version"


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_the_commit_of_the_checkout_that_ran_the_pipeline_is_in_the_lineage(project) -> None:
    (project / "churn_pipeline.py").write_text(PIPELINE, encoding="utf-8")
    (project / "go.py").write_text(
        "import pandas as pd\nimport loopml.data, loopml.pipelines\n"
        "loopml.data.add('customers', pd.DataFrame({'id': [1], 'spend': [1.0]}))\n"
        "run = loopml.pipelines.run('churn_pipeline.py', {'train.max_depth': 6})\n"
        "print(run.step('train').outputs[0].hash)\n",
        encoding="utf-8",
    )
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for command in (["init", "-q"], ["add", "churn_pipeline.py", "go.py"], ["commit", "-qm", "x"]):
        subprocess.run([*git, *command], cwd=project, check=True, capture_output=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=project, check=True, capture_output=True, text=True
    ).stdout.strip()
    done = subprocess.run(
        [sys.executable, "go.py"], cwd=project, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    tree = lineage(default_store(), done.stdout.split()[-1], direction="up")
    (train,) = tree.upstream
    assert train.facts["commit"] == head
    assert train.facts["dirty"] is False
    assert train.facts["params"] == {"max_depth": 6}
    context = next(node for node in tree.walk() if node.kind == "pipeline_run")
    assert context.facts["commit"] == head


# --- downstream: what came from a dataset version ------------------------------------


def test_downstream_of_a_dataset_version_reaches_the_pipeline_run_and_train(store, first):
    tree = lineage(store, "customers@2", direction="down")
    assert tree.id == "dataset:customers@2"
    assert tree.upstream == []
    (reader,) = tree.downstream
    assert (reader.relation, reader.id) == ("read by", f"step:{first.id}/ingest")
    assert first.id in _ids(tree)  # the pipeline run the reading step belongs to
    path = _path_to(tree, lambda node: node.id == f"step:{first.id}/train")
    assert [node.relation for node in path[1:]] == [
        "read by",
        "output 0",
        "input frame of",
        "output 0",
        "input features of",
    ]
    assert f"artifact:{_train_output(first)}" in _ids(tree)
    # the older version led to the newer one, and nothing read it
    older = lineage(store, "dataset:customers@1", direction="down")
    assert [(node.relation, node.id) for node in older.downstream] == [
        ("child version", "dataset:customers@2")
    ]
    assert older.downstream[0].downstream  # and on to what read customers@2


def test_a_pipeline_run_lists_what_it_read_and_ran(store, first) -> None:
    tree = lineage(store, first.id[:10])
    assert (tree.kind, tree.id) == ("pipeline_run", first.id)
    assert tree.facts["pipeline"] == "churn"
    assert tree.facts["commit"] == first.git_commit
    assert [(node.relation, node.id) for node in tree.upstream] == [
        ("step ingest read", "dataset:customers@2")
    ]
    assert [(node.relation, node.id) for node in tree.downstream] == [
        ("ran", f"step:{first.id}/{name}") for name in ("ingest", "prep", "train")
    ]


# --- the cache: a reused step still leads to the data -------------------------------------


def test_a_run_from_the_cache_still_reaches_the_dataset_through_the_reused_step(
    store, pipeline_file, first
) -> None:
    second = loopml.pipelines.run(pipeline_file, {"train.max_depth": 4})
    assert {step.status for step in second.steps} == {"CACHED"}
    assert all(step.run_id is None for step in second.steps)

    up = lineage(store, second.id, direction="up")
    assert ("step ingest read", "dataset:customers@2") in {(n.relation, n.id) for n in up.upstream}
    assert ("reused outputs of", first.id) in {(n.relation, n.id) for n in up.upstream}

    step = lineage(store, f"step:{second.id[:8]}/ingest", direction="up")
    assert step.facts["status"] == "CACHED"
    # its cache key keeps the version the execution read, checked when it was reused
    assert ("read", "dataset:customers@2") in {(n.relation, n.id) for n in step.upstream}
    reused = next(node for node in step.upstream if node.relation == "reused from")
    assert reused.id == f"step:{first.id}/ingest"
    assert reused.facts["status"] == "COMPLETED"
    assert any(node.id == "dataset:customers@2" for node in reused.upstream)

    # the second run's model output: its own train step, reused from the first run's
    tree = lineage(store, f"artifact:{_train_output(second)}", direction="up")
    assert tree.upstream[0].id == f"step:{first.id}/train"  # the execution, not the cache record
    train = lineage(store, f"step:{second.id}/train", direction="up")
    path = _path_to(train, lambda node: node.id == "dataset:customers@2")
    assert f"step:{second.id}/ingest" in [node.id for node in path]

    down = lineage(store, "customers@2", direction="down")
    readers = {node.id for node in down.downstream if node.relation == "read by"}
    assert readers == {f"step:{first.id}/ingest", f"step:{second.id}/ingest"}
    executed = lineage(store, f"step:{first.id}/train", direction="down")
    assert ("reused by", f"step:{second.id}/train") in {
        (node.relation, node.id) for node in executed.downstream
    }


def test_a_run_that_reused_some_steps_and_ran_others_is_downstream_of_its_data(
    store, pipeline_file, first
) -> None:
    second = loopml.pipelines.run(pipeline_file, {"train.max_depth": 4, "prep.scale": 3.0})
    assert [step.status for step in second.steps] == ["CACHED", "COMPLETED", "COMPLETED"]
    down = lineage(store, "customers@2", direction="down")
    path = _path_to(down, lambda node: node.id == f"step:{second.id}/train")
    assert [node.relation for node in path[1:]] == [
        "read by",  # the cached ingest: its cache key holds the version
        "output 0",
        "input frame of",  # the prep that ran again, on the reused output
        "output 0",
        "input features of",
    ]
    up = lineage(store, f"artifact:{_train_output(second)}", direction="up")
    path = _path_to(up, lambda node: node.id == "dataset:customers@2")
    assert f"step:{second.id}/prep" in [node.id for node in path]
    assert path[-2].id == f"step:{second.id}/ingest"


# --- cycles, depth, direction -------------------------------------------------------


def test_a_step_that_returns_its_input_makes_a_cycle_that_ends(store, project) -> None:
    _add_customers()
    (project / "echo_pipeline.py").write_text(ECHO, encoding="utf-8")
    run = loopml.pipelines.run(project / "echo_pipeline.py")
    digest = run.step("passthrough").outputs[0].hash
    assert digest == run.step("ingest").outputs[0].hash  # one blob, read and written
    tree = lineage(store, digest)  # both ways: each is a cycle through passthrough
    upstream = [node for child in tree.upstream for node in child.walk()]
    (again,) = [node for node in upstream if node.id == tree.id]
    assert again.relation == "input frame"  # what passthrough read: the same blob, once more
    assert {node.id: node.repeated for node in again.upstream} == {
        f"step:{run.id}/ingest": True,
        f"step:{run.id}/passthrough": True,
    }
    downstream = [node for child in tree.downstream for node in child.walk()]
    (written,) = [node for node in downstream if node.id == tree.id]
    assert written.relation == "output 0"
    assert [(node.id, node.repeated) for node in written.downstream] == [
        (f"step:{run.id}/passthrough", True)
    ]
    assert "dataset:customers@2" in _ids(tree)


def test_depth_limits_the_walk_and_counts_what_it_left_out(store, first) -> None:
    root = lineage(store, f"artifact:{_train_output(first)}", direction="up", depth=0)
    assert (root.upstream, root.more) == ([], 1)
    one = lineage(store, f"artifact:{_train_output(first)}", direction="up", depth=1)
    (train,) = one.upstream
    assert train.upstream == []
    assert train.more == 1  # its input; the pipeline run is a fact, not an edge
    both = lineage(store, f"artifact:{_train_output(first)}", depth=0)
    assert both.more == 1  # nothing consumed the model yet: the one link is upstream
    step = lineage(store, f"step:{first.id}/prep", depth=0)
    assert step.more == 2  # its input upstream, its output downstream
    unlimited = lineage(store, f"artifact:{_train_output(first)}", direction="up")
    assert all(node.more == 0 for node in unlimited.walk())


def test_wide_fan_out_is_cut_and_counted(store, pipeline_file, monkeypatch) -> None:
    for depth in (4, 5, 6):
        loopml.pipelines.run(pipeline_file, {"train.max_depth": depth})
    monkeypatch.setattr(lineage_module, "MAX_CHILDREN", 1)
    tree = lineage(store, "customers@2", direction="down", depth=1)
    assert len(tree.downstream) == 1
    assert tree.downstream[0].relation == "read by"
    assert tree.more == 2  # three readers: the ingest that ran and the two that reused it


@pytest.mark.parametrize(("direction", "up", "down"), [("up", True, False), ("down", False, True)])
def test_one_direction_only(store, first, direction, up, down) -> None:
    tree = lineage(store, f"step:{first.id}/prep", direction=direction)
    assert bool(tree.upstream) is up
    assert bool(tree.downstream) is down


# --- plain runs ------------------------------------------------------------------------


def test_a_plain_run_links_the_data_it_read_to_the_files_it_logged(store, project) -> None:
    _add_customers()
    with loopml.start_run(experiment="adhoc", params={"alpha": 0.5}) as run:
        loopml.data.load("customers@1")
        run.log_text("notes", "notes.txt")
    tree = lineage(store, run.id)
    assert (tree.kind, tree.facts["params"]) == ("run", {"alpha": "0.5"})
    assert [(node.relation, node.id) for node in tree.upstream] == [("read", "dataset:customers@1")]
    (logged,) = tree.downstream
    assert logged.kind == "artifact" and logged.relation == "logged notes.txt"
    back = lineage(store, logged.id, direction="up")
    assert [(node.relation, node.id) for node in back.upstream] == [
        ("logged as notes.txt by", run.id)
    ]
    assert run.id in _ids(lineage(store, "customers@1", direction="down"))


# --- naming objects --------------------------------------------------------------------


def test_every_way_of_naming_an_object(store, first) -> None:
    train = first.step("train")
    digest = _train_output(first)
    named = {
        first.id: ("pipeline_run", first.id),
        first.id[:6]: ("pipeline_run", first.id),
        f"run:{first.id}": ("pipeline_run", first.id),
        train.run_id: ("step_run", f"step:{first.id}/train"),
        f"step:{first.id[:8]}/train": ("step_run", f"step:{first.id}/train"),
        "customers": ("dataset_version", "dataset:customers@2"),
        "customers@1": ("dataset_version", "dataset:customers@1"),
        "dataset:customers@latest": ("dataset_version", "dataset:customers@2"),
        digest: ("artifact", f"artifact:{digest}"),
        digest[:12].upper(): ("artifact", f"artifact:{digest}"),
        f"artifact:{digest[:8]}": ("artifact", f"artifact:{digest}"),
    }
    for ref, expected in named.items():
        tree = lineage(store, ref, depth=0)
        assert (tree.kind, tree.id) == expected, ref
        assert lineage(store, tree.id, depth=0).id == tree.id  # every id names itself


@pytest.mark.parametrize(
    ("ref", "error", "words"),
    [
        ("", InvalidInput, "name the object"),
        ("nothing-here", NotFound, "loopml data ls"),
        ("customers@9", NotFound, "latest is 2"),
        ("artifact:xyz", InvalidInput, "8 to 64 hex characters"),
        ("artifact:" + "0" * 16, NotFound, "no artifact with hash"),
        ("step:abc", InvalidInput, "step:RUN/STEP"),
        ("step:{run}/evaluate", NotFound, "its steps: ingest, prep, train"),
        ("step:ffffffff/train", NotFound, "loopml pipeline ls"),
        ("model:churn@1", InvalidInput, "invalid alias '1'"),
        ("deployment:x", InvalidInput, "unknown object kind 'deployment'"),
        ("run:ffffffff", NotFound, "loopml runs ls"),
        ("abcd", NotFound, "artifact prefixes need 8+ characters"),
    ],
)
def test_bad_references_say_what_is_accepted(store, first, ref, error, words) -> None:
    with pytest.raises(error) as raised:
        lineage(store, ref.format(run=first.id[:8]))
    assert words in str(raised.value)


@pytest.fixture
def chosen_run_ids(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Run ids come from this list (front first), so tests can make prefixes collide."""
    ids: list[str] = []
    monkeypatch.setattr(tracking_runs, "secrets", SimpleNamespace(token_hex=lambda _n: ids.pop(0)))
    return ids


def test_a_prefix_shared_by_runs_and_artifacts_lists_them(store, first, chosen_run_ids) -> None:
    digest = _train_output(first)
    chosen_run_ids += [digest[:8] + "0" * 24, "abcd" + "1" * 28, "abcd" + "2" * 28]
    for number in range(3):
        with loopml.start_run(experiment="collide", run_name=f"r{number}"):
            pass
    with pytest.raises(InvalidInput) as raised:
        lineage(store, digest[:8])
    message = str(raised.value)
    assert f"run {digest[:8]}{'0' * 24}" in message
    assert f"artifact {digest}" in message
    assert "run:ID or artifact:HASH" in message
    with pytest.raises(InvalidInput, match="abcd1111.*abcd2222"):
        lineage(store, "abcd")
    assert lineage(store, f"artifact:{digest[:8]}", depth=0).kind == "artifact"
    assert lineage(store, f"run:{digest[:8]}", depth=0).kind == "run"


def test_direction_and_depth_are_checked(store, first) -> None:
    with pytest.raises(InvalidInput, match="both, up or down"):
        lineage(store, first.id, direction="sideways")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="0 or more"):
        lineage(store, first.id, depth=-1)


# --- the command -----------------------------------------------------------------------


def test_the_command_prints_json_with_every_kind_of_node(store, pipeline_file, first) -> None:
    loopml.pipelines.run(pipeline_file, {"train.max_depth": 4})
    result = CliRunner().invoke(app, ["lineage", "customers@1", "--json"])
    assert result.exit_code == 0, result.output
    tree = json.loads(result.stdout)
    kinds: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        kinds.add(node["kind"])
        stack += node["upstream"] + node["downstream"]
    assert kinds == {"dataset_version", "step_run", "pipeline_run", "artifact"}
    assert tree["id"] == "dataset:customers@1"
    assert tree["downstream"][0]["relation"] == "child version"


def test_the_command_draws_the_tree(store, first) -> None:
    runner = CliRunner()
    both = runner.invoke(app, ["lineage", f"step:{first.id}/train"])
    assert both.exit_code == 0, both.output
    assert "upstream: where it came from" in both.stdout
    assert "downstream: what came from it" in both.stdout
    assert "dataset customers@2" in both.stdout
    assert "params max_depth=4" in both.stdout
    up = runner.invoke(app, ["lineage", f"step:{first.id}/train", "--up", "--depth", "1"])
    assert "downstream" not in up.stdout
    assert "1 more not shown (raise --depth to see them)" in up.stdout
    down = runner.invoke(app, ["lineage", "customers@2", "--down"])
    assert "upstream" not in down.stdout
    assert f"step train of churn {first.id[:8]}" in down.stdout


def test_the_command_fails_in_one_line_with_the_fix(project, first) -> None:
    done = loopml_cli("lineage", "customers@7", cwd=project)
    assert done.returncode == 3
    assert done.stderr == (
        "error: dataset 'customers' has no version 7; latest is 2 (loopml data ls customers)\n"
    )
    bad = loopml_cli("lineage", "step:nope", cwd=project)
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: 'step:nope' is not step:RUN/STEP")
    assert bad.stderr.count("\n") == 1


def test_a_model_version_traces_back_to_its_run_and_data(project: Path) -> None:
    from ..modeldata import FEATURES, churn_frame, fit_pipeline

    frame = churn_frame()
    loopml.data.add("customers", frame)
    with loopml.start_run(experiment="churn") as run:
        loopml.data.load("customers@1")
        info = loopml.log_model(fit_pipeline(frame), input_example=frame[FEATURES][:5])
    loopml.register(info, "churn")
    store = default_store()
    up = lineage(store, "models:/churn/1", direction="up")
    assert up.kind == "model_version" and up.id == "models:/churn/1"
    assert [(n.relation, n.id) for n in up.walk()][1:] == [
        ("registered from", run.id),
        ("read", "dataset:customers@1"),
    ]
    down = lineage(store, "customers@1", direction="down")
    assert "models:/churn/1" in [n.id for n in down.walk()]
    with pytest.raises(NotFound, match="model 'nope' is not registered"):
        lineage(store, "models:/nope/1")

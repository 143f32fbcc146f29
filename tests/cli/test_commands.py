"""The ``loopml`` command as a user runs it: real console script, real store, real exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ..helpers import loopml_cli, run_python

_TRAIN = """
import loopml
for name, depth, auc in [("shallow", 2, 0.71), ("deep", 8, 0.88), ("mid", 5, 0.83)]:
    with loopml.start_run(experiment="churn", run_name=name, params={"depth": depth}) as run:
        run.log_metric("auc", auc)
        run.log_metric("loss", 1 - auc)
        run.log_text("model " + name, "model.txt")
        print(run.id)
"""

# Each command runs on the embedded store and through a team server.
pytestmark = pytest.mark.usefixtures("mode")


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project initialised with `loopml init`, no LOOPML_HOME: discovery as users get it."""
    monkeypatch.chdir(tmp_path)
    done = loopml_cli("init", "--target", "churned", "--threshold", "0.8", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return tmp_path


@pytest.fixture
def trained(workspace: Path) -> list[str]:
    done = run_python(_TRAIN, cwd=workspace)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_init_creates_the_store_and_states_the_problem(workspace: Path) -> None:
    assert (workspace / ".loopml" / "loopml.db").is_file()
    project = yaml.safe_load((workspace / "loopml.yaml").read_text())
    assert project == {
        "name": workspace.name,
        "task": "classification",
        "target": "churned",
        "objective": {"metric": "roc_auc", "threshold": 0.8, "direction": "maximize"},
    }
    again = loopml_cli("init", cwd=workspace)
    assert again.returncode == 0
    assert "Kept" in again.stdout  # an existing project file is not overwritten...
    assert yaml.safe_load((workspace / "loopml.yaml").read_text())["task"] == "classification"
    forced = loopml_cli("init", "--task", "regression", "--force", "--json", cwd=workspace)
    assert json.loads(forced.stdout)["objective"] == {
        "metric": "rmse",
        "threshold": None,
        "direction": "minimize",
    }


def test_init_with_options_does_not_silently_keep_an_existing_file(workspace: Path) -> None:
    done = loopml_cli("init", "--task", "regression", "--threshold", "3", cwd=workspace)
    assert done.returncode == 4
    assert "not applying --task, --threshold" in done.stderr
    assert "loopml init --force" in done.stderr
    forced = loopml_cli(
        "init", "--task", "regression", "--threshold", "3", "--force", cwd=workspace
    )
    assert "objective rmse minimize <= 3.0" in forced.stdout


def test_usage_errors_are_one_line_too(workspace: Path) -> None:
    done = loopml_cli("runs", "ls", "--bogus", cwd=workspace)
    assert done.returncode == 2
    assert done.stderr.startswith("error: No such option: --bogus")
    assert "(see 'loopml runs ls --help')" in done.stderr
    assert len(done.stderr.splitlines()) == 1
    missing = loopml_cli("runs", "show", cwd=workspace)
    assert missing.returncode == 2
    assert missing.stderr == "error: Missing argument 'run_id'. (see 'loopml runs show --help')\n"
    bare = loopml_cli("runs", cwd=workspace)
    assert "Commands" in bare.stdout
    assert "show" in bare.stdout


@pytest.mark.local_only("loopml init makes a local project and store")
def test_init_refuses_an_unknown_task_in_one_line(tmp_path: Path) -> None:
    done = loopml_cli("init", "--task", "astrology", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == (
        "error: task 'astrology' is not known "
        "(use one of: classification, regression, ranking, forecasting, other)\n"
    )
    assert not (tmp_path / ".loopml").exists()


def test_commands_find_the_store_from_a_subdirectory(workspace: Path, trained) -> None:
    nested = workspace / "src" / "deep"
    nested.mkdir(parents=True)
    done = loopml_cli("runs", "ls", "--json", cwd=nested)
    assert done.returncode == 0
    assert len(json.loads(done.stdout)) == 3


@pytest.mark.local_only("through a server there is always a store")
def test_without_a_store_read_commands_say_how_to_make_one(tmp_path: Path) -> None:
    done = loopml_cli("runs", "ls", cwd=tmp_path)
    assert done.returncode == 3
    assert "run 'loopml init' here" in done.stderr
    assert not (tmp_path / ".loopml").exists()


def test_runs_ls_filters_orders_and_prints_tables_or_json(workspace: Path, trained) -> None:
    table = loopml_cli(
        "runs", "ls", "-f", "metrics.auc > 0.8", "-o", "metrics.auc desc", cwd=workspace
    )
    assert table.returncode == 0
    lines = [line for line in table.stdout.splitlines() if "churn" in line]
    assert [line.split("│")[1].strip() for line in lines] == ["deep", "mid"]
    assert "metrics.auc" in table.stdout
    data = json.loads(loopml_cli("runs", "ls", "--json", "-n", "1", cwd=workspace).stdout)
    assert len(data) == 1 and data[0]["name"] == "mid"  # newest first by default
    picked = loopml_cli("runs", "ls", "-c", "params.depth", cwd=workspace).stdout
    assert "params.depth" in picked and "metrics.auc" not in picked


def test_a_bad_filter_is_one_line_pointing_at_the_column(workspace: Path) -> None:
    done = loopml_cli("runs", "ls", "-f", "metrics.auc >> 1", cwd=workspace)
    assert done.returncode == 2
    assert done.stderr.startswith("error: unexpected '>' in filter at column 14")
    assert len(done.stderr.splitlines()) == 1


def test_runs_show_compare_and_history(workspace: Path, trained) -> None:
    shallow, deep, _ = trained
    shown = json.loads(loopml_cli("runs", "show", deep[:8], "--json", cwd=workspace).stdout)
    assert shown["name"] == "deep"
    assert shown["metrics"] == {"auc": 0.88, "loss": pytest.approx(0.12)}
    assert shown["artifacts"][0]["path"] == "model.txt"
    human = loopml_cli("runs", "show", deep, cwd=workspace).stdout
    assert "params" in human and "model.txt" in human and "python" in human

    compared = loopml_cli("runs", "compare", shallow, deep, cwd=workspace)
    assert compared.returncode == 0
    assert "params.depth" in compared.stdout and "0.88" in compared.stdout

    history = loopml_cli("runs", "history", deep, "auc", "--json", cwd=workspace)
    assert [point["value"] for point in json.loads(history.stdout)] == [0.88]


def test_runs_delete_and_restore(workspace: Path, trained) -> None:
    victim = trained[0]
    deleted_now = loopml_cli("runs", "delete", victim, "--json", cwd=workspace)
    assert json.loads(deleted_now.stdout) == [
        {"id": victim, "name": "shallow", "lifecycle_stage": "deleted"}
    ]
    active = json.loads(loopml_cli("runs", "ls", "--json", cwd=workspace).stdout)
    assert victim not in {run["id"] for run in active}
    deleted = json.loads(
        loopml_cli("runs", "ls", "--view", "deleted", "--json", cwd=workspace).stdout
    )
    assert [run["id"] for run in deleted] == [victim]
    assert loopml_cli("runs", "restore", victim[:10], cwd=workspace).returncode == 0
    assert len(json.loads(loopml_cli("runs", "ls", "--json", cwd=workspace).stdout)) == 3


def test_unknown_runs_exit_3_with_the_id(workspace: Path) -> None:
    for args in (("runs", "show", "deadbeef"), ("runs", "delete", "deadbeef")):
        done = loopml_cli(*args, cwd=workspace)
        assert done.returncode == 3
        assert done.stderr == "error: run 'deadbeef' not found (list runs with: loopml runs ls)\n"


def test_experiments_ls_and_create(workspace: Path, trained) -> None:
    created = loopml_cli(
        "experiments", "create", "fraud", "--description", "card fraud", cwd=workspace
    )
    assert created.returncode == 0
    listed = json.loads(loopml_cli("experiments", "ls", "--json", cwd=workspace).stdout)
    assert [e["name"] for e in listed] == ["churn", "fraud"]
    again = loopml_cli("experiments", "create", "fraud", cwd=workspace)
    assert again.returncode == 4
    assert again.stderr == "error: experiment 'fraud' exists already\n"


def test_artifacts_ls_and_get(workspace: Path, trained) -> None:
    listed = json.loads(loopml_cli("artifacts", "ls", trained[1], "--json", cwd=workspace).stdout)
    assert [entry["path"] for entry in listed] == ["model.txt"]
    got = loopml_cli(
        "artifacts", "get", trained[1], str(workspace / "out"), "--json", cwd=workspace
    )
    assert json.loads(got.stdout) == [str(workspace / "out" / "model.txt")]
    assert (workspace / "out" / "model.txt").read_text() == "model deep"


def test_version_and_help(tmp_path: Path) -> None:
    import loopml

    assert loopml_cli("--version", cwd=tmp_path).stdout.strip() == loopml.__version__
    helped = loopml_cli("--help", cwd=tmp_path)
    assert helped.returncode == 0
    for noun in ("init", "experiments", "runs", "artifacts", "audit"):
        assert noun in helped.stdout


def test_user_text_that_looks_like_markup_prints_as_written(workspace: Path) -> None:
    code = (
        "import loopml\n"
        "with loopml.start_run(run_name='x[/]y', tags={'note': '[red]z[/red]'}) as run:\n"
        "    print(run.id)\n"
    )
    run_id = run_python(code, cwd=workspace).stdout.strip()
    listed = loopml_cli("runs", "ls", cwd=workspace)
    assert listed.returncode == 0, listed.stderr
    assert "x[/]y" in listed.stdout
    shown = loopml_cli("runs", "show", run_id, cwd=workspace)
    assert shown.returncode == 0, shown.stderr
    assert "[red]z[/red]" in shown.stdout


def test_an_unusable_destination_is_one_line(workspace: Path, trained) -> None:
    (workspace / "afile").write_text("not a folder")
    done = loopml_cli("artifacts", "get", trained[0], str(workspace / "afile"), cwd=workspace)
    assert done.returncode == 1
    assert done.stderr.startswith("error: ")
    assert str(workspace / "afile") in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) == 1

"""``loopml pipeline``: what each command prints and exits with, and how it reports the
user's mistakes (one line naming their file and line, never our traceback)."""

from __future__ import annotations

import pytest

import loopml.pipelines

from .conftest import statuses

# Each test runs on the embedded store and through a team server.
pytestmark = pytest.mark.usefixtures("mode")

PIPELINE = """
import loopml


@loopml.step
def ingest(rows: int = 3) -> list:
    return list(range(rows))


@loopml.step(retries=2, timeout=60)
def square(value: int) -> int:
    return value * value


@loopml.step(cache=False)
def train(values: list, max_depth: int = 3) -> dict:
    return {"total": sum(values), "max_depth": max_depth}


@loopml.pipeline
def churn(rows: int = 3):
    train(square.map(ingest(rows)))
"""


def test_show_draws_the_dag_with_params_and_step_options(write, cli) -> None:
    write(PIPELINE)
    done = cli("pipeline", "show", "pipe.py", "-p", "train.max_depth=7")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "churn (rows=3)"
    assert "ingest rows=3" in lines[1]
    assert "square (map) retries=2 timeout=60s" in lines[2]
    assert "train max_depth=7 no cache" in lines[3]
    assert len(lines) == 4


def test_run_reports_what_ran_and_what_was_reused(write, cli) -> None:
    write(PIPELINE)
    first = cli("pipeline", "run", "pipe.py")
    assert first.returncode == 0, first.stderr
    [run] = loopml.pipelines.list_runs("churn")
    assert first.stderr.splitlines()[-1] == (
        f"pipeline run {run.id[:8]} FINISHED: 3 ran, 0 reused "
        f"(loopml pipeline explain {run.id[:8]})"
    )
    assert "✓ square[2]" in first.stderr
    second = cli("pipeline", "run", "pipe.py")
    latest = loopml.pipelines.list_runs("churn")[0]
    # train has cache=False; ingest, the three items and the map itself are reused.
    assert f"FINISHED: 1 ran, 5 reused (loopml pipeline explain {latest.id[:8]})" in second.stderr
    assert f"↺ ingest cache hit: same key as in run {run.id[:8]}" in second.stderr


def test_ls_lists_runs_newest_first(write, cli) -> None:
    write(PIPELINE)
    cli.json("pipeline", "run", "pipe.py")
    cli.json("pipeline", "run", "pipe.py", "-p", "rows=2")
    listed = cli.json("pipeline", "ls")
    assert [run["params"] for run in listed] == [{"rows": "2"}, {}]
    assert [run["status"] for run in listed] == ["FINISHED", "FINISHED"]
    table = cli("pipeline", "ls", "churn")
    assert table.returncode == 0, table.stderr
    rows = table.stdout.splitlines()[2:]
    assert [row.split()[0] for row in rows] == [run["id"][:8] for run in listed]
    # rows=2: ingest and train ran; the 2 items (same values as before) and the map reused.
    assert "3 cached, 2 completed" in rows[0]
    assert cli.json("pipeline", "ls", "other") == []


@pytest.mark.parametrize(
    ("source", "where", "what"),
    [
        pytest.param(
            "import loopml\n\n@loopml.step\ndef ingest() -> int:\n    return 1 +\n",
            "pipe.py:5: invalid syntax: return 1 +",
            None,
            id="syntax error",
        ),
        pytest.param(
            "import loopml\nimport churn_features\n",
            'pipe.py", line 2, in <module>',
            "ModuleNotFoundError: No module named 'churn_features'",
            id="import error",
        ),
        pytest.param(
            "import loopml\nimport helpers\n",
            'helpers.py", line 2, in <module>',
            "ZeroDivisionError: division by zero",
            id="error in an imported helper",
        ),
    ],
)
def test_a_broken_pipeline_file_is_reported_at_the_users_line(
    write, cli, source, where, what
) -> None:
    write("SCALE = 1\nRATIO = SCALE / 0\n", "helpers.py")
    write(source)
    done = cli("pipeline", "run", "pipe.py")
    assert done.returncode == 2
    assert done.stderr.startswith("error: ")
    assert where in done.stderr
    if what:
        assert what in done.stderr
        assert "(the error is in the pipeline file or a module it imports)" in done.stderr
    assert "Traceback" not in done.stderr
    assert "loopml/pipelines" not in done.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["-p", "train.max_dept=6"],
            2,
            "error: unknown param 'train.max_dept'; known params: rows, ingest.rows, "
            "train.max_depth (did you mean 'train.max_depth'?)",
        ),
        (["-p", "max_depth=6"], 2, "(did you mean train.max_depth?)"),
        (["-p", "rows"], 2, "error: param 'rows' is not NAME=VALUE"),
        (["-p", "rows=lots"], 2, "error: param 'rows' expects int, got 'lots'"),
        (["-f", "params.yaml"], 2, "params.yaml must hold a mapping of param names to values"),
        (["-f", "missing.yaml"], 1, "error: No such file or directory: missing.yaml"),
    ],
)
def test_bad_params_are_refused_before_anything_runs(write, cli, args, code, message) -> None:
    write(PIPELINE)
    write("- just\n- a list\n", "params.yaml")
    done = cli("pipeline", "run", "pipe.py", *args)
    assert done.returncode == code
    assert message in done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert loopml.pipelines.list_runs() == []


@pytest.mark.parametrize(
    ("target", "code", "message"),
    [
        (
            "two.py",
            2,
            "error: two.py defines several pipelines: first, second (choose one with two.py:NAME)",
        ),
        (
            "two.py:third",
            3,
            "error: two.py has no pipeline 'third' (pipelines in it: first, second)",
        ),
        ("none.py", 3, "error: none.py defines no @loopml.pipeline function"),
        ("absent.py", 3, "not found (check the path)"),
    ],
)
def test_the_pipeline_to_run_must_be_unambiguous(write, cli, target, code, message) -> None:
    write("import loopml\n", "none.py")
    write(
        """
        import loopml

        @loopml.step
        def one() -> int:
            return 1

        @loopml.pipeline
        def first():
            one()

        @loopml.pipeline
        def second():
            one()
        """,
        "two.py",
    )
    done = cli("pipeline", "show", target)
    assert done.returncode == code
    assert message in done.stderr
    chosen = cli.json("pipeline", "show", "two.py:second")
    assert chosen["pipeline"] == "second"


def test_run_json_is_the_recorded_run(write, cli) -> None:
    write(PIPELINE)
    printed = cli.json("pipeline", "run", "pipe.py", "-p", "train.max_depth=4")
    recorded = loopml.pipelines.get_run(printed["id"])
    assert printed["params"] == {"train.max_depth": "4"}
    assert statuses(printed) == statuses(recorded)
    train = next(step for step in printed["steps"] if step["name"] == "train")
    assert train["key_parts"]["params"] == {"max_depth": 4}
    assert train["duration_s"] is not None
    assert loopml.pipelines.output(printed["id"], "train") == {"total": 5, "max_depth": 4}


def test_explain_defaults_to_the_newest_run_and_accepts_a_step_run_id(write, cli) -> None:
    write(PIPELINE)
    first = cli.json("pipeline", "run", "pipe.py")
    second = cli.json("pipeline", "run", "pipe.py", "-p", "rows=2")
    assert cli.json("pipeline", "explain")["id"] == second["id"]
    step_run = next(step["run_id"] for step in first["steps"] if step["name"] == "train")
    assert cli.json("pipeline", "explain", step_run)["id"] == first["id"]
    assert loopml.pipelines.get_run(step_run[:12]).id == first["id"]

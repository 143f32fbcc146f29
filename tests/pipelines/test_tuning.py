"""``tune``: Optuna trials as child runs, pruning, failures, and refusals of bad input."""

from __future__ import annotations

import logging
import math
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import loopml
import loopml.pipelines
from loopml.errors import Conflict, InvalidInput, LoopmlError
from loopml.pipelines.tuning import tune
from loopml.store.schema import runs as runs_table
from loopml.tracking import get_metric_history

from ..helpers import run_python

# Each test runs on the embedded store and through a team server.
pytestmark = pytest.mark.usefixtures("mode")

optuna = pytest.importorskip("optuna")


def _runs() -> list[loopml.Run]:
    return loopml.search_runs(output="list", run_view="all")


def _children(parent_id: str) -> list[loopml.Run]:
    return loopml.search_runs(f"parent_run_id = '{parent_id}'", output="list")


def _quadratic(trial: Any) -> float:
    """Peaks at x=2, kind='a'; logs a metric of its own into the trial's run."""
    x = trial.suggest_float("x", -10, 10)
    kind = trial.suggest_categorical("kind", ["a", "b"])
    loopml.log_metric("abs_x", abs(x))
    return -((x - 2) ** 2) - (kind == "b")


def _odd_trials_report_badly(trial: Any) -> float:
    """Even trials report 1, 2, 3 at steps 0, 1, 2; odd ones 0, 1, 2: below the median."""
    x = trial.suggest_float("x", 0, 1)
    quality = 0.0 if trial.number % 2 else 1.0
    for step in range(3):
        trial.report(quality + step, step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return quality + x


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_every_trial_is_a_child_run_and_the_parent_gets_the_best(project, direction) -> None:
    sign = 1 if direction == "maximize" else -1
    with loopml.start_run(experiment="hpo", run_name="search") as parent:
        result = tune(
            lambda trial: sign * _quadratic(trial),
            n_trials=8,
            direction=direction,
            sampler_seed=0,
        )
        assert loopml.active_run() is parent
    assert (result.n_trials, result.n_pruned, result.n_failed) == (8, 0, 0)
    assert result.parent_run_id == parent.id
    assert {run.id for run in _children(parent.id)} == set(result.trial_run_ids)

    objectives = {}
    for number, run_id in enumerate(result.trial_run_ids):
        child = loopml.get_run(run_id)
        assert (child.name, child.experiment_name, child.status) == (
            f"trial-{number}",
            "hpo",
            "FINISHED",
        )
        assert child.tags == {"optuna.state": "COMPLETE", "optuna.trial": str(number)}
        x, kind = float(child.params["x"]), child.params["kind"]
        assert child.metrics["objective"] == pytest.approx(sign * (-((x - 2) ** 2) - (kind == "b")))
        assert child.metrics["abs_x"] == pytest.approx(abs(x))
        objectives[run_id] = child.metrics["objective"]

    best = max if direction == "maximize" else min
    assert result.best_value == best(objectives.values())
    assert objectives[result.best_run_id] == result.best_value
    winner = loopml.get_run(result.best_run_id)
    assert result.best_params == {"x": float(winner.params["x"]), "kind": winner.params["kind"]}

    stored = loopml.get_run(parent.id)
    assert stored.status == "FINISHED"
    assert stored.params == {f"best.{key}": str(v) for key, v in result.best_params.items()}
    assert stored.metrics["best_objective"] == result.best_value
    assert stored.tags["best_trial_run"] == result.best_run_id
    running_best = [p.value for p in get_metric_history(parent.store, parent.id, "best_objective")]
    assert running_best == sorted(running_best, reverse=direction == "minimize")


def test_without_an_active_run_tune_starts_and_ends_a_parent_run(project) -> None:
    result = tune(_quadratic, n_trials=2, experiment="hpo", run_name="nightly-search")
    assert loopml.active_run() is None
    parent = loopml.get_run(result.parent_run_id)
    assert (parent.name, parent.experiment_name, parent.status) == (
        "nightly-search",
        "hpo",
        "FINISHED",
    )
    assert parent.tags["best_trial_run"] == result.best_run_id
    assert {run.parent_run_id for run in _runs() if run.id != parent.id} == {parent.id}


def _trial_summary(result: Any) -> list[tuple[str, str]]:
    return [
        (loopml.get_run(run_id).params["x"], loopml.get_run(run_id).tags["optuna.state"])
        for run_id in result.trial_run_ids
    ]


@pytest.mark.parametrize("pruner", ["median", "hyperband"])
def test_the_same_seed_gives_the_same_trials(project, pruner) -> None:
    first = tune(_odd_trials_report_badly, n_trials=12, sampler_seed=7, pruner=pruner)
    again = tune(_odd_trials_report_badly, n_trials=12, sampler_seed=7, pruner=pruner)
    other = tune(_odd_trials_report_badly, n_trials=12, sampler_seed=8, pruner=pruner)
    assert _trial_summary(first) == _trial_summary(again)
    assert first.best_params == again.best_params
    assert [x for x, _ in _trial_summary(other)] != [x for x, _ in _trial_summary(first)]


def test_pruned_trials_end_killed_and_reports_are_logged_as_intermediate(project) -> None:
    result = tune(_odd_trials_report_badly, n_trials=12, sampler_seed=0)
    children = [loopml.get_run(run_id) for run_id in result.trial_run_ids]
    store = loopml.default_store()

    # MedianPruner waits for 5 finished trials, then prunes each odd one at its first report.
    pruned = [child for child in children if child.status == "KILLED"]
    assert [child.name for child in pruned] == ["trial-5", "trial-7", "trial-9", "trial-11"]
    assert result.n_pruned == 4
    for child in pruned:
        assert child.tags["optuna.state"] == "PRUNED"
        assert "objective" not in child.metrics
        assert "x" in child.params
        history = get_metric_history(store, child.id, "intermediate")
        assert [(p.step, p.value) for p in history] == [(0, 0.0)]

    finished = children[0]
    assert finished.status == "FINISHED"
    history = get_metric_history(store, finished.id, "intermediate")
    assert [(p.step, p.value) for p in history] == [(0, 1.0), (1, 2.0), (2, 3.0)]
    assert result.best_run_id not in {child.id for child in pruned}


@pytest.mark.parametrize(
    ("pruner", "n_pruned"),
    [
        ("median", 4),
        (None, 0),
        ("none", 0),
        (optuna.pruners.ThresholdPruner(lower=0.5), 6),  # every odd trial, from the first
    ],
    ids=["median", "None", "none", "ThresholdPruner"],
)
def test_the_pruner_can_be_chosen_or_turned_off(project, pruner, n_pruned) -> None:
    result = tune(_odd_trials_report_badly, n_trials=12, sampler_seed=0, pruner=pruner)
    assert result.n_pruned == n_pruned
    killed = [rid for rid in result.trial_run_ids if loopml.get_run(rid).status == "KILLED"]
    assert len(killed) == n_pruned


def test_a_failing_trial_is_recorded_and_the_search_goes_on(project) -> None:
    def flaky(trial: Any) -> float:
        x = trial.suggest_float("x", 0, 1)
        if trial.number in (1, 4):
            raise ValueError(f"bad batch {trial.number}")
        return x

    result = tune(flaky, n_trials=6, sampler_seed=0)
    assert (result.n_trials, result.n_failed, result.n_pruned) == (6, 2, 0)
    for number in (1, 4):
        failed = loopml.get_run(result.trial_run_ids[number])
        assert failed.status == "FAILED"
        assert failed.tags["optuna.state"] == "FAIL"
        assert failed.tags["error"] == f"ValueError: bad batch {number}"
        assert "x" in failed.params
        assert "objective" not in failed.metrics
    statuses = [loopml.get_run(rid).status for rid in result.trial_run_ids]
    assert statuses == ["FINISHED", "FAILED", "FINISHED", "FINISHED", "FAILED", "FINISHED"]
    assert loopml.get_run(result.parent_run_id).status == "FINISHED"


@pytest.mark.parametrize("returned", [None, math.nan, "high", [0.9]])
def test_an_objective_returning_no_number_fails_that_trial(project, returned) -> None:
    def sloppy(trial: Any) -> Any:
        x = trial.suggest_float("x", 0, 1)
        return returned if trial.number == 0 else x

    result = tune(sloppy, n_trials=3, sampler_seed=0)
    assert (result.n_failed, result.n_trials) == (1, 3)
    failed = loopml.get_run(result.trial_run_ids[0])
    assert failed.status == "FAILED"
    assert failed.tags["error"].startswith("InvalidInput: objective ")
    assert "sloppy" in failed.tags["error"]
    assert "returned" in failed.tags["error"]


def test_when_every_trial_fails_the_error_names_the_objective_and_the_first_error(
    project,
) -> None:
    def needs_gpu(trial: Any) -> float:
        trial.suggest_int("layers", 1, 3)
        raise RuntimeError(f"no GPU for trial {trial.number}")

    with pytest.raises(InvalidInput) as caught:
        tune(needs_gpu, n_trials=3)
    message = str(caught.value)
    assert "all 3 trials of objective" in message
    assert "needs_gpu" in message
    assert "the first raised RuntimeError: no GPU for trial 0" in message
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert loopml.active_run() is None
    (parent,) = [run for run in _runs() if run.name == "tune"]
    assert parent.status == "FAILED"
    children = _children(parent.id)
    assert len(children) == 3
    assert {run.status for run in children} == {"FAILED"}


def test_when_every_trial_is_pruned_the_error_says_so(project) -> None:
    def hopeless(trial: Any) -> float:
        trial.suggest_float("x", 0, 1)
        raise optuna.TrialPruned()

    with pytest.raises(InvalidInput, match=r"no trial of objective .*hopeless.* completed"):
        tune(hopeless, n_trials=2)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"objective": "train.py"}, "objective must be callable"),
        ({"n_trials": 0}, "n_trials must be a positive integer, got 0"),
        ({"n_trials": True}, "n_trials must be a positive integer"),
        ({"n_trials": 2.5}, "n_trials must be a positive integer"),
        ({"direction": "max"}, "direction must be 'maximize' or 'minimize', got 'max'"),
        ({"pruner": "asha"}, "unknown pruner 'asha'"),
        ({"pruner": optuna.samplers.RandomSampler()}, "unknown pruner"),
        ({"sampler_seed": "42"}, "sampler_seed must be an integer or None"),
        ({"timeout_s": 0}, "timeout_s must be a positive number"),
        ({"timeout_s": math.nan}, "timeout_s must be a positive number"),
    ],
)
def test_bad_input_is_refused_before_anything_runs(project, arguments, message) -> None:
    calls = []
    options: dict[str, Any] = {"n_trials": 3, **arguments}
    objective = options.pop("objective", calls.append)
    with pytest.raises(InvalidInput, match=message) as caught:
        tune(objective, **options)
    if "pruner" in arguments:
        assert "'median', 'hyperband', 'none'" in str(caught.value.hint)
    assert caught.value.hint
    assert calls == []
    assert _runs() == []


def test_the_active_run_must_be_in_the_asked_experiment(project) -> None:
    with loopml.start_run(experiment="hpo"), pytest.raises(InvalidInput, match="not 'other'"):
        tune(_quadratic, n_trials=2, experiment="other")
    assert len(_runs()) == 1


def test_a_run_holds_the_results_of_one_search_only(project) -> None:
    with loopml.start_run() as parent:
        tune(_quadratic, n_trials=2, sampler_seed=0)
        with pytest.raises(Conflict, match="holds the results of a search already"):
            tune(_quadratic, n_trials=2, sampler_seed=1)
    assert len(_children(parent.id)) == 2


def test_a_timeout_ends_the_search_early(project) -> None:
    def slow(trial: Any) -> float:
        time.sleep(0.03)
        return trial.suggest_float("x", 0, 1)

    result = tune(slow, n_trials=1000, timeout_s=0.05)
    # Each trial takes at least 0.03 s, so a 0.05 s budget starts no third trial.
    assert 1 <= result.n_trials <= 2
    assert len(result.trial_run_ids) == result.n_trials


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_optuna_keeps_its_warnings_but_not_its_line_per_trial(project) -> None:
    def fails_once(trial: Any) -> float:
        if trial.number == 0:
            raise ValueError("first batch is corrupt")
        return trial.suggest_float("x", 0, 1)

    records = _Records()
    optuna_logger = logging.getLogger("optuna")
    optuna_logger.addHandler(records)
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.INFO)
    try:
        tune(fails_once, n_trials=3)
        assert optuna.logging.get_verbosity() == optuna.logging.INFO  # restored
    finally:
        optuna.logging.set_verbosity(before)
        optuna_logger.removeHandler(records)
    assert records.records, "the failed trial's warning reaches the handler"
    assert {record.levelno for record in records.records} == {logging.WARNING}
    assert "first batch is corrupt" in "\n".join(r.getMessage() for r in records.records)


def test_without_optuna_the_error_says_which_extra_to_install(
    project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "optuna", None)  # what `import optuna` sees when absent
    with pytest.raises(LoopmlError, match=r"pip install 'loopml\[hpo\]'"):
        tune(_quadratic, n_trials=2)
    assert _runs() == []


def test_importing_loopml_or_the_tuning_module_does_not_import_optuna(tmp_path: Path) -> None:
    done = run_python(
        "import sys, loopml, loopml.pipelines.tuning\nprint('optuna' in sys.modules)",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_a_search_inside_a_pipeline_step_hangs_its_trials_under_the_steps_run(
    project, write, db
) -> None:
    path = write(
        """
        import loopml

        @loopml.step
        def search(n_trials: int = 6) -> dict:
            result = loopml.tune(
                lambda trial: -((trial.suggest_float("x", -4, 4) - 1.5) ** 2),
                n_trials=n_trials,
                sampler_seed=3,
            )
            return result.best_params

        @loopml.step
        def fit(best: dict) -> float:
            return round(best["x"], 6)

        @loopml.pipeline
        def hpo():
            fit(search())
        """
    )
    run = loopml.pipelines.run(path)
    step_run_id = run.step("search").run_id
    with db.read() as connection:
        children = (
            connection.execute(
                select(runs_table.c.name).where(runs_table.c.parent_run_id == step_run_id)
            )
            .scalars()
            .all()
        )
    assert sorted(children) == [f"trial-{n}" for n in range(6)]
    best = loopml.pipelines.output(run.id, "search")
    assert loopml.get_run(step_run_id).params == {
        "n_trials": "6",
        **{f"best.{k}": str(v) for k, v in best.items()},
    }
    assert loopml.pipelines.output(run.id, "fit") == round(best["x"], 6)
    again = loopml.pipelines.run(path)  # the search is cached like any step
    assert again.step("search").status == "CACHED"

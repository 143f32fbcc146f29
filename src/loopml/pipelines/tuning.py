"""Hyperparameter search as a pipeline step: an Optuna study whose trials are tracked runs.

Each trial runs as a child run of the active run (or of a ``tune`` run started for the
search) and holds the trial's params, its ``objective`` value and every
``trial.report(value, step)`` as metric ``intermediate``. The parent run gets the best
params as ``best.<name>``, metric ``best_objective`` and tag ``best_trial_run``.

Optuna is optional (``pip install 'loopml[hpo]'``) and imported only when :func:`tune`
runs, so ``import loopml`` never pays for it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..errors import Conflict, InvalidInput, LoopmlError
from ..tracking.entities import FAILED, KILLED
from ..tracking.fluent import ActiveRun, active_run, start_run
from ..tracking.validation import TAG_VALUE_LENGTH

if TYPE_CHECKING:
    import optuna

PRUNERS = ("median", "hyperband", "none")
DIRECTIONS = ("maximize", "minimize")


@dataclass(frozen=True)
class TuneResult:
    """What a search found. Every trial is also a child run of ``parent_run_id``."""

    best_params: dict[str, Any]
    best_value: float
    best_run_id: str
    n_trials: int
    """Trials run, which is fewer than asked for when ``timeout_s`` ran out."""
    n_pruned: int
    n_failed: int
    trial_run_ids: tuple[str, ...]
    """The child run of each trial, in trial order."""
    parent_run_id: str


def tune(
    objective: Callable[[optuna.Trial], float],
    *,
    n_trials: int,
    direction: str = "maximize",
    sampler_seed: int | None = None,
    pruner: str | optuna.pruners.BasePruner | None = "median",
    timeout_s: float | None = None,
    experiment: str | None = None,
    run_name: str = "tune",
) -> TuneResult:
    """Search hyperparameters with Optuna's TPE sampler, tracking every trial as a child run.

    ``objective(trial)`` suggests values (``trial.suggest_float("lr", 1e-4, 1e-1, log=True)``),
    trains and returns the number to ``direction``. It may call ``trial.report(value, step)``
    and raise ``optuna.TrialPruned()`` when ``trial.should_prune()`` says so; the trial's
    run then ends KILLED with tag ``optuna.state=PRUNED``. A trial whose objective raises
    (or returns something that is not a number, or NaN) ends FAILED with the error in its
    ``error`` tag, and the search goes on; if no trial completes, :class:`InvalidInput`
    names the first error.

    With a run active the trials are its children and ``experiment`` must be its
    experiment or None; without one, ``tune`` starts a parent run ``run_name`` in
    ``experiment`` and ends it. ``pruner`` is ``"median"`` (Optuna's ``MedianPruner``),
    ``"hyperband"``, ``"none"`` or ``None`` (no pruning), or any Optuna pruner.
    ``sampler_seed`` makes the sequence of suggested params repeatable. Trials run one
    after another in this process, on an in-memory study.

    >>> def objective(trial):  # doctest: +SKIP
    ...     x = trial.suggest_float("x", -10, 10)
    ...     return -((x - 2) ** 2)
    >>> result = tune(objective, n_trials=20, sampler_seed=0)  # doctest: +SKIP
    >>> round(result.best_params["x"])  # doctest: +SKIP
    2
    """
    name = _describe_objective(objective)
    _check_arguments(objective, n_trials, direction, sampler_seed, timeout_s)
    optuna = _import_optuna()
    study_pruner = _make_pruner(optuna, pruner)
    parent = active_run()
    if parent is not None:
        _check_parent(parent, experiment)
    with _info_logs_silenced(optuna):
        study = optuna.create_study(  # no storage: the study lives in memory, the runs hold it
            # A fixed name, since HyperbandPruner assigns trials to brackets by a hash of it.
            study_name="loopml-tune",
            direction=direction,
            sampler=optuna.samplers.TPESampler(seed=sampler_seed),
            pruner=study_pruner,
        )
        if parent is not None:
            return _search(optuna, study, objective, name, parent, n_trials, timeout_s)
        with start_run(experiment, run_name) as own_parent:
            return _search(optuna, study, objective, name, own_parent, n_trials, timeout_s)


class _ObjectiveFailed(Exception):
    """The objective's own failure, carried through Optuna, which records the trial as FAIL
    and goes on. Anything else raised while tracking a trial stops the search."""


class _TrackedObjective:
    """The function Optuna calls: runs ``objective`` for one trial inside a child run."""

    def __init__(
        self, optuna: ModuleType, objective: Callable[[Any], Any], name: str, parent: ActiveRun
    ) -> None:
        self.optuna = optuna
        self.objective = objective
        self.name = name
        self.parent = parent
        self.run_ids: dict[int, str] = {}
        self.first_error: Exception | None = None

    def __call__(self, trial: optuna.Trial) -> float:
        with start_run(
            nested=True, run_name=f"trial-{trial.number}", tags={"optuna.trial": trial.number}
        ) as run:
            self.run_ids[trial.number] = run.id
            _log_reports(trial, run)
            try:
                value = _objective_value(self.objective(trial), self.name)
            except self.optuna.TrialPruned:
                _end_trial(run, trial, "PRUNED", KILLED)
                raise
            except Exception as exc:
                if self.first_error is None:
                    self.first_error = exc
                _end_trial(run, trial, "FAIL", FAILED, error=_describe_error(exc))
                raise _ObjectiveFailed(
                    f"objective {self.name} raised {_describe_error(exc)}"
                ) from exc
            run.log_params(trial.params)
            run.log_metric("objective", value)
            run.set_tag("optuna.state", "COMPLETE")
            return value

    def log_best(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        """Optuna callback: the best value so far, on the parent, at the trial's number."""
        if trial.state == self.optuna.trial.TrialState.COMPLETE:
            self.parent.log_metric("best_objective", study.best_value, step=trial.number)


def _search(
    optuna: ModuleType,
    study: optuna.Study,
    objective: Callable[[Any], Any],
    name: str,
    parent: ActiveRun,
    n_trials: int,
    timeout_s: float | None,
) -> TuneResult:
    tracked = _TrackedObjective(optuna, objective, name, parent)
    study.optimize(
        tracked,
        n_trials=n_trials,
        timeout=timeout_s,
        catch=(_ObjectiveFailed,),  # Optuna's default () stops at the first failure
        callbacks=[tracked.log_best],
    )
    states = [trial.state.name for trial in study.get_trials(deepcopy=False)]
    n_pruned, n_failed = states.count("PRUNED"), states.count("FAIL")
    if "COMPLETE" not in states:
        error = _no_trial_completed(name, len(states), n_pruned, n_failed, tracked.first_error)
        raise error from tracked.first_error
    best = study.best_trial
    best_run_id = tracked.run_ids[best.number]
    parent.log_params({f"best.{key}": value for key, value in best.params.items()})
    parent.set_tag("best_trial_run", best_run_id)
    return TuneResult(
        best_params=dict(best.params),
        best_value=float(study.best_value),
        best_run_id=best_run_id,
        n_trials=len(states),
        n_pruned=n_pruned,
        n_failed=n_failed,
        trial_run_ids=tuple(tracked.run_ids[number] for number in sorted(tracked.run_ids)),
        parent_run_id=parent.id,
    )


def _log_reports(trial: optuna.Trial, run: ActiveRun) -> None:
    """Make ``trial.report(value, step)`` also log metric ``intermediate`` at ``step``.

    Optuna has no hook for reports, and a wrapper object would not be the ``optuna.Trial``
    the objective is promised, so the method is shadowed on this one trial object.
    """
    report = trial.report
    logged: set[int] = set()

    def report_and_log(value: float, step: int) -> None:
        report(value, step)  # checks and converts; keeps only the first value of a step
        step = int(step)
        if step not in logged:
            logged.add(step)
            run.log_metric("intermediate", float(value), step=step)

    trial.report = report_and_log  # type: ignore[method-assign]


def _end_trial(
    run: ActiveRun, trial: optuna.Trial, state: str, status: str, error: str | None = None
) -> None:
    run.log_params(trial.params)  # the params suggested before it stopped
    tags = {"optuna.state": state}
    if error is not None:
        tags["error"] = error[:TAG_VALUE_LENGTH]
    run.set_tags(tags)
    run.end(status)


def _objective_value(value: Any, name: str) -> float:
    """The objective's return value as Optuna takes it: anything ``float()`` accepts, not NaN."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if math.isnan(number):
        raise InvalidInput(
            f"objective {name} returned {type(value).__name__} {value!r}",
            hint="return one number (not NaN); raise optuna.TrialPruned() to stop a trial early",
        )
    return number


def _no_trial_completed(
    name: str, n_trials: int, n_pruned: int, n_failed: int, first_error: Exception | None
) -> InvalidInput:
    if n_failed == n_trials and first_error is not None:
        return InvalidInput(
            f"all {n_trials} trials of objective {name} failed; "
            f"the first raised {_describe_error(first_error)}",
            hint="each trial's error is in the 'error' tag of its run",
        )
    return InvalidInput(
        f"no trial of objective {name} completed: {n_pruned} pruned, {n_failed} failed",
        hint="let some trials finish: a gentler pruner, more trials or a longer timeout_s",
    )


def _check_arguments(
    objective: Any, n_trials: Any, direction: Any, sampler_seed: Any, timeout_s: Any
) -> None:
    if not callable(objective):
        raise InvalidInput(
            f"the objective must be callable, got {type(objective).__name__} {objective!r}",
            hint="pass a function that takes an optuna.Trial and returns a number",
        )
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise InvalidInput(
            f"n_trials must be a positive integer, got {n_trials!r}",
            hint="for example n_trials=20; cap the time with timeout_s",
        )
    if direction not in DIRECTIONS:
        raise InvalidInput(
            f"direction must be 'maximize' or 'minimize', got {direction!r}",
            hint="use 'maximize' for a score such as accuracy, 'minimize' for a loss",
        )
    if sampler_seed is not None and (
        isinstance(sampler_seed, bool) or not isinstance(sampler_seed, int)
    ):
        raise InvalidInput(
            f"sampler_seed must be an integer or None, got {sampler_seed!r}",
            hint="for example sampler_seed=42",
        )
    if timeout_s is not None and (
        isinstance(timeout_s, bool)
        or not isinstance(timeout_s, int | float)
        or not timeout_s > 0  # also refuses NaN
    ):
        raise InvalidInput(
            f"timeout_s must be a positive number of seconds or None, got {timeout_s!r}",
            hint="for example timeout_s=3600 to start no trial after an hour; None for no limit",
        )


def _check_parent(parent: ActiveRun, experiment: str | None) -> None:
    if experiment is not None and experiment != parent.experiment_name:
        raise InvalidInput(
            f"the trials of a search are children of the active run {parent.id[:8]} in "
            f"experiment '{parent.experiment_name}', not '{experiment}'",
            hint="drop experiment=, or end the active run so tune starts its own",
        )
    if "best_trial_run" in parent.info.tags:
        raise Conflict(
            f"run {parent.id[:8]} ({parent.name}) holds the results of a search already",
            hint="run each search in a run of its own: loopml.start_run(nested=True)",
        )


def _make_pruner(optuna: ModuleType, pruner: Any) -> optuna.pruners.BasePruner:
    if pruner is None or pruner == "none":
        # Optuna's create_study(pruner=None) means MedianPruner, so "off" has to be explicit.
        return optuna.pruners.NopPruner()
    if pruner == "median":
        return optuna.pruners.MedianPruner()
    if pruner == "hyperband":
        return optuna.pruners.HyperbandPruner()
    if isinstance(pruner, optuna.pruners.BasePruner):
        return pruner
    raise InvalidInput(
        f"unknown pruner {pruner!r}",
        hint=f"use one of {', '.join(map(repr, PRUNERS))}, None, or an optuna.pruners object",
    )


@contextmanager
def _info_logs_silenced(optuna: ModuleType) -> Iterator[None]:
    """Keep Optuna's warnings (a failed trial's traceback), not its INFO line per trial."""
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(max(before, optuna.logging.WARNING))
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)


def _import_optuna() -> ModuleType:
    try:
        import optuna
    except ImportError:
        raise LoopmlError(
            "hyperparameter search needs Optuna, which is not installed",
            hint="install the extra: pip install 'loopml[hpo]'",
        ) from None
    return optuna


def _describe_objective(objective: Any) -> str:
    name = getattr(objective, "__qualname__", None)
    return f"'{name}'" if isinstance(name, str) else repr(objective)


def _describe_error(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"

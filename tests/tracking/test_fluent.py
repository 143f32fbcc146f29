from __future__ import annotations

import pytest

import loopml
from loopml.errors import Conflict, InvalidInput
from loopml.tracking import get_metric_history


def test_a_with_block_finishes_the_run_with_everything_logged(backend) -> None:
    with loopml.start_run(
        experiment="churn", run_name="baseline", params={"model": "xgb"}, tags={"team": "ads"}
    ) as run:
        run.log_param("depth", 6)
        run.log_params({"lr": 0.05})
        for step in range(100):
            run.log_metric("loss", 1 / (step + 1))
        run.log_metrics({"auc": 0.91, "f1": 0.8})
        run.set_tag("stage", "dev")
        run.set_tags({"owner": "ana"})
    stored = loopml.get_run(run.id)
    assert stored.status == "FINISHED"
    assert stored.end_time is not None
    assert stored.params == {"model": "xgb", "depth": "6", "lr": "0.05"}
    assert stored.metrics == {"loss": 1 / 100, "auc": 0.91, "f1": 0.8}
    assert stored.tags == {"team": "ads", "stage": "dev", "owner": "ana"}
    history = get_metric_history(run.store, run.id, "loss")
    assert [p.step for p in history] == list(range(100))


def test_an_exception_marks_the_run_failed_and_propagates(project) -> None:
    with pytest.raises(ZeroDivisionError), loopml.start_run() as run:
        run.log_metric("before", 1.0)
        _ = 1 / 0
    stored = loopml.get_run(run.id)
    assert stored.status == "FAILED"
    assert stored.metrics == {"before": 1.0}


def test_ctrl_c_marks_the_run_killed(project) -> None:
    with pytest.raises(KeyboardInterrupt), loopml.start_run() as run:
        raise KeyboardInterrupt
    assert loopml.get_run(run.id).status == "KILLED"


@pytest.mark.parametrize(("code", "status"), [(0, "FINISHED"), (None, "FINISHED"), (3, "FAILED")])
def test_sys_exit_inside_a_run_sets_the_status_from_its_code(project, code, status) -> None:
    with pytest.raises(SystemExit), loopml.start_run() as run:
        raise SystemExit(code)
    assert loopml.get_run(run.id).status == status


def test_module_level_calls_log_to_the_active_run(project) -> None:
    run = loopml.start_run(experiment="e")
    assert loopml.active_run() is run
    loopml.log_param("a", 1)
    loopml.log_params({"b": 2})
    loopml.log_metric("m", 0.5, step=10)
    loopml.log_metric("m", 0.6)  # continues after the explicit step
    loopml.log_metrics({"n": 1.0})
    loopml.set_tag("t", "x")
    loopml.set_tags({"u": "y"})
    loopml.end_run()
    assert loopml.active_run() is None
    stored = loopml.get_run(run.id)
    assert stored.params == {"a": "1", "b": "2"}
    assert stored.metrics == {"m": 0.6, "n": 1.0}
    assert [p.step for p in get_metric_history(run.store, run.id, "m")] == [10, 11]


def test_module_level_calls_without_a_run_say_how_to_start_one(project) -> None:
    with pytest.raises(Conflict, match="no run is active.*start_run"):
        loopml.log_metric("m", 1.0)


def test_nested_runs_need_to_be_asked_for(project) -> None:
    with loopml.start_run(run_name="parent") as parent:
        with pytest.raises(Conflict, match="still active.*nested=True"):
            loopml.start_run()
        with loopml.start_run(run_name="child", nested=True) as child:
            assert loopml.active_run() is child
        assert loopml.active_run() is parent
    assert loopml.get_run(child.id).parent_run_id == parent.id


def test_a_finished_run_can_be_resumed(project) -> None:
    with loopml.start_run() as run:
        run.log_metric("m", 1.0)
    with loopml.start_run(run_id=run.id) as again:
        again.log_metric("m", 2.0, step=1)
    stored = loopml.get_run(run.id)
    assert stored.status == "FINISHED"
    assert stored.metrics == {"m": 2.0}


def test_a_bad_metric_is_refused_at_the_call_not_later(project) -> None:
    with loopml.start_run() as run:
        with pytest.raises(InvalidInput, match="metric 'auc' must be a number"):
            run.log_metric("auc", "high")
        with pytest.raises(InvalidInput, match="metric 'b' must be a number"):
            run.log_metrics({"a": 1.0, "b": None})
    assert loopml.get_run(run.id).metrics == {}


def test_reading_a_run_in_progress_sees_its_own_metrics(project) -> None:
    with loopml.start_run() as run:
        for step in range(10):
            run.log_metric("loss", float(step))
        assert run.info.metrics == {"loss": 9.0}
        frame = loopml.search_runs("metrics.loss >= 9")
        assert list(frame["run_id"]) == [run.id]


def test_experiment_defaults_to_the_environment_variable(project, monkeypatch) -> None:
    monkeypatch.setenv("LOOPML_EXPERIMENT", "from-env")
    with loopml.start_run() as run:
        pass
    assert loopml.get_run(run.id).experiment_name == "from-env"


def test_a_run_records_where_it_ran(project) -> None:
    import numpy

    with loopml.start_run() as run:
        pass
    stored = loopml.get_run(run.id)
    assert stored.host and stored.pid and stored.python_version
    packages = stored.environment["packages"]
    assert packages["numpy"] == numpy.__version__
    assert "pytest" in packages
    assert "os" not in packages  # the standard library is not a package


def test_a_resumed_run_continues_its_automatic_steps(project) -> None:
    with loopml.start_run() as run:
        run.log_metric("loss", 0.5)
        run.log_metric("loss", 0.4)
    with loopml.start_run(run_id=run.id) as again:
        again.log_metric("loss", 0.1)
    assert loopml.get_run(run.id).metrics == {"loss": 0.1}
    assert [p.step for p in get_metric_history(run.store, run.id, "loss")] == [0, 1, 2]


def test_a_child_run_stays_in_its_parents_experiment(project) -> None:
    with loopml.start_run(experiment="churn") as parent, loopml.start_run(nested=True) as child:
        pass
    assert loopml.get_run(child.id).experiment_name == "churn"
    assert loopml.get_run(parent.id).experiment_name == "churn"


def test_a_dict_with_nan_is_refused_as_json_but_fine_as_yaml(project) -> None:
    with loopml.start_run() as run:
        with pytest.raises(InvalidInput, match="NaN or infinity"):
            run.log_dict({"auc": float("nan")}, "scores.json")
        run.log_dict({"auc": float("nan")}, "scores.yaml")
    assert [entry.path for entry in run.list_artifacts()] == ["scores.yaml"]


def test_service_reads_see_values_still_in_the_buffer(project) -> None:
    from loopml import tracking

    with loopml.start_run() as run:
        run.log_metric("loss", 0.5)
        assert [p.value for p in tracking.get_metric_history(run.store, run.id, "loss")] == [0.5]
        assert tracking.get_run(run.store, run.id).metrics == {"loss": 0.5}

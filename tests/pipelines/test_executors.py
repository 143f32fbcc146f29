"""Executors: the same pipeline gives the same bytes in this process, in a pool of worker
processes and on a Dask cluster; steps are tracked runs wherever they run; independent
steps run side by side; a cluster that cannot be reached is a clear error."""

from __future__ import annotations

import json
import os

import pytest

import loopml
import loopml.pipelines
from loopml.errors import InvalidInput

# Each test runs on the embedded store and through a team server.
pytestmark = pytest.mark.usefixtures("mode")

PORTABLE = """
import os

import numpy as np
import pandas as pd
import loopml


@loopml.step
def table(rows: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    loopml.log_metric("pid", os.getpid())
    loopml.log_metric("rows", rows)
    return pd.DataFrame({"x": rng.normal(size=rows), "group": rng.integers(0, 3, size=rows)})


@loopml.step
def split(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    loopml.log_metric("pid", os.getpid())
    return frame[frame["group"] > 0], frame["x"].to_numpy()


@loopml.step
def summary(part: pd.DataFrame, values: np.ndarray) -> dict:
    loopml.log_metric("pid", os.getpid())
    loopml.log_metric("mean", float(values.mean()))
    return {"n": len(part), "mean": round(float(values.mean()), 12)}


@loopml.step
def power(k: int, values: np.ndarray) -> pd.Series:
    loopml.log_metric("pid", os.getpid())
    return pd.Series(values[:5] ** k, name=f"x^{k}")


@loopml.pipeline
def portable():
    part, values = split(table())
    summary(part, values)
    power.map([1, 2, 3], values=values)
"""


@pytest.mark.slow
def test_every_executor_stores_the_same_bytes_and_tracks_each_step(project, write) -> None:
    path = write(PORTABLE)
    runs = {
        "local": loopml.pipelines.run(path, cache=False),
        "processes": loopml.pipelines.run(path, executor="processes", workers=2, cache=False),
        "dask": loopml.pipelines.run(path, dask="local", cache=False),
    }
    hashes = {
        executor: {step.name: [output.hash for output in step.outputs] for step in run.steps}
        for executor, run in runs.items()
    }
    assert hashes["local"] == hashes["processes"] == hashes["dask"]
    assert len(hashes["local"]) == 7  # 4 steps and the 3 items of the map
    assert all(hashes["local"].values())
    assert runs["processes"].executor == "processes"
    assert runs["dask"].executor.startswith("dask:tcp://127.0.0.1:")

    for executor, run in runs.items():
        assert run.status == "FINISHED"
        executed = [step for step in run.steps if step.run_id is not None]
        assert {step.name for step in executed} == set(hashes["local"]) - {"power"}
        for step in executed:
            tracked = loopml.get_run(step.run_id)
            assert tracked.parent_run_id == run.id, (executor, step.name)
            assert tracked.status == "FINISHED"
            assert tracked.name == step.name
            ran_here = tracked.metrics["pid"] == os.getpid()
            assert ran_here == (executor == "local"), (executor, step.name)
        assert loopml.get_run(run.step("table").run_id).metrics["rows"] == 40
        mean = loopml.get_run(run.step("summary").run_id).metrics["mean"]
        assert loopml.pipelines.output(run.id, "summary")["mean"] == round(mean, 12)
    assert loopml.pipelines.output(runs["dask"].id, "power", 2).name == "x^3"


@pytest.mark.slow
def test_independent_steps_run_at_the_same_time_on_processes(project, write) -> None:
    # Each step marks its start, then waits (up to 20 s) to see the other one start: run in
    # parallel, both see it at once; run one after the other, their intervals cannot meet.
    path = write(
        f"""
        import json, time
        from pathlib import Path
        import loopml

        FOLDER = Path({str(project)!r})


        def meet(me: str, other: str) -> str:
            start = time.time()
            (FOLDER / f"{{me}}.start").write_text("")
            deadline = time.monotonic() + 20
            while not (FOLDER / f"{{other}}.start").exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            (FOLDER / f"{{me}}.json").write_text(json.dumps([start, time.time()]))
            return me


        @loopml.step
        def left() -> str:
            return meet("left", "right")


        @loopml.step
        def right() -> str:
            return meet("right", "left")


        @loopml.pipeline
        def side_by_side():
            left()
            right()
        """
    )
    run = loopml.pipelines.run(path, executor="processes", workers=2)
    assert run.status == "FINISHED"
    left_start, left_end = json.loads((project / "left.json").read_text())
    right_start, right_end = json.loads((project / "right.json").read_text())
    assert left_start < right_end and right_start < left_end  # the intervals overlap


@pytest.mark.slow
def test_a_dask_scheduler_that_does_not_answer_is_a_clear_error(write, cli) -> None:
    write(PORTABLE)
    done = cli("pipeline", "run", "pipe.py", "--dask", "tcp://127.0.0.1:1")
    assert done.returncode == 5
    assert done.stderr.startswith(
        "error: the Dask scheduler at tcp://127.0.0.1:1 does not answer: "
    )
    assert "dask scheduler" in done.stderr and "--dask local" in done.stderr
    assert "Traceback" not in done.stderr
    assert loopml.pipelines.list_runs() == []  # nothing was started


@pytest.mark.parametrize("address", ["nonsense", "tcp://127.0.0.1"])
def test_a_malformed_dask_address_is_bad_input(write, cli, address) -> None:
    write(PORTABLE)
    done = cli("pipeline", "run", "pipe.py", "--dask", address)
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: '{address}' is not a Dask scheduler address")
    assert "Traceback" not in done.stderr


def test_an_unknown_executor_lists_the_known_ones(project, write) -> None:
    with pytest.raises(InvalidInput, match="unknown executor 'threads'") as raised:
        loopml.pipelines.run(write(PORTABLE), executor="threads")
    assert raised.value.hint == "use local, processes or dask (with --dask ADDRESS)"
    assert loopml.pipelines.list_runs() == []

"""Failures: retries with backoff, time limits, what a failure does to the rest of the run,
resuming after a fix, and Ctrl-C. Every outcome is recorded on the step and its run."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time

import pytest

import loopml
import loopml.pipelines
from loopml.errors import StepFailed
from loopml.pipelines.reproduce import resume_run

from .conftest import loopml_command, reasons, statuses

# Each test runs on the embedded store and through a team server.
pytestmark = pytest.mark.usefixtures("mode")

FLAKY = """
import json, time
from pathlib import Path

import loopml


@loopml.step(retries={retries}, retry_delay=0.05, backoff=3)
def flaky(counter: str) -> int:
    path = Path(counter)
    times = json.loads(path.read_text()) if path.exists() else []
    times.append(time.monotonic())
    path.write_text(json.dumps(times))
    if len(times) < 3:
        raise ValueError(f"flaky attempt {{len(times)}}")
    return len(times)


@loopml.pipeline
def retried(counter: str):
    flaky(counter)
"""


def test_a_step_that_fails_twice_succeeds_on_its_third_attempt(project, write) -> None:
    counter = project / "attempts.json"
    run = loopml.pipelines.run(write(FLAKY.format(retries=2)), {"counter": str(counter)})
    flaky = run.step("flaky")
    assert (flaky.status, flaky.attempts, flaky.error) == ("COMPLETED", 3, None)
    assert loopml.pipelines.output(run.id, "flaky") == 3
    first, second, third = json.loads(counter.read_text())
    # Waits of 0.05 s, then 0.05 * 3: sleeping never ends early, so these bounds hold.
    assert second - first >= 0.05
    assert third - second >= 0.15
    assert loopml.get_run(flaky.run_id).status == "FINISHED"


def test_a_step_out_of_retries_fails_with_its_last_error(project, write) -> None:
    counter = project / "attempts.json"
    path = write(FLAKY.format(retries=1))
    with pytest.raises(StepFailed) as raised:
        loopml.pipelines.run(path, {"counter": str(counter)})
    run = loopml.pipelines.get_run(raised.value.details["pipeline_run_id"])
    flaky = run.step("flaky")
    assert (flaky.status, flaky.attempts) == ("FAILED", 2)
    assert flaky.error.endswith("ValueError: flaky attempt 2")
    assert f'File "{path}", line ' in flaky.error  # the user's own frames...
    assert "loopml/pipelines" not in flaky.error  # ...not loopml's
    assert raised.value.details["step"] == "flaky"
    assert raised.value.hint == f"fix it, then: loopml pipeline resume {run.id[:8]}"
    assert run.status == "FAILED"
    assert loopml.get_run(flaky.run_id).status == "FAILED"


HANGS = """
import time
import loopml


@loopml.step(timeout=1)
def slow() -> int:
    time.sleep(30)
    return 1


@loopml.step
def after(value: int) -> int:
    return value + 1


@loopml.step
def last(value: int) -> int:
    return value


@loopml.step
def independent() -> str:
    return "done"


@loopml.pipeline
def hangs():
    last(after(slow()))
    independent()
"""


@pytest.mark.parametrize("where", ["main thread", "another thread"])
def test_a_step_past_its_timeout_fails_and_what_needs_it_is_skipped(project, write, where) -> None:
    # The main thread stops the step with a signal; any other thread (a notebook's, a
    # Dask worker's) stops waiting for it.
    path = write(HANGS)
    found: dict[str, object] = {}

    def run() -> None:
        found["run"] = loopml.pipelines.run(path, raise_on_failure=False)

    if where == "main thread":
        run()
    else:
        thread = threading.Thread(target=run)
        thread.start()
        thread.join(60)
    result = found["run"]
    assert statuses(result) == {
        "slow": "FAILED",
        "after": "SKIPPED",
        "last": "SKIPPED",
        "independent": "COMPLETED",
    }
    assert "timed out after 1 s" in result.step("slow").error
    assert reasons(result)["after"] == "a step it needs failed"
    assert reasons(result)["last"] == "a step it needs failed"
    assert result.status == "FAILED"
    assert loopml.get_run(result.id).status == "FAILED"
    assert loopml.get_run(result.step("slow").run_id).status == "FAILED"


def test_a_step_returning_what_cannot_be_stored_fails_naming_the_fix(project, write) -> None:
    path = write(
        """
        import loopml

        @loopml.step
        def stream() -> object:
            return (row for row in range(3))

        @loopml.step
        def consume(rows: object) -> int:
            return 0

        @loopml.pipeline
        def streams():
            consume(stream())
        """
    )
    run = loopml.pipelines.run(path, raise_on_failure=False)
    assert statuses(run) == {"stream": "FAILED", "consume": "SKIPPED"}
    assert run.step("stream").error == (
        "step 'stream' output is a generator, which cannot be stored: cannot pickle "
        "'generator' object (return data the next step can load (a DataFrame, array, "
        "dict or model))"
    )
    assert run.step("stream").attempts == 1  # storing is not retried: the code is wrong


BROKEN = """
import loopml


@loopml.step
def ingest() -> list:
    return [1, 2, 3]


@loopml.step
def train(rows: list) -> float:
    return sum(rows) / 0


@loopml.step
def evaluate(model: float) -> float:
    return model


@loopml.step
def report() -> str:
    return "report"


@loopml.pipeline
def broken():
    evaluate(train(ingest()))
    report()
"""


def test_a_failed_run_exits_7_and_resume_reruns_only_what_failed(write, cli) -> None:
    path = write(BROKEN)
    done = cli("pipeline", "run", "pipe.py")
    assert done.returncode == 7
    assert "step 'train' failed:" in done.stderr
    assert f'File "{path}", line 11, in train' in done.stderr
    assert "ZeroDivisionError: division by zero" in done.stderr
    assert "Traceback" not in done.stderr
    [failed] = loopml.pipelines.list_runs("broken")
    assert f"fix it, then: loopml pipeline resume {failed.id[:8]}" in done.stderr
    assert statuses(failed) == {
        "ingest": "COMPLETED",
        "train": "FAILED",
        "evaluate": "SKIPPED",
        "report": "COMPLETED",
    }

    write(BROKEN.replace("sum(rows) / 0", "sum(rows) / len(rows)"))
    resumed = cli.json("pipeline", "resume", failed.id[:8])
    assert resumed["status"] == "FINISHED"
    assert resumed["resumed_from"] == failed.id
    assert statuses(resumed) == {
        "ingest": "CACHED",
        "train": "COMPLETED",
        "evaluate": "COMPLETED",
        "report": "CACHED",
    }
    assert reasons(resumed)["ingest"] == f"reused from resumed run {failed.id[:8]}"
    assert reasons(resumed)["report"] == f"reused from resumed run {failed.id[:8]}"
    assert reasons(resumed)["train"] == "the step's source changed"
    assert loopml.pipelines.output(resumed["id"], "evaluate") == 2.0


def test_resume_in_the_same_process_runs_the_edited_code(project, write) -> None:
    path = write(BROKEN)
    failed = loopml.pipelines.run(path, raise_on_failure=False)
    assert failed.step("train").status == "FAILED"
    write(BROKEN.replace("sum(rows) / 0", "sum(rows) / len(rows)"))
    resumed = resume_run(failed.id)
    assert statuses(resumed)["train"] == "COMPLETED"
    assert statuses(resumed)["ingest"] == "CACHED"
    assert loopml.pipelines.output(resumed.id, "evaluate") == 2.0


def test_a_failed_map_item_is_resumed_alone(project, write) -> None:
    fixed = project / "zero-is-fine"  # what fails is outside the code: the key is the same
    path = write(
        f"""
        from pathlib import Path
        import loopml

        @loopml.step
        def invert(value: int) -> float:
            if value == 0 and not Path({str(fixed)!r}).exists():
                raise ValueError("cannot invert 0")
            return 1 / value if value else 0.0

        @loopml.step
        def total(values: list) -> float:
            return sum(values)

        @loopml.pipeline
        def inverses():
            total(invert.map([1, 0, 4]))
        """
    )
    failed = loopml.pipelines.run(path, raise_on_failure=False)
    assert statuses(failed) == {
        "invert[0]": "COMPLETED",
        "invert[1]": "FAILED",
        "invert[2]": "SKIPPED",  # not started once another item failed
        "total": "SKIPPED",
    }
    assert reasons(failed)["invert[2]"] == "item invert[1] failed"
    fixed.touch()
    resumed = resume_run(failed.id)
    assert statuses(resumed) == {
        "invert[0]": "CACHED",
        "invert[1]": "COMPLETED",
        "invert[2]": "COMPLETED",
        "invert": "COMPLETED",
        "total": "COMPLETED",
    }
    assert reasons(resumed)["invert[1]"] == f"its last run ({failed.id[:8]}) did not succeed"
    assert loopml.pipelines.output(resumed.id, "total") == 1.25


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sent", "executor", "exit_code"),
    [
        (signal.SIGINT, "local", 130),
        (signal.SIGTERM, "local", 143),
        (signal.SIGTERM, "processes", 143),
    ],
    ids=["ctrl-c", "sigterm", "sigterm-processes"],
)
def test_ctrl_c_or_sigterm_kills_the_run_and_its_running_step(
    project, write, sent, executor, exit_code
) -> None:
    started = project / "started"
    write(
        f"""
        import time
        from pathlib import Path
        import loopml

        @loopml.step
        def ready() -> int:
            return 1

        @loopml.step
        def sleeps(value: int) -> int:
            Path({str(started)!r}).write_text("sleeping")
            time.sleep(30)
            return value

        @loopml.step
        def after(value: int) -> int:
            return value

        @loopml.pipeline
        def interrupted():
            after(sleeps(ready()))
        """
    )
    process = subprocess.Popen(
        loopml_command("pipeline", "run", "pipe.py", "--executor", executor),
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not started.exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the step never started"
            time.sleep(0.05)
        process.send_signal(sent)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == exit_code, stderr
    assert "Traceback" not in stderr
    [run] = loopml.pipelines.list_runs("interrupted")
    assert run.status == "KILLED"
    assert statuses(run) == {"ready": "COMPLETED", "sleeps": "KILLED"}
    assert run.step("sleeps").ended_at is not None
    assert loopml.get_run(run.step("sleeps").run_id).status == "KILLED"


def test_resuming_a_run_that_does_not_exist_leaves_no_run_behind(project, write) -> None:
    path = write(
        """
        import loopml

        @loopml.step
        def one() -> int:
            return 1

        @loopml.pipeline
        def single():
            one()
        """
    )
    with pytest.raises(loopml.errors.NotFound):
        loopml.pipelines.run(path, resume_from="ffffffff")
    assert loopml.pipelines.list_runs("single") == []


def test_a_step_timed_in_a_thread_keeps_its_run_and_its_dataset_reads(project, write) -> None:
    # Off the main thread (as on a Dask worker) a timed step runs in a thread of its own:
    # what it logs and the datasets it reads must still reach its run and its cache key.
    import pandas as pd

    import loopml.data

    loopml.data.add("numbers", pd.DataFrame({"v": [1.0, 2.0]}))
    path = write(
        """
        import loopml

        @loopml.step(timeout=60)
        def total() -> float:
            value = float(loopml.data.load("numbers")["v"].sum())
            loopml.log_metric("total", value)
            return value

        @loopml.pipeline
        def sums():
            total()
        """
    )
    box = {}
    worker = threading.Thread(target=lambda: box.update(run=loopml.pipelines.run(path)))
    worker.start()
    worker.join(60)
    step = box["run"].step("total")
    assert step.key_parts["datasets"] == {"numbers": "numbers@1"}
    assert loopml.get_run(step.run_id).metrics == {"total": 3.0}


def test_steps_side_by_side_in_one_process_log_into_their_own_runs(project) -> None:
    from loopml.tracking.fluent import run_in_context, start_run
    from loopml.tracking.runs import create_run

    store = loopml.default_store()
    runs = [start_run(run_id=create_run(store, name=f"r{i}").id) for i in range(2)]
    barrier = threading.Barrier(2)

    def log(index: int) -> None:
        with run_in_context(runs[index]):
            barrier.wait()
            for step in range(50):
                loopml.log_metric("who", float(index), step=step)

    threads = [threading.Thread(target=log, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for index, run in enumerate(runs):
        run.end()
        history = loopml.tracking.get_metric_history(store, run.id, "who")
        assert [p.value for p in history] == [float(index)] * 50

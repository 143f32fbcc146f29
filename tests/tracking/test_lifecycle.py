"""Whole processes: nothing buffered is lost on a normal exit, an exception or SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import loopml
from loopml.config import resolve
from loopml.store import open_store
from loopml.tracking import get_metric_history

from ..helpers import run_python

_LOG = """
import sys, loopml
run = loopml.start_run(experiment="life")
print(run.id, flush=True)
for step in range(5000):
    run.log_metric("m", step)
"""


def _history(run_id: str, key: str = "m") -> list[int]:
    store = open_store(resolve())
    try:
        return [int(p.value) for p in get_metric_history(store, run_id, key)]
    finally:
        store.close()


def test_exiting_without_end_run_finishes_the_run_with_every_metric(project: Path) -> None:
    done = run_python(_LOG, cwd=project)
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split()[0]
    assert _history(run_id) == list(range(5000))
    assert loopml.get_run(run_id).status == "FINISHED"


def test_an_uncaught_exception_fails_the_run_with_every_metric(project: Path) -> None:
    done = run_python(_LOG + "raise RuntimeError('boom')\n", cwd=project)
    assert done.returncode == 1
    assert "RuntimeError: boom" in done.stderr
    run_id = done.stdout.split()[0]
    assert _history(run_id) == list(range(5000))
    assert loopml.get_run(run_id).status == "FAILED"


_WAIT_FOR_SIGNAL = """
import sys, time, loopml
with loopml.start_run(experiment="life") as run:
    for step in range(5000):
        run.log_metric("m", step)
    print(json.dumps({"id": run.id}), flush=True)
    time.sleep(60)
"""


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, -signal.SIGINT)]
)
def test_a_terminated_process_keeps_every_metric_and_marks_the_run_killed(
    project: Path, signum: int, code: int
) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", "import json\n" + _WAIT_FOR_SIGNAL],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None
        run_id = json.loads(process.stdout.readline())["id"]
        process.send_signal(signum)
        process.wait(timeout=30)
        assert process.returncode == code, process.stderr.read() if process.stderr else ""
    assert _history(run_id) == list(range(5000))
    assert loopml.get_run(run_id).status == "KILLED"


_TERM_WHILE_LOGGING = """
import faulthandler, os, signal, threading, loopml
faulthandler.dump_traceback_later(90, exit=True)  # a hang fails with every thread's stack
run = loopml.start_run(experiment="life")
print(run.id, flush=True)
# SIGTERM arrives while the main thread is logging and flushing as fast as it can.
threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM)).start()
step = 0
while True:
    run.log_metric("m", step)
    step += 1
    if step % 997 == 0:
        run._buffer.flush()
        with open("logged.tmp", "w") as f:  # replaced atomically: never read half-written
            f.write(str(step))
        os.replace("logged.tmp", "logged")
"""


@pytest.mark.slow
def test_sigterm_in_the_middle_of_a_flush_loses_nothing(project: Path) -> None:
    for _ in range(3):
        done = run_python(_TERM_WHILE_LOGGING, cwd=project)
        assert done.returncode == 143, done.stderr
        run_id = done.stdout.split()[0]
        history = _history(run_id)
        # Every logged step is stored exactly once, in order, with no gap or duplicate.
        assert history == list(range(len(history)))
        assert len(history) >= int((project / "logged").read_text())
        assert loopml.get_run(run_id).status == "KILLED"


def test_sigterm_handled_inside_a_weakref_callback_still_ends_the_run(project: Path) -> None:
    """The handler runs at the next bytecode; inside a weakref callback (a collection
    can start anywhere) its exception is only printed, so the signal is delivered again
    and the process still stops, its run KILLED."""
    code = """
import os, signal, time, weakref, loopml
class Thing: pass
def collected(_):
    os.kill(os.getpid(), signal.SIGTERM)
    for _ in range(100_000):  # the handler runs here, inside the callback
        pass
with loopml.start_run() as run:
    print(run.id, flush=True)
    thing = Thing()
    watcher = weakref.ref(thing, collected)
    del thing
    time.sleep(10)
    print("went on")
"""
    done = run_python(code, cwd=project)
    assert done.returncode == 143, done.stdout + done.stderr
    assert "went on" not in done.stdout
    assert loopml.get_run(done.stdout.split()[0]).status == "KILLED"


def test_a_program_with_its_own_sigterm_handler_keeps_it(project: Path) -> None:
    code = """
import os, signal, loopml
seen = []
signal.signal(signal.SIGTERM, lambda *a: seen.append(a[0]))
with loopml.start_run() as run:
    run.log_metric("m", 1.0)
    os.kill(os.getpid(), signal.SIGTERM)
print(seen, run.id)
"""
    done = run_python(code, cwd=project)
    assert done.returncode == 0, done.stderr
    seen, run_id = done.stdout.split(" ", 1)[0], done.stdout.split()[-1]
    assert seen == "[15]"
    assert loopml.get_run(run_id).status == "FINISHED"


@pytest.mark.parametrize(
    ("ending", "status", "code"),
    [
        ("sys.exit(1)", "FAILED", 1),
        ("sys.exit('bad input')", "FAILED", 1),
        ("sys.exit(0)", "FINISHED", 0),
    ],
)
def test_sys_exit_with_a_run_left_open_ends_it_with_the_matching_status(
    project: Path, ending: str, status: str, code: int
) -> None:
    done = run_python(_LOG + f"import sys\n{ending}\n", cwd=project)
    assert done.returncode == code, done.stderr
    run_id = done.stdout.split()[0]
    assert _history(run_id) == list(range(5000))
    assert loopml.get_run(run_id).status == status


_FORK_POOL = """
import multiprocessing, loopml

def work(value):
    loopml.log_metric("child", float(value), step=value)
    return value

if __name__ == "__main__":
    # Several rounds: the pool terminates its workers right after the last result, the
    # moment where rows logged in a worker used to be lost and a worker could ignore
    # its SIGTERM and hang the pool's shutdown.
    for _ in range(5):
        with loopml.start_run(experiment="forks") as run:
            run.log_metric("parent", 1.0)
            with multiprocessing.get_context("fork").Pool(2) as pool:
                assert sorted(pool.map(work, range(20))) == list(range(20))
            run.log_metric("parent", 2.0)
        print(run.id)
"""


@pytest.mark.slow
@pytest.mark.usefixtures("mode")  # remotely, a child gets its own connections and buffer
def test_forked_workers_log_into_the_parents_run_without_losing_or_doubling(
    project: Path,
) -> None:
    script = project / "pool.py"
    script.write_text(_FORK_POOL)
    done = subprocess.run(
        [sys.executable, str(script)], cwd=project, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    run_ids = done.stdout.split()
    assert len(run_ids) == 5
    store = open_store(resolve())
    try:
        for run_id in run_ids:
            child = get_metric_history(store, run_id, "child")
            parent = get_metric_history(store, run_id, "parent")
            assert sorted(int(p.value) for p in child) == list(range(20))
            assert [p.value for p in parent] == [1.0, 2.0]  # no copy of the parent's rows
            assert loopml.get_run(run_id).status == "FINISHED"
    finally:
        store.close()


@pytest.mark.usefixtures("mode")
def test_a_forked_child_killed_by_sigterm_has_written_what_it_logged(project: Path) -> None:
    code = """
import os, signal, time, loopml
run = loopml.start_run(experiment="forks")
ready_r, ready_w = os.pipe()
pid = os.fork()
if pid == 0:
    for step in range(50):
        run.log_metric("child", float(step))
    os.write(ready_w, b"x")
    time.sleep(60)
    os._exit(0)
os.read(ready_r, 1)
os.kill(pid, signal.SIGTERM)
_, status = os.waitpid(pid, 0)
print(os.WIFSIGNALED(status), run.id)
run.end()
"""
    done = run_python(code, cwd=project, timeout=60)
    assert done.returncode == 0, done.stderr
    killed, run_id = done.stdout.split()
    assert killed == "True"  # the default action: it did not linger in a handler
    assert _history(run_id, "child") == list(range(50))


@pytest.mark.usefixtures("mode")
def test_a_forked_child_that_exits_does_not_end_the_parents_run(project: Path) -> None:
    code = """
import os, sys, time, loopml
run = loopml.start_run(experiment="forks")
run.log_metric("m", 1.0)
pid = os.fork()
if pid == 0:
    run.log_metric("from_child", 5.0)
    sys.exit(0)
os.waitpid(pid, 0)
print(loopml.get_run(run.id).status, sorted(loopml.get_run(run.id).metrics.items()))
run.end()
print(run.id)
"""
    done = run_python(code, cwd=project)
    assert done.returncode == 0, done.stderr
    status_line, run_id = done.stdout.strip().splitlines()
    assert status_line == "RUNNING [('from_child', 5.0), ('m', 1.0)]"
    store = open_store(resolve())
    try:
        assert len(get_metric_history(store, run_id, "m")) == 1
    finally:
        store.close()

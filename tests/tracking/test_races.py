"""Writers racing on the same keys get clear outcomes, never a raw database error."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from loopml.errors import Conflict
from loopml.governance import verify
from loopml.tracking import (
    create_run,
    get_run,
    list_artifacts,
    list_experiments,
    log_bytes,
    log_params,
    set_tags,
)

THREADS = 8


def _race(work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in THREADS threads released at once; return results or exceptions."""
    barrier = threading.Barrier(THREADS)
    results: list[Any] = [None] * THREADS

    def target(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index)
        except Exception as exc:  # collected and checked by the test
            results[index] = exc

    threads = [threading.Thread(target=target, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_runs_created_at_once_in_a_new_experiment_share_it(store) -> None:
    results = _race(lambda i: create_run(store, experiment="brand-new", name=f"r{i}"))
    assert all(not isinstance(result, Exception) for result in results), results
    assert [e.name for e in list_experiments(store)] == ["brand-new"]


def test_the_same_params_logged_at_once_are_one_no_op(store) -> None:
    run = create_run(store)
    results = _race(lambda i: log_params(store, run.id, {"lr": 0.1, "depth": 6}))
    assert results == [None] * THREADS
    assert get_run(store, run.id).params == {"lr": "0.1", "depth": "6"}


def test_different_values_for_one_param_race_to_exactly_one_winner(store) -> None:
    run = create_run(store)
    results = _race(lambda i: log_params(store, run.id, {"seed": i}))
    winners = [result for result in results if result is None]
    assert len(winners) == 1
    assert all(isinstance(r, Conflict) for r in results if r is not None), results
    assert get_run(store, run.id).params["seed"] == str(results.index(None))


def test_tags_overwritten_at_once_keep_one_value(store) -> None:
    run = create_run(store, tags={"stage": "v0"})
    results = _race(lambda i: set_tags(store, run.id, {"stage": f"v{i + 1}"}))
    assert results == [None] * THREADS
    assert get_run(store, run.id).tags["stage"] in {f"v{i + 1}" for i in range(THREADS)}


def test_files_logged_at_once_to_one_path_keep_one(store) -> None:
    run = create_run(store)
    results = _race(lambda i: log_bytes(store, run.id, f"v{i}".encode(), "model.txt"))
    assert all(not isinstance(result, Exception) for result in results), results
    assert [entry.path for entry in list_artifacts(store, run.id)] == ["model.txt"]


def test_the_audit_log_verifies_while_others_write(store) -> None:
    run = create_run(store)
    stop = threading.Event()

    def write() -> None:
        count = 0
        while not stop.is_set():
            set_tags(store, run.id, {"tick": count})
            count += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        reports = [verify(store) for _ in range(40)]
    finally:
        stop.set()
        writer.join()
    assert all(report.ok for report in reports), [r.problems for r in reports if not r.ok]


def test_run_id_prefixes_work_for_writes_too(store) -> None:
    run = create_run(store)
    log_params(store, run.id[:8], {"a": 1})
    set_tags(store, run.id[:8], {"b": 2})
    assert get_run(store, run.id).params == {"a": "1"}
    assert get_run(store, run.id).tags == {"b": "2"}

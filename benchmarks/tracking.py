"""Experiment tracking, loopml against MLflow 3.17.2 on its SQLite backend, side by side.

Run it from loopml's venv::

    .venv/bin/python benchmarks/tracking.py            # full run (10,000 runs for search)
    .venv/bin/python benchmarks/tracking.py --quick    # small smoke run
    .venv/bin/python benchmarks/tracking.py --runs 2000

MLflow lives in its own venv, ``benchmarks/.venv-peers`` (created, with ``mlflow==3.17.2``
installed, when it is missing). This file is also the worker: the parent runs every timed
case in a fresh process, loopml's in ``sys.executable`` and MLflow's in the peer venv's
Python (``--worker mlflow --case search``), one after the other and never at the same
time. Each worker gets its own empty temporary directory as its working directory and
store (``LOOPML_HOME=<tmp>`` for loopml, ``sqlite:///<tmp>/mlflow.db`` for MLflow) and
prints its figures as JSON. MLflow's telemetry is switched off in its processes.

Cases (sizes of a full run; ``--quick`` shrinks them):

``import``
    Wall time of ``python -c "import loopml"`` and ``python -c "import mlflow"``, each in
    its own venv; one warm-up, then the median of 7. Nothing is subtracted; ``python -c
    pass`` is shown for reference.
``single``
    ``log_metric(key, value, step=i)`` called one at a time: 5,000 calls for loopml
    (``run.log_metric`` inside ``with loopml.start_run()``), 1,000 for MLflow
    (``mlflow.log_metric`` between ``mlflow.start_run()`` and ``mlflow.end_run()``). The
    clock runs from the first call until the run has ended, so loopml's buffered points
    are counted only once they are committed. Calls per second.
``batch``
    100 batches of 100 metrics, ``run.log_metrics(dict, step=i)`` against
    ``MlflowClient().log_batch(run_id, metrics=[Metric(...)])``, timed the same way.
    Metrics per second.
``search``
    10,000 finished runs with the same params (``model`` in xgb/lgbm/rf, ``lr``,
    ``max_depth``) and metrics (``auc`` in [0.5, 1], ``loss``, ``accuracy``) from one
    seeded generator, written through loopml's service layer and ``MlflowClient``
    (set-up, not timed). Then ``search_runs("metrics.auc > 0.8 and params.model = 'xgb'",
    order_by=["metrics.auc DESC"])`` returning a pandas DataFrame, with
    ``max_results=100`` and with every match; one warm-up, then the median of 7.

Checks that make the run fail (exit status 2) whatever the timings: after ``single`` and
``batch`` each tool's stored history, read back through a new connection, must hold every
point logged; both searches must return the expected runs in the expected order. A
missed target makes a full run exit with status 1. Results are printed as a table and
written to ``benchmarks/results/tracking.json`` (``tracking-quick.json`` for ``--quick``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from _harness import (
    MARKER,
    PEER_PYTHON,
    BenchmarkError,
    base_env,
    ensure_peer_package,
    finish,
    loopml_env,
    loopml_version,
    provenance,
    report_console,
    run_parent,
    send,
    send_result,
    warm_timings,
)

MLFLOW_VERSION = "3.17.2"
SEED = 20261126
MODELS = ("xgb", "lgbm", "rf")
FILTER = "metrics.auc > 0.8 and params.model = 'xgb'"
ORDER_BY = ["metrics.auc DESC"]
EXPERIMENT = "bench"

FULL = {
    "import_reps": 7,
    "single_loopml": 5000,
    "single_mlflow": 1000,
    "batches": 100,
    "batch_size": 100,
    "runs": 10_000,
    "search_reps": 7,
}
QUICK = {
    "import_reps": 3,
    "single_loopml": 1000,
    "single_mlflow": 200,
    "batches": 20,
    "batch_size": 100,
    "runs": 500,
    "search_reps": 3,
}

TARGETS = {
    "import_s": 0.2,
    "single_ratio": 20.0,
    "batch_ratio": 20.0,
    "search_s": 0.050,
    "search_ratio": 10.0,
}


# ---------------------------------------------------------------------------------------
# Shared data and helpers (parent and both kinds of worker)
# ---------------------------------------------------------------------------------------


def search_data(count: int) -> Iterator[tuple[str, dict[str, Any], dict[str, float]]]:
    """``count`` runs as (name, params, metrics); the same for every process and tool."""
    rng = random.Random(SEED)
    for index in range(count):
        auc = 0.5 + 0.5 * rng.random()
        loss = rng.random()
        accuracy = 0.5 + 0.5 * rng.random()
        model = MODELS[min(int(rng.random() * len(MODELS)), len(MODELS) - 1)]
        lr = round(10 ** (-4 + 3 * rng.random()), 6)
        depth = 2 + int(rng.random() * 10)
        yield (
            f"run-{index:05d}",
            {"model": model, "lr": lr, "max_depth": depth},
            {"auc": auc, "loss": loss, "accuracy": accuracy},
        )


def expected_matches(count: int) -> list[str]:
    """Names of the runs the benchmark filter matches, in the benchmark order."""
    hits = [
        (metrics["auc"], name)
        for name, params, metrics in search_data(count)
        if metrics["auc"] > 0.8 and params["model"] == "xgb"
    ]
    return [name for _auc, name in sorted(hits, reverse=True)]


def timed(call: Callable[[], Any], reps: int) -> tuple[list[float], Any]:
    """One warm-up call, then ``reps`` timed calls; the times and the last result."""
    result = call()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
    return times, result


# ---------------------------------------------------------------------------------------
# loopml worker (runs in loopml's venv, LOOPML_HOME set by the parent)
# ---------------------------------------------------------------------------------------


def loopml_single(cfg: dict[str, Any]) -> dict[str, Any]:
    import loopml
    from loopml.config import resolve
    from loopml.store import open_store
    from loopml.tracking import get_metric_history

    count = cfg["n"]
    with loopml.start_run(experiment=EXPERIMENT, run_name="single") as run:
        start = time.perf_counter()
        for step in range(count):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        logged = time.perf_counter()
    ended = time.perf_counter()

    store = open_store(resolve(), create=False)  # a new engine: reads what is on disk
    try:
        stored = len(get_metric_history(store, run.id, "loss"))
    finally:
        store.close()
    return {
        "count": count,
        "seconds": ended - start,
        "calls_seconds": logged - start,
        "end_seconds": ended - logged,
        "stored": stored,
    }


def loopml_batch(cfg: dict[str, Any]) -> dict[str, Any]:
    import loopml
    from loopml.config import resolve
    from loopml.store import open_store
    from loopml.tracking import get_metric_history

    keys = [f"m{index}" for index in range(cfg["batch_size"])]
    with loopml.start_run(experiment=EXPERIMENT, run_name="batch") as run:
        start = time.perf_counter()
        for step in range(cfg["batches"]):
            run.log_metrics({key: step + index / 1000 for index, key in enumerate(keys)}, step=step)
        logged = time.perf_counter()
    ended = time.perf_counter()

    store = open_store(resolve(), create=False)
    try:
        stored = sum(len(get_metric_history(store, run.id, key)) for key in keys)
    finally:
        store.close()
    return {
        "count": cfg["batches"] * len(keys),
        "seconds": ended - start,
        "calls_seconds": logged - start,
        "end_seconds": ended - logged,
        "stored": stored,
    }


def loopml_search(cfg: dict[str, Any]) -> dict[str, Any]:
    import loopml
    from loopml.config import resolve
    from loopml.store import open_store
    from loopml.tracking import FINISHED, create_run, log_metrics, set_run_status

    total = cfg["runs"]
    store = open_store(resolve())
    start = time.perf_counter()
    try:
        for done, (name, params, metrics) in enumerate(search_data(total), start=1):
            run = create_run(store, experiment=EXPERIMENT, name=name, params=params)
            log_metrics(store, run.id, metrics)
            set_run_status(store, run.id, FINISHED)
            if done % 100 == 0 or done == total:
                send({"progress": done, "total": total})
    finally:
        store.close()
    populate_seconds = time.perf_counter() - start

    result: dict[str, Any] = {"runs": total, "populate_seconds": populate_seconds}
    for label, max_results in (("top", 100), ("all", 100_000)):

        def search(max_results: int = max_results) -> Any:
            return loopml.search_runs(FILTER, order_by=ORDER_BY, max_results=max_results)

        times, frame = timed(search, cfg["reps"])
        result[label] = {
            "max_results": max_results,
            "times": times,
            "rows": len(frame),
            "names": frame["run_name"].tolist(),
        }
    return result


# ---------------------------------------------------------------------------------------
# MLflow worker (runs in benchmarks/.venv-peers)
# ---------------------------------------------------------------------------------------


def mlflow_connect(home: str) -> Any:
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{Path(home) / 'mlflow.db'}")
    return mlflow


def mlflow_single(cfg: dict[str, Any]) -> dict[str, Any]:
    mlflow = mlflow_connect(cfg["home"])
    from mlflow import MlflowClient

    count = cfg["n"]
    mlflow.set_experiment(EXPERIMENT)  # creates and migrates the database: set-up
    run_id = mlflow.start_run(run_name="single").info.run_id
    start = time.perf_counter()
    for step in range(count):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    logged = time.perf_counter()
    mlflow.end_run()
    ended = time.perf_counter()

    stored = len(MlflowClient().get_metric_history(run_id, "loss"))
    return {
        "count": count,
        "seconds": ended - start,
        "calls_seconds": logged - start,
        "end_seconds": ended - logged,
        "stored": stored,
    }


def mlflow_batch(cfg: dict[str, Any]) -> dict[str, Any]:
    mlflow = mlflow_connect(cfg["home"])
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    keys = [f"m{index}" for index in range(cfg["batch_size"])]
    client = MlflowClient()
    mlflow.set_experiment(EXPERIMENT)
    run_id = mlflow.start_run(run_name="batch").info.run_id
    start = time.perf_counter()
    for step in range(cfg["batches"]):
        now = int(time.time() * 1000)
        client.log_batch(
            run_id,
            metrics=[Metric(key, step + index / 1000, now, step) for index, key in enumerate(keys)],
        )
    logged = time.perf_counter()
    mlflow.end_run()
    ended = time.perf_counter()

    stored = sum(len(client.get_metric_history(run_id, key)) for key in keys)
    return {
        "count": cfg["batches"] * len(keys),
        "seconds": ended - start,
        "calls_seconds": logged - start,
        "end_seconds": ended - logged,
        "stored": stored,
    }


def mlflow_search(cfg: dict[str, Any]) -> dict[str, Any]:
    mlflow = mlflow_connect(cfg["home"])
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    client = MlflowClient()
    experiment_id = client.create_experiment(EXPERIMENT)
    total = cfg["runs"]
    start = time.perf_counter()
    for done, (name, params, metrics) in enumerate(search_data(total), start=1):
        run_id = client.create_run(experiment_id, run_name=name).info.run_id
        now = int(time.time() * 1000)
        client.log_batch(
            run_id,
            metrics=[Metric(key, value, now, 0) for key, value in metrics.items()],
            params=[Param(key, str(value)) for key, value in params.items()],
        )
        client.set_terminated(run_id)
        if done % 100 == 0 or done == total:
            send({"progress": done, "total": total})
    populate_seconds = time.perf_counter() - start

    result: dict[str, Any] = {"runs": total, "populate_seconds": populate_seconds}
    for label, max_results in (("top", 100), ("all", 100_000)):

        def search(max_results: int = max_results) -> Any:
            return mlflow.search_runs(
                experiment_ids=[experiment_id],
                filter_string=FILTER,
                order_by=ORDER_BY,
                max_results=max_results,
            )

        times, frame = timed(search, cfg["reps"])
        result[label] = {
            "max_results": max_results,
            "times": times,
            "rows": len(frame),
            "names": frame["tags.mlflow.runName"].tolist() if len(frame) else [],
        }
    return result


WORKERS: dict[tuple[str, str], Callable[[dict[str, Any]], dict[str, Any]]] = {
    ("loopml", "single"): loopml_single,
    ("loopml", "batch"): loopml_batch,
    ("loopml", "search"): loopml_search,
    ("mlflow", "single"): mlflow_single,
    ("mlflow", "batch"): mlflow_batch,
    ("mlflow", "search"): mlflow_search,
}


def worker_main(tool: str, case: str, config: str) -> None:
    send_result(WORKERS[(tool, case)](json.loads(config)))


# ---------------------------------------------------------------------------------------
# Parent: peer venv, running workers, the table
# ---------------------------------------------------------------------------------------


def ensure_peer_mlflow() -> None:
    """mlflow==3.17.2 in ``benchmarks/.venv-peers``, installed there unless it is already."""
    ensure_peer_package(
        "mlflow",
        f"mlflow=={MLFLOW_VERSION}",
        accepts=lambda version: version == MLFLOW_VERSION,
        wanted=MLFLOW_VERSION,
    )


def tool_env(tool: str, home: Path) -> dict[str, str]:
    if tool == "loopml":
        return loopml_env(home, "MLFLOW_")
    return {**base_env("MLFLOW_"), "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


def tool_name(tool: str) -> str:
    return "MLflow" if tool == "mlflow" else tool


def interpreter(tool: str) -> str:
    return sys.executable if tool == "loopml" else str(PEER_PYTHON)


def run_worker(
    tool: str,
    case: str,
    cfg: dict[str, Any],
    workdir: Path,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Run one case in a fresh process of ``tool``'s venv and return its JSON result."""
    home = workdir / f"{tool}-{case}"
    home.mkdir()
    cfg = {**cfg, "home": str(home)}
    log_path = home / "worker.log"
    command = [
        interpreter(tool),
        str(Path(__file__).resolve()),
        "--worker",
        tool,
        "--case",
        case,
        "--config",
        json.dumps(cfg),
    ]
    result: dict[str, Any] | None = None
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command,
            cwd=home,
            env=tool_env(tool, home),
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        assert process.stdout is not None
        for line in process.stdout:
            if not line.startswith(MARKER):
                log.write(line)
                continue
            message = json.loads(line[len(MARKER) :])
            if "progress" in message and on_progress is not None:
                on_progress(message["progress"], message["total"])
            if "result" in message:
                result = message["result"]
        status = process.wait()
    if status != 0 or result is None:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-25:])
        raise BenchmarkError(f"{tool} worker for '{case}' exited with status {status}:\n{tail}")
    return result


def time_command(python: str, code: str, reps: int, env: dict[str, str], cwd: Path) -> list[float]:
    """Wall times of ``python -c code``: one warm-up run, then ``reps`` timed ones."""
    command = [python, "-c", code]
    return warm_timings(command, cwd=cwd, env=env, reps=reps, capture_output=False)


def bench_import(sizes: dict[str, Any], workdir: Path) -> dict[str, Any]:
    reps = sizes["import_reps"]
    out: dict[str, Any] = {}
    for tool in ("loopml", "mlflow"):
        env = tool_env(tool, workdir)
        python = interpreter(tool)
        out[tool] = {
            "times": time_command(python, f"import {tool}", reps, env, workdir),
            "bare_times": time_command(python, "pass", reps, env, workdir),
        }
    return out


# ---------------------------------------------------------------------------------------
# Judging and printing
# ---------------------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values)


def judge(raw: dict[str, Any], sizes: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows of the results table and the list of failed checks (lost data, wrong rows)."""
    rows: list[dict[str, Any]] = []
    problems: list[str] = []

    imp = raw["import"]
    loop_s, flow_s = median(imp["loopml"]["times"]), median(imp["mlflow"]["times"])
    rows.append(
        {
            "case": "python -c pass (reference)",
            "size": f"median of {len(imp['loopml']['times'])}",
            "loopml": median(imp["loopml"]["bare_times"]),
            "mlflow": median(imp["mlflow"]["bare_times"]),
            "unit": "s",
            "ratio": None,
            "target": "",
            "passed": None,
            "check": "",
        }
    )
    rows.append(
        {
            "case": "python -c 'import X'",
            "size": f"median of {len(imp['loopml']['times'])}",
            "loopml": loop_s,
            "mlflow": flow_s,
            "unit": "s",
            "ratio": flow_s / loop_s,
            "target": f"≤ {TARGETS['import_s']} s",
            "passed": loop_s <= TARGETS["import_s"],
            "check": "",
        }
    )

    for case, label, unit in (
        ("single", "single log_metric", "calls/s"),
        ("batch", "batch logging", "metrics/s"),
    ):
        figures = {}
        for tool in ("loopml", "mlflow"):
            data = raw[case][tool]
            figures[tool] = data["count"] / data["seconds"]
            if data["stored"] != data["count"]:
                problems.append(
                    f"{case}: {tool} stored {data['stored']:,} of {data['count']:,} points"
                )
        ratio = figures["loopml"] / figures["mlflow"]
        target = TARGETS[f"{case}_ratio"]
        loop, flow = raw[case]["loopml"], raw[case]["mlflow"]
        if case == "single":
            size = f"{loop['count']:,} / {flow['count']:,} calls"
        else:
            size = f"{sizes['batches']} batches × {sizes['batch_size']}"
        rows.append(
            {
                "case": label,
                "size": size,
                "loopml": figures["loopml"],
                "mlflow": figures["mlflow"],
                "unit": unit,
                "ratio": ratio,
                "target": f"≥ {target:g}x",
                "passed": ratio >= target,
                "check": "all stored"
                if loop["stored"] == loop["count"] and flow["stored"] == flow["count"]
                else f"LOST: {loop['stored']:,}/{loop['count']:,} vs "
                f"{flow['stored']:,}/{flow['count']:,}",
            }
        )

    search = raw["search"]
    expected = expected_matches(sizes["runs"])
    for label in ("top", "all"):
        want = expected[:100] if label == "top" else expected
        loop, flow = search["loopml"][label], search["mlflow"][label]
        for tool, data in (("loopml", loop), ("mlflow", flow)):
            if data["names"] != want:
                how = " (other runs or another order)" if data["rows"] == len(want) else ""
                problems.append(
                    f"search ({label}): {tool} returned {data['rows']:,} rows, "
                    f"expected {len(want):,}{how}"
                )
        loop_s, flow_s = median(loop["times"]), median(flow["times"])
        ratio = flow_s / loop_s
        shown = "top 100" if label == "top" else "all matches"
        rows.append(
            {
                "case": f"search_runs, {shown}",
                "size": f"{sizes['runs']:,} runs, {len(want):,} match",
                "loopml": loop_s,
                "mlflow": flow_s,
                "unit": "ms",
                "ratio": ratio,
                "target": f"≤ {TARGETS['search_s'] * 1000:g} ms, ≥ {TARGETS['search_ratio']:g}x",
                "passed": loop_s <= TARGETS["search_s"] and ratio >= TARGETS["search_ratio"],
                "check": f"same {loop['rows']:,} rows, same order"
                if loop["names"] == want and flow["names"] == want
                else f"MISMATCH: {loop['rows']:,} vs {flow['rows']:,} rows, {len(want):,} expected",
            }
        )
    return rows, problems


def fmt_value(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:.3f} s"
    if unit == "ms":
        return f"{value * 1000:,.1f} ms"
    return f"{value:,.0f} {unit}"


def print_table(rows: list[dict[str, Any]], console: Any, title: str) -> None:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("case")
    table.add_column("size")
    table.add_column("loopml", justify="right")
    table.add_column(f"MLflow {MLFLOW_VERSION}", justify="right")
    table.add_column("ratio", justify="right")
    table.add_column("target")
    table.add_column("result")
    table.add_column("check")
    for row in rows:
        ratio = "" if row["ratio"] is None else f"{row['ratio']:,.1f}x"
        if row["passed"] is None:
            verdict = ""
        else:
            verdict = "[green]PASS[/green]" if row["passed"] else "[red]FAIL[/red]"
        table.add_row(
            row["case"],
            row["size"],
            fmt_value(row["loopml"], row["unit"]),
            fmt_value(row["mlflow"], row["unit"]),
            ratio,
            row["target"],
            verdict,
            row["check"],
        )
    console.print(table)


def print_notes(raw: dict[str, Any], console: Any) -> None:
    console.print("  ratio: how many times faster loopml is than MLflow (throughput or time)")
    for case in ("single", "batch"):
        for tool in ("loopml", "mlflow"):
            data = raw[case][tool]
            console.print(
                f"  {case:<6} {tool:<6}: {data['count']:,} points in {data['seconds']:.3f} s "
                f"= calls {data['calls_seconds']:.3f} s + end of run {data['end_seconds']:.3f} s"
            )
    for tool in ("loopml", "mlflow"):
        data = raw["search"][tool]
        top, every = data["top"]["times"], data["all"]["times"]
        console.print(
            f"  search {tool:<6}: {data['runs']:,} runs written in "
            f"{data['populate_seconds']:.1f} s (set-up); top-100 min/max "
            f"{min(top) * 1000:.1f}/{max(top) * 1000:.1f} ms, all matches min/max "
            f"{min(every) * 1000:.1f}/{max(every) * 1000:.1f} ms"
        )


def parent_main(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = report_console()
    sizes = dict(QUICK if args.quick else FULL)
    if args.runs is not None:
        sizes["runs"] = args.runs
    ensure_peer_mlflow()
    load_at_start = os.getloadavg()

    raw: dict[str, Any] = {}
    with (
        tempfile.TemporaryDirectory(prefix="loopml-bench-") as tmp,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as progress,
    ):
        workdir = Path(tmp)
        task = progress.add_task("import time (loopml, MLflow)", total=1)
        raw["import"] = bench_import(sizes, workdir)
        progress.update(task, completed=1)

        batch_cfg = {"batches": sizes["batches"], "batch_size": sizes["batch_size"]}
        for case in ("single", "batch"):
            raw[case] = {}
            for tool in ("loopml", "mlflow"):
                cfg = {"n": sizes[f"single_{tool}"]} if case == "single" else batch_cfg
                task = progress.add_task(f"{case} logging ({tool_name(tool)})", total=1)
                raw[case][tool] = run_worker(tool, case, cfg, workdir)
                progress.update(task, completed=1)

        raw["search"] = {}
        for tool in ("loopml", "mlflow"):
            task = progress.add_task(
                f"search: writing {sizes['runs']:,} runs, then searching ({tool_name(tool)})",
                total=sizes["runs"],
            )

            def advance(done: int, total: int, task: Any = task) -> None:
                progress.update(task, completed=done, total=total)

            raw["search"][tool] = run_worker(
                tool,
                "search",
                {"runs": sizes["runs"], "reps": sizes["search_reps"]},
                workdir,
                on_progress=advance,
            )

    rows, problems = judge(raw, sizes)
    mode = "quick smoke run" if args.quick else "full run"
    title = f"loopml {loopml_version()} vs MLflow {MLFLOW_VERSION} on SQLite ({mode})"
    console.print()
    print_table(rows, console, title)
    print_notes(raw, console)
    load_at_end = os.getloadavg()
    console.print(
        f"  machine: {os.cpu_count()} CPUs, 1-minute load average {load_at_start[0]:.2f} at "
        f"the start, {load_at_end[0]:.2f} at the end (other work adds noise)"
    )

    missed = [row["case"] for row in rows if row["passed"] is False]
    report = {
        "mode": "quick" if args.quick else "full",
        "sizes": sizes,
        "targets": TARGETS,
        **provenance(),
        "load_average": {"start": load_at_start, "end": load_at_end},
        "mlflow_version": MLFLOW_VERSION,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "table": rows,
        "missed_targets": missed,
        "problems": problems,
        "raw": strip_names(raw),
    }
    return finish(report, "tracking", console)


def strip_names(raw: dict[str, Any]) -> dict[str, Any]:
    """The raw figures without the long lists of run names (checked already)."""
    search = {
        tool: {
            **data,
            **{
                label: {key: value for key, value in data[label].items() if key != "names"}
                for label in ("top", "all")
            },
        }
        for tool, data in raw["search"].items()
    }
    return {**raw, "search": search}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--runs", type=int, help="runs to search over (default 10,000)")
    parser.add_argument("--worker", choices=["loopml", "mlflow"], help=argparse.SUPPRESS)
    parser.add_argument("--case", choices=["single", "batch", "search"], help=argparse.SUPPRESS)
    parser.add_argument("--config", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker_main(args.worker, args.case, args.config)
        return 0
    if args.runs is not None and args.runs < 100:
        parser.error("--runs must be at least 100")
    return run_parent(parent_main, args)


if __name__ == "__main__":
    sys.exit(main())

"""The team server, ``loopml server`` against ``mlflow server`` 3.17.2, side by side on
PostgreSQL.

Run it from loopml's venv::

    .venv/bin/python benchmarks/server.py            # full run: 10,000 runs × 20 metrics
    .venv/bin/python benchmarks/server.py --quick    # smoke run: 500 runs, short loops
    .venv/bin/python benchmarks/server.py --runs 2000 --metrics 10 --steps 5

MLflow lives in the shared peer venv, ``benchmarks/.venv-peers`` (created with
``mlflow==3.17.2`` when missing, as ``tracking.py`` does; ``psycopg2-binary`` is installed
beside it for PostgreSQL). Both servers run as processes of their own, each on a fresh
database: ``bench_loopml_<rand>`` and ``bench_mlflow_<rand>`` on the PostgreSQL that
``$LOOPML_BENCH_POSTGRES_URL`` reaches (default
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``), dropped at the end; when it
cannot be reached (or with ``--sqlite``), a SQLite file each, with a printed note.

- ``loopml server --db URL --artifacts DIR --port P`` (the web UI on, as the pages are
  measured), ready on ``GET /health``;
- ``mlflow server --backend-store-uri URL --default-artifact-root DIR --host 127.0.0.1
  --port Q --workers 1`` with ``MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false``, ready on
  ``GET /health``: its best case here. With its default 4 workers it answered each
  request on a kept-alive connection in about 45 ms (``/health`` included), and its job
  runner (seven huey consumers for its GenAI features, unused by tracking) keeps most of
  a core busy on this 2-core machine.

Cases (sizes of a full run; see ``FULL`` and ``QUICK``):

``logging`` (target: loopml at least 10x faster than MLflow's per-value client)
    A training loop logging 10 keys × 1,000 steps, one ``log_metric`` call per value, in a
    fresh process of each tool's venv, timed from starting the run until ending it has
    returned (``_server_workers.py``): loopml's SDK with ``LOOPML_SERVER`` set, MLflow's
    fluent ``mlflow.log_metric`` (one request per value), MLflow's
    ``log_metric(..., synchronous=False)`` and MLflow's best case, ``MlflowClient.log_batch``
    in chunks of 1,000. MLflow's per-value loops are timed over a sample (10 keys × 100
    steps) and scaled to 10,000 values (the calls' time × 10, and for the async loop the
    end of the run too, as it waits for the queued values); ``--mlflow-values 10000``
    times them in full. Every value is read back through
    each server's API afterwards.
``populate`` (set-up, not a result)
    ``--runs`` finished runs with ``--metrics`` metrics of ``--steps`` points each and five
    params, the same values in both stores, written straight into each database through
    the tool's own table definitions: loopml's ``runs`` and ``params`` tables and its
    metric flush (``write_metric_rows``), MLflow's SQLAlchemy models (``SqlRun``,
    ``SqlParam``, ``SqlTag``, ``SqlMetric``, ``SqlLatestMetric``); then ``VACUUM
    ANALYZE`` on both.
``runs page`` (target: at most 1 s)
    The top 100 runs of the experiment by ``metrics.m0`` descending, unfiltered and with
    ``metrics.m0 > 0.5 and params.p0 = 'x'``: loopml's ``GET /runs`` (the UI page) and
    ``GET /runs.json`` (its JSON twin) against MLflow's ``POST
    /ajax-api/2.0/mlflow/runs/search`` (what its UI sends) and ``POST
    /api/2.0/mlflow/runs/search``, ``max_results=100``.
``compare`` (target: at most 1 s)
    100 runs side by side: loopml's ``GET /compare?runs=<100 ids>`` (8 metric charts by
    default) and ``/compare.json``, against the requests MLflow's UI makes for the same:
    ``runs/get`` for each run (its compare page) and, for each charted metric,
    ``metrics/get-history-bulk-interval`` for the 100 runs (its charts, 320 points per
    run), sent over 6 keep-alive connections at once as a browser does. Also every
    history of all 20 metrics: loopml's ``/compare.json`` pages one after another (a page
    charts at most 900 run × metric histories: 9 metrics of 100 runs), against MLflow's
    bulk-interval request per metric, and its metric page's way, ``metrics/get-history``
    per run per metric (2,000 requests).

Server time is the median wall time of 10 requests from a client in this process over
persistent connections on loopback, after one warm-up (the client's own part is a few
hundred microseconds a request); MLflow's request sets: the median of 3, and one for the
2,100 requests of its metric page.

Checks that make the run fail (exit status 2): every logged value is stored; both
servers return the expected 100 runs in the expected order and the expected totals;
every compared run and history point comes back. A missed target makes a full run exit
with status 1. Results are printed as a table and written to
``benchmarks/results/server.json`` (``server-quick.json`` for ``--quick``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _harness import (
    LOOPML,
    MARKER,
    PEER_PYTHON,
    BenchmarkError,
    ensure_peer_package,
    finish,
    loopml_version,
    peer_report,
    progress_display,
    report_console,
    run_parent,
    wait_for_quiet,
)
from _server_backends import Databases, ServerProcess, free_port
from _server_http import BROWSER_CONNECTIONS, FanOut, Http, Request, timed
from _server_workers import BENCH_EXPERIMENT, expected_order

from tracking import MLFLOW_VERSION, ensure_peer_mlflow, tool_env

WORKERS = Path(__file__).resolve().parent / "_server_workers.py"
FILTER = "metrics.m0 > 0.5 and params.p0 = 'x'"
ORDER = "metrics.m0 desc"
PAGE = 100
MLFLOW_CHART_POINTS = 320  # what MLflow's UI asks get-history-bulk-interval for per run
MLFLOW_HISTORY_PAGE = 25_000  # what its metric page asks get-history for
LOOPML_COMPARE_LINES = 900  # run × metric histories one /compare page charts at most

FULL = {
    "runs": 10_000,
    "metrics": 20,
    "steps": 10,
    "log_keys": 10,
    "log_steps": 1000,
    "mlflow_values": 1000,
    "batch_chunk": 1000,
    "compare_runs": 100,
    "charts": 8,
    "reps": 10,
    "set_reps": 3,
    "history_reps": 1,
    "max_wait": 5.0,
}
QUICK = {
    **FULL,
    "runs": 500,
    "steps": 5,
    "log_steps": 200,
    "mlflow_values": 200,
    "reps": 3,
    "set_reps": 2,
    "max_wait": 2.0,
}
TARGETS = {"logging_ratio": 10.0, "page_s": 1.0}


# ---------------------------------------------------------------------------------------
# Workers and servers
# ---------------------------------------------------------------------------------------


def run_worker(
    python: str,
    case: str,
    cfg: dict[str, Any],
    env: dict[str, str],
    work: Path,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Run ``case`` of ``_server_workers.py`` in a fresh process; the result it sends."""
    log_path = work / f"{case}-{cfg.get('mode', 'run')}.log"
    command = [python, str(WORKERS), "--worker", case, "--config", json.dumps(cfg)]
    result = None
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, cwd=work, env=env, stdout=subprocess.PIPE, stderr=log, text=True
        )
        assert process.stdout is not None
        for line in process.stdout:
            if not line.startswith(MARKER):
                log.write(line)
                continue
            message = json.loads(line[len(MARKER) :])
            if "progress" in message and on_progress is not None:
                on_progress(message["progress"], message["total"])
            result = message.get("result", result)
        status = process.wait()
    if status != 0 or result is None:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-25:])
        raise BenchmarkError(f"worker '{case}' exited with status {status}:\n{tail}")
    return result


def loopml_server(dbs: Databases, work: Path, env: dict[str, str]) -> ServerProcess:
    port = free_port()
    command = [str(LOOPML), "server", "--db", dbs.loopml_url, "--port", str(port)]
    command += ["--artifacts", str(work / "loopml-artifacts")]
    return ServerProcess("loopml", command, env, port, "/health", work / "loopml.log", work)


def mlflow_server(dbs: Databases, work: Path, env: dict[str, str]) -> ServerProcess:
    port = free_port()
    command = [str(PEER_PYTHON.parent / "mlflow"), "server", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--backend-store-uri", dbs.mlflow_url]
    command += ["--default-artifact-root", str(work / "mlflow-artifacts"), "--workers", "1"]
    # Its job runner (seven huey consumers for its GenAI features) polls all the time and
    # takes most of a core here; tracking does not use it.
    env = {**env, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    return ServerProcess("mlflow", command, env, port, "/health", work / "mlflow.log", work)


def ensure_peers(dbs: Databases) -> None:
    ensure_peer_mlflow()
    if dbs.kind == "postgresql":
        ensure_peer_package(
            "psycopg2-binary", "psycopg2-binary", accepts=lambda _version: True, wanted="any"
        )


# ---------------------------------------------------------------------------------------
# The measurements
# ---------------------------------------------------------------------------------------


class Bench:
    """Runs every case against the two servers, one at a time; keeps the raw figures and
    every failed check."""

    def __init__(self, sizes: dict[str, Any], work: Path, progress: Any, console: Any) -> None:
        self.sizes = sizes
        self.work = work
        self.progress = progress
        self.console = console
        self.raw: dict[str, Any] = {"quiet": []}
        self.problems: list[str] = []
        self.envs = {tool: tool_env(tool, work / tool) for tool in ("loopml", "mlflow")}
        for tool in self.envs:
            (work / tool).mkdir()

    def quiet(self, label: str) -> Any:
        task = self.progress.add_task(label, total=1)
        state = wait_for_quiet(
            self.sizes["max_wait"],
            progress=self.progress,
            task=task,
            label=label,
            console=self.console,
        )
        self.raw["quiet"].append({"label": label, **state})
        return task

    def check(self, ok: bool, problem: str) -> None:
        if not ok:
            self.problems.append(problem)

    def check_loopml_compare(
        self, bodies: list[bytes], runs: int, keys: list[str], steps: int, label: str
    ) -> None:
        pages = [json.loads(body) for body in bodies]
        charted = [key for page in pages for key in page["charted"]]
        points = sum(
            len(history["steps"])
            for page in pages
            for per_run in page["histories"].values()
            for history in per_run.values()
        )
        self.check(
            all(len(page["runs"]) == runs for page in pages)
            and charted == keys
            and points == runs * len(keys) * steps,
            f"compare ({label}): loopml returned {[len(page['runs']) for page in pages]} runs "
            f"and {points:,} history points of {charted} (expected {runs} runs and "
            f"{runs * len(keys) * steps:,} points)",
        )

    # --- logging -------------------------------------------------------------------------

    def logging(self, loop: ServerProcess, flow: ServerProcess) -> None:
        s = self.sizes
        keys, steps = s["log_keys"], s["log_steps"]
        total = keys * steps
        sample_steps = max(1, min(steps, s["mlflow_values"] // keys))
        out: dict[str, Any] = {"values": total}

        task = self.quiet(f"logging {total:,} values through loopml's server")
        env = {**self.envs["loopml"], "LOOPML_SERVER": loop.base}
        result = run_worker(
            sys.executable, "loopml-log", {"keys": keys, "steps": steps}, env, self.work
        )
        result["stored"] = loopml_stored(loop, result["run_id"], keys)
        out["loopml"] = {**result, "count": total, "estimated_seconds": result["seconds"]}
        self.progress.update(task, completed=1)

        task = self.quiet("logging through MLflow's server (fluent, async, log_batch)")
        for mode in ("fluent", "async", "batch"):
            mode_steps = steps if mode == "batch" else sample_steps
            cfg = {"keys": keys, "steps": mode_steps, "mode": mode, "uri": flow.base}
            cfg["chunk"] = s["batch_chunk"]
            result = run_worker(str(PEER_PYTHON), "mlflow-log", cfg, self.envs["mlflow"], self.work)
            count = keys * mode_steps
            result["stored"] = mlflow_stored(flow, result["run_id"], keys)
            scale = total / count
            # The calls grow with the values; so does the end of an async run, which waits
            # for the queued values to be sent. Ending a synchronous run does not.
            per_value = result["calls_seconds"]
            if mode == "async":
                per_value += result["end_seconds"]
            result["estimated_seconds"] = result["seconds"] + per_value * (scale - 1)
            out[f"mlflow_{mode}"] = {**result, "count": count, "scale": scale}
        self.progress.update(task, completed=1)

        for key in ("loopml", "mlflow_fluent", "mlflow_async", "mlflow_batch"):
            data = out[key]
            self.check(
                data["stored"] == data["count"],
                f"logging ({key}): the server holds {data['stored']:,} of the "
                f"{data['count']:,} values logged",
            )
        self.raw["logging"] = out

    # --- set-up ----------------------------------------------------------------------------

    def populate(self, dbs: Databases) -> dict[str, Any]:
        """Both stores at once (set-up: two databases, one process each)."""
        s = self.sizes
        jobs = []
        for tool, python, url in (
            ("loopml", sys.executable, dbs.loopml_url),
            ("mlflow", str(PEER_PYTHON), dbs.mlflow_url),
        ):
            name = "MLflow" if tool == "mlflow" else tool
            task = self.progress.add_task(
                f"set-up: {s['runs']:,} runs × {s['metrics']} metrics × {s['steps']} steps "
                f"into {name}'s database",
                total=s["runs"],
            )

            def advance(done: int, total: int, task: Any = task) -> None:
                self.progress.update(task, completed=done, total=total)

            cfg = {
                "db_url": url,
                "artifacts": str(self.work / f"{tool}-artifacts"),
                "runs": s["runs"],
                "metrics": s["metrics"],
                "steps": s["steps"],
                "batch_runs": 500,
            }
            jobs.append((tool, (python, f"{tool}-populate", cfg, self.envs[tool], self.work)))
            jobs[-1] += (advance,)
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            futures = {
                tool: pool.submit(run_worker, *args, advance) for tool, args, advance in jobs
            }
            out: dict[str, Any] = {tool: future.result() for tool, future in futures.items()}
        out["vacuum_seconds"] = dbs.vacuum_analyze()
        self.raw["populate"] = {
            tool: {k: v for k, v in data.items() if k != "ids"} if isinstance(data, dict) else data
            for tool, data in out.items()
        }
        return out

    # --- pages -----------------------------------------------------------------------------

    def runs_pages(self, loop: ServerProcess, flow: ServerProcess, experiment_id: str) -> None:
        s = self.sizes
        reps = s["reps"]
        out: dict[str, Any] = {}
        for label, filtered in (("all", False), ("filtered", True)):
            want = expected_order(s["runs"], s["metrics"], filtered=filtered)
            query = {"experiment": BENCH_EXPERIMENT, "order_by": ORDER, "per_page": PAGE}
            if filtered:
                query["filter"] = FILTER
            qs = urllib.parse.urlencode(query)

            task = self.quiet(f"runs page ({label}): loopml")
            http = Http(loop.port)
            html_times, html = timed(lambda http=http, qs=qs: http.get(f"/runs?{qs}"), reps)
            json_times, body = timed(lambda http=http, qs=qs: http.get(f"/runs.json?{qs}"), reps)
            http.close()
            page = json.loads(body)
            names = [run["name"] for run in page["runs"]]
            self.check(
                names == want[:PAGE] and page["total"] == len(want),
                f"runs page ({label}): loopml returned {len(names)} runs of {page['total']:,} "
                f"(expected the first {PAGE} of {len(want):,} in m0 order)",
            )
            self.check(
                want[0].encode() in html,
                f"runs page ({label}): loopml's HTML page does not show {want[0]}",
            )
            self.progress.update(task, completed=1)

            task = self.quiet(f"runs page ({label}): MLflow")
            payload: dict[str, Any] = {
                "experiment_ids": [experiment_id],
                "max_results": PAGE,
                "order_by": ["metrics.m0 DESC"],
                "run_view_type": "ACTIVE_ONLY",
            }
            if filtered:
                payload["filter"] = FILTER
            http = Http(flow.port)
            found: dict[str, Any] = {}
            for route in ("ajax-api", "api"):
                path = f"/{route}/2.0/mlflow/runs/search"
                times, body = timed(
                    lambda http=http, path=path, payload=payload: http.post_json(path, payload),
                    reps,
                )
                result = json.loads(body)
                names = [run["info"]["run_name"] for run in result.get("runs", [])]
                self.check(
                    names == want[:PAGE],
                    f"runs page ({label}): MLflow's {path} returned {len(names)} runs "
                    f"(expected the first {PAGE} of {len(want):,} in m0 order)",
                )
                found[route] = times
            http.close()
            self.progress.update(task, completed=1)
            out[label] = {
                "matches": len(want),
                "loopml_html": html_times,
                "loopml_json": json_times,
                "loopml_html_bytes": len(html),
                "loopml_json_bytes": len(body),
                "mlflow_ui": found["ajax-api"],
                "mlflow_api": found["api"],
            }
        self.raw["runs_page"] = out

    def compare(
        self, loop: ServerProcess, flow: ServerProcess, loopml_ids: list[str], mlflow_ids: list[str]
    ) -> None:
        s = self.sizes
        reps, count, steps = s["reps"], s["compare_runs"], s["steps"]
        keys = [f"m{index}" for index in range(s["metrics"])]
        # Every hundredth run of the set-up, so that the 100 runs are spread over the tables.
        stride = max(1, len(loopml_ids) // count)
        picked = list(range(0, len(loopml_ids), stride))[:count]
        loop_ids = [loopml_ids[index] for index in picked]
        flow_ids = [mlflow_ids[index] for index in picked]
        out: dict[str, Any] = {"runs": len(picked), "charts": s["charts"]}

        task = self.quiet(f"compare {len(picked)} runs: loopml")
        http = Http(loop.port)
        runs_arg = ",".join(loop_ids)
        charted = sorted(keys)[: s["charts"]]  # the page's default: the first keys by name
        query = f"runs={runs_arg}"
        html_times, html = timed(lambda: http.get(f"/compare?{query}"), reps)
        json_times, body = timed(lambda: http.get(f"/compare.json?{query}"), reps)
        self.check_loopml_compare([body], len(picked), charted, steps, "default")
        out["loopml_default_html"] = html_times
        out["loopml_default_json"] = json_times
        out["loopml_default_html_bytes"] = len(html)
        # Every metric's history: the page charts at most LOOPML_COMPARE_LINES run × metric
        # histories, so all of them take several pages of as many metrics as fit.
        per_page = max(1, LOOPML_COMPARE_LINES // len(picked))
        pages = [
            f"/compare.json?{query}&metrics={','.join(keys[start : start + per_page])}"
            for start in range(0, len(keys), per_page)
        ]
        all_times, bodies = timed(lambda: [http.get(path) for path in pages], reps)
        self.check_loopml_compare(bodies, len(picked), keys, steps, "every metric")
        out["loopml_all_json"] = all_times
        out["loopml_all_requests"] = len(pages)
        http.close()
        self.progress.update(task, completed=1)

        task = self.quiet(f"compare {len(picked)} runs: MLflow ({BROWSER_CONNECTIONS} connections)")
        fan = FanOut(flow.port)
        gets: list[Request] = [
            ("GET", f"/ajax-api/2.0/mlflow/runs/get?run_id={run_id}", None) for run_id in flow_ids
        ]

        def charts(metric_keys: list[str]) -> list[Request]:
            requests: list[Request] = []
            for key in metric_keys:
                for start in range(0, len(flow_ids), 100):  # the UI's chunks of 100 runs
                    query = urllib.parse.urlencode(
                        {
                            "run_ids": flow_ids[start : start + 100],
                            "metric_key": key,
                            "max_results": MLFLOW_CHART_POINTS,
                        },
                        doseq=True,
                    )
                    path = f"/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?{query}"
                    requests.append(("GET", path, None))
            return requests

        for label, metric_keys in (("default", charted), ("all", keys)):
            requests = gets + charts(metric_keys)
            times, bodies = timed(lambda requests=requests: fan.run(requests), s["set_reps"])
            runs_back = sum(1 for body in bodies[: len(gets)] if b'"run_uuid"' in body)
            points = sum(len(json.loads(body).get("metrics", [])) for body in bodies[len(gets) :])
            self.check(
                runs_back == len(picked) and points == len(picked) * len(metric_keys) * steps,
                f"compare ({label}): MLflow returned {runs_back} runs and {points:,} history "
                f"points (expected {len(picked)} and {len(picked) * len(metric_keys) * steps:,})",
            )
            out[f"mlflow_{label}"] = times
            out[f"mlflow_{label}_requests"] = len(requests)

        # Its metric page: every run's full history of every metric, one request each.
        histories: list[Request] = [
            (
                "GET",
                "/ajax-api/2.0/mlflow/metrics/get-history?"
                + urllib.parse.urlencode(
                    {"run_id": run_id, "metric_key": key, "max_results": MLFLOW_HISTORY_PAGE}
                ),
                None,
            )
            for run_id in flow_ids
            for key in keys
        ]
        times, bodies = timed(
            lambda: fan.run(gets + histories),
            s["history_reps"],
            warm_up=lambda: fan.run(histories[:100]),  # the rest are warm from the sets above
        )
        points = sum(len(json.loads(body).get("metrics", [])) for body in bodies[len(gets) :])
        self.check(
            points == len(picked) * len(keys) * steps,
            f"compare (per-run histories): MLflow returned {points:,} history points "
            f"(expected {len(picked) * len(keys) * steps:,})",
        )
        out["mlflow_histories"] = times
        out["mlflow_histories_requests"] = len(gets) + len(histories)
        # The same sets one request at a time, for reference.
        sequential = Http(flow.port)
        requests = gets + charts(charted)
        times, _ = timed(
            lambda: [sequential.send(*request) for request in requests], 1, warm_up=lambda: None
        )
        sequential.close()
        out["mlflow_default_sequential"] = times
        fan.close()
        self.progress.update(task, completed=1)
        self.raw["compare"] = out


def loopml_stored(server: ServerProcess, run_id: str, keys: int) -> int:
    """How many values of the run loopml's server holds, through its API."""
    http = Http(server.port)
    try:
        return sum(
            len(
                json.loads(
                    http.post_json(
                        "/api/v1/ops/runs.metric_history", {"run_id": run_id, "key": f"loss_{i}"}
                    )
                )
            )
            for i in range(keys)
        )
    finally:
        http.close()


def mlflow_stored(server: ServerProcess, run_id: str, keys: int) -> int:
    """How many values of the run MLflow's server holds, through its API."""
    http = Http(server.port)
    try:
        total = 0
        for index in range(keys):
            query = urllib.parse.urlencode(
                {"run_id": run_id, "metric_key": f"loss_{index}", "max_results": 25_000}
            )
            body = json.loads(http.get(f"/api/2.0/mlflow/metrics/get-history?{query}"))
            total += len(body.get("metrics", []))
        return total
    finally:
        http.close()


# ---------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values)


def row(
    case: str,
    loop: float,
    flow: float,
    *,
    target: str = "",
    passed: bool | None = None,
    detail: str = "",
) -> dict[str, Any]:
    return {
        "case": case,
        "loopml": loop,
        "mlflow": flow,
        "ratio": flow / loop if loop > 0 else None,
        "target": target,
        "passed": passed,
        "detail": detail,
    }


def paired(
    case: str, loop: list[float], flow: list[float], *, target: str = "", detail: str = ""
) -> dict[str, Any]:
    """A row of medians, the minima in its detail; ``target`` is a bound on loopml's."""
    passed = median(loop) <= TARGETS["page_s"] if target else None
    minima = f"min {fmt_seconds(min(loop))} / {fmt_seconds(min(flow))}"
    return {
        **row(case, median(loop), median(flow), target=target, passed=passed),
        "detail": f"{detail}; {minima}" if detail else minima,
        "loopml_min": min(loop),
        "mlflow_min": min(flow),
    }


def judge(raw: dict[str, Any], sizes: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    log = raw["logging"]
    loop_s = log["loopml"]["seconds"]
    values = log["values"]
    for key, label in (
        ("mlflow_fluent", "mlflow.log_metric per value"),
        ("mlflow_async", "mlflow.log_metric(synchronous=False)"),
        ("mlflow_batch", f"MlflowClient.log_batch, chunks of {sizes['batch_chunk']:,}"),
    ):
        data = log[key]
        flow_s = data["estimated_seconds"]
        how = (
            f"{data['count']:,} values timed, {data['seconds']:.2f} s; scaled ×{data['scale']:g}"
            if data["scale"] != 1
            else f"{data['count']:,} values timed"
        )
        fluent = key == "mlflow_fluent"
        rows.append(
            row(
                f"training loop, {values:,} × log_metric: loopml vs {label}",
                loop_s,
                flow_s,
                target=f"≥ {TARGETS['logging_ratio']:g}x" if fluent else "",
                passed=(flow_s / loop_s >= TARGETS["logging_ratio"]) if fluent else None,
                detail=how,
            )
        )
    page_target = f"≤ {TARGETS['page_s']:g} s"
    for label, shown in (("all", "top 100 by metrics.m0"), ("filtered", f"{FILTER}, top 100")):
        data = raw["runs_page"][label]
        size = f"{sizes['runs']:,} runs, {data['matches']:,} match"
        rows.append(
            paired(
                f"runs page, {shown}: /runs vs UI's runs/search",
                data["loopml_html"],
                data["mlflow_ui"],
                target=page_target,
                detail=size,
            )
        )
        rows.append(
            paired(
                f"runs page, {shown}: /runs.json vs /api/2.0 runs/search",
                data["loopml_json"],
                data["mlflow_api"],
                detail=size,
            )
        )
    data = raw["compare"]
    count = data["runs"]
    ui = f"{data['mlflow_default_requests']} UI requests"
    connections = f"MLflow: {BROWSER_CONNECTIONS} connections at once"
    rows.append(
        paired(
            f"compare {count} runs, {data['charts']} metric charts: /compare vs {ui}",
            data["loopml_default_html"],
            data["mlflow_default"],
            target=page_target,
            detail=connections,
        )
    )
    rows.append(
        paired(
            f"compare {count} runs, {data['charts']} metric charts: /compare.json vs {ui}",
            data["loopml_default_json"],
            data["mlflow_default"],
            detail=connections,
        )
    )
    pages = f"{data['loopml_all_requests']} × /compare.json"
    for key, what in (
        ("mlflow_all", f"{data['mlflow_all_requests']} UI requests (bulk-interval)"),
        (
            "mlflow_histories",
            f"{data['mlflow_histories_requests']:,} requests of its metric page (get-history)",
        ),
    ):
        rows.append(
            paired(
                f"compare {count} runs, all {sizes['metrics']} metrics' histories: {pages} vs "
                f"{what}",
                data["loopml_all_json"],
                data[key],
                detail=f"loopml: one page after another; {connections}",
            )
        )
    return rows


def fmt_seconds(value: float) -> str:
    return f"{value:.3f} s" if value >= 1 else f"{value * 1000:,.1f} ms"


def print_table(rows: list[dict[str, Any]], console: Any, title: str) -> None:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("case")
    table.add_column("loopml", justify="right")
    table.add_column(f"MLflow {MLFLOW_VERSION}", justify="right")
    table.add_column("ratio", justify="right")
    table.add_column("target")
    table.add_column("result")
    table.add_column("how")
    for item in rows:
        ratio = "" if item["ratio"] is None else f"{item['ratio']:,.1f}x"
        verdict = ""
        if item["passed"] is not None:
            verdict = "[green]PASS[/green]" if item["passed"] else "[red]MISS[/red]"
        table.add_row(
            item["case"],
            fmt_seconds(item["loopml"]),
            fmt_seconds(item["mlflow"]),
            ratio,
            item["target"],
            verdict,
            item["detail"],
        )
    console.print(table)


def print_notes(raw: dict[str, Any], console: Any, dbs: Databases) -> None:
    console.print(
        "  ratio: MLflow's time / loopml's. Page times: median wall time of "
        f"{len(raw['runs_page']['all']['loopml_html'])} requests on loopback after a warm-up "
        "(server time dominates; the client costs well under a millisecond a request)"
    )
    log = raw["logging"]
    for key in ("loopml", "mlflow_fluent", "mlflow_async", "mlflow_batch"):
        data = log[key]
        console.print(
            f"  logging {key:<13}: {data['count']:,} values in {data['seconds']:.3f} s "
            f"(start run {data['start_seconds']:.3f} s, calls {data['calls_seconds']:.3f} s, "
            f"end run {data['end_seconds']:.3f} s; {data['count'] / data['seconds']:,.0f} "
            f"values/s); stored {data['stored']:,}"
        )
    pop = raw["populate"]
    console.print(
        f"  set-up (not a result): loopml {pop['loopml']['seconds']:.1f} s, MLflow "
        f"{pop['mlflow']['seconds']:.1f} s, VACUUM ANALYZE {pop['vacuum_seconds']:.1f} s"
    )
    for label in ("all", "filtered"):
        data = raw["runs_page"][label]
        console.print(
            f"  runs page {label:<8}: loopml HTML {data['loopml_html_bytes'] / 1024:,.0f} KB, "
            f"JSON {data['loopml_json_bytes'] / 1024:,.0f} KB; min/max HTML "
            f"{fmt_seconds(min(data['loopml_html']))}/{fmt_seconds(max(data['loopml_html']))}, "
            f"MLflow UI search {fmt_seconds(min(data['mlflow_ui']))}/"
            f"{fmt_seconds(max(data['mlflow_ui']))}"
        )
    data = raw["compare"]
    console.print(
        f"  compare: MLflow's {data['mlflow_default_requests']} requests one at a time on one "
        f"connection: {fmt_seconds(data['mlflow_default_sequential'][0])}; loopml's HTML "
        f"{data['loopml_default_html_bytes'] / 1024:,.0f} KB (plotly.js is a separate, "
        "cached file)"
    )
    console.print(f"  store: {dbs.describe()}")
    if dbs.note:
        console.print(f"  [yellow]note:[/yellow] {dbs.note}")
    for state in raw["quiet"]:
        if state["gave_up"]:
            console.print(
                f"  load: '{state['label']}' timed at a 1-minute load average of "
                f"{state['load']:.2f} (waited {state['waited']:.0f} s)"
            )


# ---------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------


def parent_main(args: argparse.Namespace) -> int:
    console = report_console()
    sizes = dict(QUICK if args.quick else FULL)
    for name in ("runs", "metrics", "steps", "mlflow_values", "max_wait"):
        if getattr(args, name) is not None:
            sizes[name] = getattr(args, name)
    sizes["compare_runs"] = min(sizes["compare_runs"], sizes["runs"])
    sizes["charts"] = min(sizes["charts"], sizes["metrics"])
    started = time.perf_counter()
    load_at_start = os.getloadavg()

    with tempfile.TemporaryDirectory(prefix="loopml-bench-server-") as tmp:
        work = Path(tmp)
        dbs = Databases.create(work, force_sqlite=args.sqlite)
        if dbs.note:
            console.print(f"[yellow]note:[/yellow] {dbs.note}")
        servers: list[ServerProcess] = []
        try:
            ensure_peers(dbs)
            with progress_display(console) as progress:
                bench = Bench(sizes, work, progress, console)
                task = progress.add_task("starting loopml server and mlflow server", total=2)
                loop = loopml_server(dbs, work, bench.envs["loopml"])
                flow = mlflow_server(dbs, work, bench.envs["mlflow"])
                for server in (loop, flow):
                    servers.append(server)
                    server.start()
                    progress.advance(task)
                bench.raw["ready_seconds"] = {"loopml": loop.ready_s, "mlflow": flow.ready_s}
                bench.logging(loop, flow)
                populated = bench.populate(dbs)
                bench.runs_pages(loop, flow, populated["mlflow"]["experiment_id"])
                bench.compare(loop, flow, populated["loopml"]["ids"], populated["mlflow"]["ids"])
        finally:
            for server in servers:
                server.stop()
            dbs.drop()

    raw = bench.raw
    rows = judge(raw, sizes)
    mode = "quick smoke run" if args.quick else "full run"
    where = "PostgreSQL" if dbs.kind == "postgresql" else "SQLite"
    console.print()
    print_table(
        rows,
        console,
        f"loopml {loopml_version()} server vs mlflow server {MLFLOW_VERSION}, "
        f"both on {where} ({mode})",
    )
    print_notes(raw, console, dbs)
    report = peer_report(
        args,
        console,
        started=started,
        load_at_start=load_at_start,
        sizes=sizes,
        targets=TARGETS,
        rows=rows,
        raw=raw,
        problems=bench.problems,
        mlflow_version=MLFLOW_VERSION,
        store=dbs.describe(),
        store_note=dbs.note,
    )
    return finish(report, "server", console)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--runs", type=int, help="runs in each store (default 10,000)")
    parser.add_argument("--metrics", type=int, help="metrics per run (default 20)")
    parser.add_argument("--steps", type=int, help="points in each metric's history (default 10)")
    parser.add_argument(
        "--mlflow-values",
        type=int,
        help="values MLflow's per-value loops log before scaling to the loop's size "
        "(default 1,000; 10000 times them in full)",
    )
    parser.add_argument(
        "--max-wait",
        type=float,
        help="seconds to wait for a load average below 1.0 before each case (default 5)",
    )
    parser.add_argument(
        "--sqlite", action="store_true", help="SQLite files for both servers, not PostgreSQL"
    )
    args = parser.parse_args(argv)
    if args.runs is not None and args.runs < 100:
        parser.error("--runs must be at least 100")
    if args.metrics is not None and args.metrics < 1:
        parser.error("--metrics must be at least 1")
    if args.steps is not None and args.steps < 1:
        parser.error("--steps must be at least 1")
    return run_parent(parent_main, args)


if __name__ == "__main__":
    sys.exit(main())

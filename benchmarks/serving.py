"""The scoring server, ``loopml serve`` against ``mlflow models serve`` 3.17.2, side by side.

Run it from loopml's venv::

    .venv/bin/python benchmarks/serving.py            # full run: 3-6 minutes on 2 cores
    .venv/bin/python benchmarks/serving.py --quick    # fewer requests, short windows: ~2 min
    .venv/bin/python benchmarks/serving.py --max-wait 30

MLflow lives in the shared peer venv, ``benchmarks/.venv-peers`` (created with
``mlflow==3.17.2`` and loopml's scikit-learn when missing, as ``registry.py`` does).

The model, the same for both servers: a ``LogisticRegression`` fitted on 5,000 rows of 10
float features from one seeded generator, in loopml's venv, and pickled. loopml saves it
with ``loopml.models.save(model, folder, input_example=X[:5])`` (a 2-D array: its
columns are named ``"0"`` to ``"9"``), registers it as ``bench`` and points
``bench@champion`` at version 1, in a store made with ``loopml init``
(``LOOPML_HOME=<tmp>/loopml/.loopml``); the peer venv's Python unpickles the same object
and saves it with ``mlflow.sklearn.save_model(model, path, input_example=X[:5])``.

The servers are started as processes of their own (a new session each, so the whole
tree is stopped with one SIGTERM to its process group):

- ``loopml serve bench@champion --port P`` (and a second one with ``--no-log``), ready
  when ``GET /v2/health/ready`` answers 200;
- ``mlflow models serve -m PATH -p P --env-manager local`` (its default: one uvicorn
  worker, as pip installs it: no uvloop, no httptools), ready when ``GET /ping`` answers
  200.

The client is this file run as a worker (``--worker client``) in loopml's venv, a process
of its own: an asyncio HTTP/1.1 keep-alive client over raw sockets (uvloop's event loop
when installed) that sends one prebuilt request and reads the header block, then
``Content-Length`` bytes. Both servers get the same request, byte for byte except the
port in ``Host``: ``POST /invocations`` with ``{"dataframe_split": {"columns": ["0", ...,
"9"], "data": [[10 floats]]}}``.

Cases (``--quick`` keeps the model and measures less):

``start`` (target: loopml ready in at most 2 s, at most 200 MB resident)
    From spawning the server to the first 200 on its readiness route (polled every
    10 ms), and the resident memory of the server's process tree (psutil, summed) then.
    The first start of each tool is reported apart (loopml's creates the deployment and
    copies the model into its cache), then the median of 3 more. Beside them, the floor
    under any server of this model: a new Python (loopml's venv) that unpickles the same
    fitted object and predicts the row, its wall time and its RSS at the end.
``sequential`` (target: loopml's p50 at most a third of MLflow's)
    One connection, 200 warm-up requests, then 2,000 timed ones, one at a time: p50 and
    p99 latency. Also loopml's OIP v2 ``POST /v2/models/bench/infer`` with the same row
    as a ``[1, 10]`` FP64 tensor, and loopml with ``--no-log``.
``concurrent`` (target: loopml with its prediction log at least 5x MLflow's throughput;
the log costing at most 5% of it)
    8 connections, each sending its next request as soon as it has the answer, for 2 s of
    warm-up and then a 10 s window: requests answered in the window per second, and
    their p99. Two rounds per server (loopml with and without its log alternating), the
    better round reported (another process only ever slows a round down).

The client also reads the CPU time of the server's process tree and its own over each
measured window: server CPU per request, and whether the client kept up (its CPU share).

Before every start and every measured window the script waits until the 1-minute load
average is below 1.0 (up to 5 minutes, 5 s in ``--quick``, warning when it gives up).
After the timed cases, untimed: where a one-row request's time goes in loopml's server,
with the component calls timed in-process (no profiler) and a cProfile of a
``loopml serve`` app run under uvicorn in the worker's main thread while the client
sends it one-row requests.

Checks that make the run fail (exit status 2) whatever the timings: both tools' loaded
models predict the fitted model's class for the row; every answer to every client was a
200 with that prediction (the ``/invocations`` bodies all identical); every prediction
the logging loopml server answered is in its prediction log after SIGTERM; each loopml
server exits on SIGTERM. A missed target makes a full run exit with status 1. Results are
printed as a table and written to ``benchmarks/results/serving.json``
(``serving-quick.json`` for ``--quick``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _harness import (
    LOAD_LIMIT,
    LOOPML,
    PEER_PYTHON,
    BenchmarkError,
    dispatch,
    finish,
    loopml_env,
    loopml_version,
    peer_report,
    progress_display,
    quiet_run,
    report_console,
    script_parser,
    send_result,
    wait_for_quiet,
    worker_command,
    worker_result,
)
from _http_load import HOST, probe, run_client
from _serving_profile import profile_request_path

from registry import ensure_peer
from tracking import MLFLOW_VERSION, tool_env

SEED = 20261127
MODEL = "bench"
ALIAS = "champion"
FEATURES = 10
MLFLOW = PEER_PYTHON.parent / "mlflow"
READY_ROUTE = {"loopml": "/v2/health/ready", "mlflow": "/ping"}

FULL = {
    "rows": 5000,
    "starts": 3,
    "warmup": 200,
    "requests": 2000,
    "clients": 8,
    "window_warmup": 2.0,
    "window": 10.0,
    "rounds": 2,
    "piece_calls": 2000,
    "profile_requests": 2000,
    "ready_timeout": 120.0,
    "max_wait": 300.0,
}
QUICK = {
    **FULL,
    "starts": 1,
    "warmup": 50,
    "requests": 300,
    "window_warmup": 1.0,
    "window": 3.0,
    "rounds": 1,
    "piece_calls": 300,
    "profile_requests": 300,
    "max_wait": 5.0,
}

TARGETS = {
    "ready_s": 2.0,
    "rss_mb": 200.0,
    "p50_ratio": 3.0,
    "throughput_ratio": 5.0,
    "log_cost_pct": 5.0,
}
# mlflow models serve as measured on this machine before (the figures)
MLFLOW_QUOTED = {"p50_ms": 4.34, "sequential_rps": 221.0, "concurrent_rps": 268.0}
STOP_TIMEOUT = 30.0


# ---------------------------------------------------------------------------------------
# Set-up workers: the model for each tool
# ---------------------------------------------------------------------------------------


def worker_setup_loopml(cfg: dict[str, Any]) -> dict[str, Any]:
    """Fit, pickle for the peer, save, register ``bench`` and set ``bench@champion``."""
    import pickle

    import numpy as np
    from sklearn.linear_model import LogisticRegression

    import loopml
    import loopml.models
    import loopml.registry
    from loopml.registry import aliases

    rng = np.random.default_rng(SEED)
    features = rng.normal(size=(cfg["rows"], FEATURES))
    weights = rng.normal(size=FEATURES)
    label = (features @ weights + rng.normal(scale=0.5, size=cfg["rows"]) > 0).astype(int)
    model = LogisticRegression(max_iter=1000).fit(features, label)
    with open(cfg["pickle"], "wb") as out:
        pickle.dump(model, out, protocol=pickle.HIGHEST_PROTOCOL)
    example = features[:5]
    info = loopml.models.save(model, Path(cfg["home"]) / "model", input_example=example)
    store = loopml.default_store()
    version = loopml.registry.register(store, info.path, MODEL)
    aliases.set_alias(store, MODEL, ALIAS, version.version)
    row = rng.normal(size=FEATURES)
    assert info.signature is not None
    return {
        "columns": info.signature.columns,
        "example": example.tolist(),
        "row": row.tolist(),
        "expected": model.predict(row[None, :]).tolist(),
        "version": int(version.version),
    }


def worker_setup_mlflow(cfg: dict[str, Any]) -> dict[str, Any]:
    """The same fitted object saved by MLflow, loaded back through pyfunc and asked."""
    import logging
    import pickle
    import warnings

    import numpy as np
    import pandas as pd

    warnings.simplefilter("ignore")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    import mlflow.pyfunc
    import mlflow.sklearn

    with open(cfg["pickle"], "rb") as file:
        model = pickle.load(file)
    mlflow.sklearn.save_model(model, cfg["path"], input_example=np.array(cfg["example"]))
    loaded = mlflow.pyfunc.load_model(cfg["path"])
    answer = loaded.predict(pd.DataFrame([cfg["row"]], columns=cfg["columns"]))
    return {"expected": np.asarray(answer).tolist()}


# ---------------------------------------------------------------------------------------
# The other workers: the client (``_http_load``) and the profile (``_serving_profile``)
# ---------------------------------------------------------------------------------------


def worker_profile(cfg: dict[str, Any]) -> dict[str, Any]:
    return profile_request_path(cfg, lambda client: worker_command(__file__, "client", client))


WORKERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "client": run_client,
    "setup-loopml": worker_setup_loopml,
    "setup-mlflow": worker_setup_mlflow,
    "profile": worker_profile,
}


def worker_main(case: str, config: str) -> None:
    send_result(WORKERS[case](json.loads(config)))


# ---------------------------------------------------------------------------------------
# Parent: servers
# ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def tree_rss(pid: int) -> tuple[int, list[int]]:
    """Resident bytes of process ``pid`` and its descendants, summed, and their pids."""
    import psutil

    root = psutil.Process(pid)
    processes = [root, *root.children(recursive=True)]
    total = 0
    pids = []
    for process in processes:
        try:
            total += process.memory_info().rss
            pids.append(process.pid)
        except psutil.NoSuchProcess:
            continue
    return total, pids


@dataclass
class Server:
    key: str
    tool: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    ready_s: float = 0.0
    rss: int = 0
    pids: list[int] = field(default_factory=list)


def log_tail(path: Path, lines: int = 25) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_server(server: Server) -> dict[str, Any]:
    """SIGTERM to the server's process group; SIGKILL after ``STOP_TIMEOUT`` s."""
    pgid = server.process.pid
    began = time.perf_counter()
    killed = False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    try:
        server.process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        killed = True
    deadline = time.monotonic() + (0 if killed else STOP_TIMEOUT)
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if group_alive(pgid):
        killed = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        server.process.wait()
    return {
        "seconds": time.perf_counter() - began,
        "killed": killed,
        "returncode": server.process.returncode,
    }


# ---------------------------------------------------------------------------------------
# Parent: the run
# ---------------------------------------------------------------------------------------


class Bench:
    """Starts and stops the servers and runs the client against them, one measured thing
    at a time, each after waiting for a quiet machine; remembers every figure and every
    failed check."""

    def __init__(self, sizes: dict[str, Any], work: Path, progress: Any, console: Any) -> None:
        self.sizes = sizes
        self.work = work
        self.progress = progress
        self.console = console
        self.homes = {tool: work / tool for tool in ("loopml", "mlflow")}
        self.running: list[Server] = []
        self.raw: dict[str, Any] = {"starts": {}, "clients": {}, "stops": {}, "checks": {}}
        self.problems: list[str] = []
        self.load_waits: list[dict[str, Any]] = []
        self.setup: dict[str, Any] = {}
        self.bodies: dict[str, str] = {}  # the request bodies, by protocol

    def env(self, tool: str) -> dict[str, str]:
        if tool == "loopml":
            return loopml_env(self.homes[tool], "MLFLOW_")
        # mlflow models serve runs ``uvicorn`` from PATH: the peer venv's
        path = f"{PEER_PYTHON.parent}{os.pathsep}{os.environ.get('PATH', '')}"
        return {**tool_env("mlflow", self.homes[tool]), "PATH": path}

    def check(self, key: str, ok: bool, what: str) -> bool:
        self.raw["checks"].setdefault(key, []).append({"ok": ok, "what": what})
        if not ok:
            self.problems.append(f"{key}: {what}")
        return ok

    def quiet(self, key: str, label: str) -> tuple[Any, dict[str, Any]]:
        task = self.progress.add_task(label, total=1)
        quiet = wait_for_quiet(
            self.sizes["max_wait"],
            progress=self.progress,
            task=task,
            label=label,
            console=self.console,
        )
        self.load_waits.append({"case": key, **quiet})
        return task, quiet

    # --- set-up ----------------------------------------------------------------------

    def make_models(self) -> None:
        task = self.progress.add_task("set-up: fit, save and register the model for both", total=2)
        for home in self.homes.values():
            home.mkdir()
        home = self.homes["loopml"]
        quiet_run([str(LOOPML), "init"], cwd=home, env=self.env("loopml"))
        pickled = self.work / "model.pkl"
        cfg = {"rows": self.sizes["rows"], "pickle": str(pickled), "home": str(home)}
        made = self.worker("setup-loopml", sys.executable, cfg, "loopml")
        self.progress.update(task, advance=1)
        mlflow_path = self.homes["mlflow"] / "model"
        peer_cfg = {
            "pickle": str(pickled),
            "path": str(mlflow_path),
            "example": made["example"],
            "row": made["row"],
            "columns": made["columns"],
        }
        theirs = self.worker("setup-mlflow", str(PEER_PYTHON), peer_cfg, "mlflow")
        self.progress.update(task, advance=1)
        self.check(
            "setup.same_prediction",
            theirs["expected"] == made["expected"],
            f"MLflow's loaded model predicts {theirs['expected']} for the row, the fitted "
            f"model {made['expected']}",
        )
        body = json.dumps({"dataframe_split": {"columns": made["columns"], "data": [made["row"]]}})
        oip = json.dumps(
            {
                "inputs": [
                    {
                        "name": "input-0",
                        "shape": [1, FEATURES],
                        "datatype": "FP64",
                        "data": [made["row"]],
                    }
                ]
            }
        )
        self.setup = {
            **made,
            "mlflow_expected": theirs["expected"],
            "mlflow_model": str(mlflow_path),
        }
        self.bodies = {"invocations": body, "oip": oip}
        self.raw["setup"] = {**self.setup, "bodies": self.bodies}

    def worker(self, case: str, python: str, cfg: dict[str, Any], tool: str) -> dict[str, Any]:
        command = [python, *worker_command(__file__, case, cfg)[1:]]
        done = subprocess.run(
            command,
            cwd=self.homes[tool],
            env=self.env(tool),
            capture_output=True,
            text=True,
            check=False,
        )
        result = worker_result(done.stdout)
        if done.returncode != 0 or result is None:
            tail = "\n".join((done.stderr or done.stdout).splitlines()[-25:])
            raise BenchmarkError(f"worker {case} exited with {done.returncode}:\n{tail}")
        return result

    def baseline(self) -> None:
        """The floor under any server of this model: a new Python that unpickles it and
        predicts the row; wall time and its resident memory at the end."""
        row = self.setup["row"]
        code = (
            "import pickle\nimport psutil\n"
            f"with open({str(self.work / 'model.pkl')!r}, 'rb') as file:\n"
            "    model = pickle.load(file)\n"
            f"print(model.predict([{row!r}]).tolist(), psutil.Process().memory_info().rss)"
        )
        self.raw["baseline_code"] = code
        runs = []
        for index in range(self.sizes["starts"] + 1):
            which = "first" if index == 0 else f"{index}/{self.sizes['starts']}"
            task, quiet = self.quiet("baseline", f"baseline: unpickle + predict ({which})")
            began = time.perf_counter()
            output = quiet_run([sys.executable, "-c", code], cwd=self.work, env=self.env("loopml"))
            seconds = time.perf_counter() - began
            answer, rss = output.strip().splitlines()[-1].rsplit(" ", 1)
            runs.append({"seconds": seconds, "rss": int(rss), "load": quiet})
            self.progress.update(task, completed=1)
            self.check(
                "baseline.prediction",
                json.loads(answer) == self.setup["expected"],
                f"the unpickled model predicts {answer}, expected {self.setup['expected']}",
            )
        self.raw["baseline"] = runs

    # --- servers ---------------------------------------------------------------------

    def command(self, tool: str, port: int, extra: list[str]) -> list[str]:
        if tool == "loopml":
            return [str(LOOPML), "serve", f"{MODEL}@{ALIAS}", "--port", str(port), *extra]
        return [
            str(MLFLOW),
            "models",
            "serve",
            "-m",
            self.setup["mlflow_model"],
            "-p",
            str(port),
            "--env-manager",
            "local",
        ]

    def start(self, key: str, tool: str, label: str, extra: tuple[str, ...] = ()) -> Server:
        """Spawn a server, time it to its first 200 on the readiness route, read its RSS."""
        task, quiet = self.quiet(f"start.{key}", label)
        port = free_port()
        count = len(self.raw["starts"].get(key, []))
        log = self.work / "logs" / f"{key}-{count}.log"
        route = READY_ROUTE[tool]
        with log.open("wb") as out:
            began = time.perf_counter()
            process = subprocess.Popen(
                self.command(tool, port, list(extra)),
                cwd=self.homes[tool],
                env=self.env(tool),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = Server(key, tool, process, port, log)
        self.running.append(server)
        while True:
            status = probe(port, route)
            if status == 200:
                break
            elapsed = time.perf_counter() - began
            if process.poll() is not None:
                raise BenchmarkError(
                    f"{tool} server exited with {process.returncode} before it was ready:\n"
                    + log_tail(log)
                )
            if elapsed > self.sizes["ready_timeout"]:
                raise BenchmarkError(
                    f"{tool} server not ready after {elapsed:.0f} s:\n{log_tail(log)}"
                )
            time.sleep(0.01)
        server.ready_s = time.perf_counter() - began
        server.rss, server.pids = tree_rss(process.pid)
        self.raw["starts"].setdefault(key, []).append(
            {
                "ready_s": server.ready_s,
                "rss": server.rss,
                "processes": len(server.pids),
                "load": quiet,
            }
        )
        self.progress.update(task, completed=1)
        return server

    def stop(self, server: Server) -> dict[str, Any]:
        server_rss, _pids = (
            tree_rss(server.process.pid) if server.process.poll() is None else (0, [])
        )
        stopped = {**stop_server(server), "rss_before_stop": server_rss}
        self.running.remove(server)
        self.raw["stops"].setdefault(server.key, []).append(stopped)
        if server.tool == "loopml":
            self.check(
                f"stop.{server.key}",
                not stopped["killed"],
                f"loopml server '{server.key}' exited on SIGTERM within {STOP_TIMEOUT:g} s",
            )
        return stopped

    def stop_all(self) -> None:
        for server in list(self.running):
            self.stop(server)

    def starts(self, key: str, tool: str, name: str, extra: tuple[str, ...] = ()) -> Server:
        """The first start, then ``starts`` more; the last server is left running."""
        total = self.sizes["starts"] + 1
        server = None
        for index in range(total):
            if server is not None:
                self.stop(server)
            which = "first" if index == 0 else f"{index}/{total - 1}"
            server = self.start(key, tool, f"{name}: start ({which})", extra)
        assert server is not None
        return server

    # --- the client -------------------------------------------------------------------

    def client(
        self, key: str, server: Server, protocol: str, mode: str, label: str
    ) -> dict[str, Any]:
        sizes = self.sizes
        task, quiet = self.quiet(f"client.{key}", label)
        path = "/invocations" if protocol == "invocations" else f"/v2/models/{MODEL}/infer"
        cfg = {
            "mode": mode,
            "port": server.port,
            "path": path,
            "body": self.bodies[protocol],
            "same_body": protocol == "invocations",
            "server_pids": server.pids,
            "warmup": sizes["warmup"],
            "requests": sizes["requests"],
            "clients": sizes["clients"],
            "window_warmup": sizes["window_warmup"],
            "window": sizes["window"],
        }
        result = self.worker("client", sys.executable, cfg, "loopml")
        result["load"] = quiet
        self.raw["clients"].setdefault(key, []).append(result)
        self.progress.update(task, completed=1)
        self.check_answers(key, server.tool, protocol, result)
        return result

    def check_answers(self, key: str, tool: str, protocol: str, result: dict[str, Any]) -> None:
        expected = self.setup["expected"]
        try:
            first = json.loads(result["first_body"])
            got = first["predictions"] if protocol == "invocations" else first["outputs"][0]["data"]
        except (ValueError, KeyError, IndexError, TypeError):
            got = result["first_body"][:200]
        self.check(
            f"answers.{key}",
            got == expected and result["bad_status"] == 0 and result["other_body"] == 0,
            f"{tool} ({key}) answered {got} (expected {expected}), "
            f"{result['bad_status']} non-200 answers {result['statuses']}, "
            f"{result['other_body']} bodies unlike the first",
        )

    # --- the cases ---------------------------------------------------------------------

    def run_loopml(self) -> None:
        rounds = self.sizes["rounds"]
        logged = self.starts("loopml", "loopml", "loopml serve")
        unlogged = self.start(
            "loopml_no_log", "loopml", "loopml serve --no-log: start", ("--no-log",)
        )
        n = self.sizes["requests"]
        self.client(
            "sequential.loopml",
            logged,
            "invocations",
            "sequential",
            f"loopml: {n} one-row /invocations, 1 client",
        )
        self.client(
            "sequential_oip.loopml",
            logged,
            "oip",
            "sequential",
            f"loopml: {n} one-row OIP v2 infer, 1 client",
        )
        self.client(
            "sequential.loopml_no_log",
            unlogged,
            "invocations",
            "sequential",
            f"loopml --no-log: {n} one-row /invocations",
        )
        window = f"{self.sizes['clients']} clients, {self.sizes['window']:g} s"
        for index in range(rounds):
            which = f"round {index + 1}/{rounds}"
            self.client(
                "concurrent.loopml",
                logged,
                "invocations",
                "concurrent",
                f"loopml: {window} ({which})",
            )
            self.client(
                "concurrent.loopml_no_log",
                unlogged,
                "invocations",
                "concurrent",
                f"loopml --no-log: {window} ({which})",
            )
        answered = sum(
            run["answered"]
            for key, runs in self.raw["clients"].items()
            if key.endswith(".loopml")
            for run in runs
        )
        self.stop(unlogged)
        self.stop(logged)
        logged_rows = self.count_logged()
        self.raw["prediction_log"] = {"answered": answered, "logged": logged_rows}
        self.check(
            "prediction_log.complete",
            logged_rows == answered,
            f"the logging server answered {answered} predictions; its log holds "
            f"{logged_rows} after SIGTERM",
        )

    def count_logged(self) -> int:
        code = f"import loopml\nprint(len(loopml.predictions({MODEL!r})))"
        output = quiet_run(
            [sys.executable, "-c", code], cwd=self.homes["loopml"], env=self.env("loopml")
        )
        return int(output.strip().splitlines()[-1])

    def run_mlflow(self) -> None:
        server = self.starts("mlflow", "mlflow", "mlflow models serve")
        n = self.sizes["requests"]
        self.client(
            "sequential.mlflow",
            server,
            "invocations",
            "sequential",
            f"MLflow: {n} one-row /invocations, 1 client",
        )
        window = f"{self.sizes['clients']} clients, {self.sizes['window']:g} s"
        for index in range(self.sizes["rounds"]):
            self.client(
                "concurrent.mlflow",
                server,
                "invocations",
                "concurrent",
                f"MLflow: {window} (round {index + 1}/{self.sizes['rounds']})",
            )
        self.stop(server)

    def run_profile(self) -> None:
        task, quiet = self.quiet("profile", "profile: loopml's one-row request path (untimed)")
        cfg = {
            "body": self.bodies["invocations"],
            "piece_calls": self.sizes["piece_calls"],
            "port": free_port(),
            "client": {
                "mode": "sequential",
                "path": "/invocations",
                "body": self.bodies["invocations"],
                "same_body": True,
                "warmup": 100,
                "requests": self.sizes["profile_requests"],
            },
        }
        result = self.worker("profile", sys.executable, cfg, "loopml")
        result["load"] = quiet
        self.raw["profile"] = result
        self.progress.update(task, completed=1)
        self.check_answers("profile", "loopml", "invocations", result["client"])


# ---------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The round with the highest throughput (another process only ever slows one down)."""
    return max(runs, key=lambda run: run["throughput"])


def judge(raw: dict[str, Any]) -> list[dict[str, Any]]:
    starts, clients = raw["starts"], raw["clients"]
    rows: list[dict[str, Any]] = []

    def row(
        case: str,
        detail: str,
        unit: str,
        loop: Any,
        flow: Any,
        *,
        higher_better: bool = False,
        target: str = "",
        passed: bool | None = None,
    ) -> None:
        ratio = None
        if isinstance(loop, float | int) and isinstance(flow, float | int) and loop and flow:
            ratio = loop / flow if higher_better else flow / loop
        rows.append(
            {
                "case": case,
                "detail": detail,
                "unit": unit,
                "loopml": loop,
                "mlflow": flow,
                "ratio": ratio,
                "target": target,
                "passed": passed,
            }
        )

    def later(key: str, field_name: str) -> float:
        runs = starts[key][1:] or starts[key]
        return statistics.median(run[field_name] for run in runs)

    repeats = len(starts["loopml"]) - 1
    row(
        "server start, first",
        "spawn to first 200 on the readiness route",
        "s",
        starts["loopml"][0]["ready_s"],
        starts["mlflow"][0]["ready_s"],
    )
    ready = later("loopml", "ready_s")
    row(
        "server start",
        f"spawn to first 200; median of {repeats}",
        "s",
        ready,
        later("mlflow", "ready_s"),
        target=f"≤ {TARGETS['ready_s']:g} s",
        passed=ready <= TARGETS["ready_s"],
    )
    rss = later("loopml", "rss")
    trees = f"{starts['loopml'][-1]['processes']} vs {starts['mlflow'][-1]['processes']}"
    row(
        "RSS when ready",
        f"server process tree ({trees} processes); median of {repeats}",
        "MB",
        rss,
        later("mlflow", "rss"),
        target=f"≤ {TARGETS['rss_mb']:g} MB",
        passed=rss / 1e6 <= TARGETS["rss_mb"],
    )
    floor = raw["baseline"][1:] or raw["baseline"]
    row(
        "baseline: no server",
        f"new Python: unpickle the model, predict 1 row; median of {len(floor)}",
        "s",
        statistics.median(run["seconds"] for run in floor),
        None,
    )
    row(
        "baseline: no server, RSS",
        "the same process at its end",
        "MB",
        statistics.median(run["rss"] for run in floor),
        None,
    )
    row(
        "server start, --no-log",
        "spawn to first 200",
        "s",
        starts["loopml_no_log"][0]["ready_s"],
        None,
    )

    seq_loop, seq_flow = clients["sequential.loopml"][0], clients["sequential.mlflow"][0]
    n = seq_loop["requests"]
    p50_ratio = seq_flow["p50_ms"] / seq_loop["p50_ms"]
    row(
        "one row, sequential: p50",
        f"/invocations dataframe_split, 1 client, {n:,} requests",
        "ms",
        seq_loop["p50_ms"],
        seq_flow["p50_ms"],
        target=f"≤ 1/{TARGETS['p50_ratio']:g} of MLflow's",
        passed=p50_ratio >= TARGETS["p50_ratio"],
    )
    row("one row, sequential: p99", "same requests", "ms", seq_loop["p99_ms"], seq_flow["p99_ms"])
    row(
        "one row, sequential: throughput",
        "same requests",
        "req/s",
        seq_loop["throughput"],
        seq_flow["throughput"],
        higher_better=True,
    )
    row(
        "one row, sequential: server CPU",
        "server process tree's CPU per request",
        "ms",
        seq_loop["server_cpu_ms_per_request"],
        seq_flow["server_cpu_ms_per_request"],
    )
    oip = clients["sequential_oip.loopml"][0]
    row(
        "one row, sequential: p50, OIP v2",
        f"/v2/models/{MODEL}/infer, [1, 10] FP64 tensor",
        "ms",
        oip["p50_ms"],
        None,
    )
    row(
        "one row, sequential: p50, --no-log",
        "/invocations",
        "ms",
        clients["sequential.loopml_no_log"][0]["p50_ms"],
        None,
    )

    conc_loop, conc_flow = best(clients["concurrent.loopml"]), best(clients["concurrent.mlflow"])
    conc_free = best(clients["concurrent.loopml_no_log"])
    rounds = len(clients["concurrent.loopml"])
    window = f"{conc_loop['clients']} clients, {conc_loop['seconds']:g} s, best of {rounds}"
    throughput_ratio = conc_loop["throughput"] / conc_flow["throughput"]
    row(
        "concurrent: throughput",
        f"{window}; prediction log on",
        "req/s",
        conc_loop["throughput"],
        conc_flow["throughput"],
        higher_better=True,
        target=f"≥ {TARGETS['throughput_ratio']:g}x MLflow's",
        passed=throughput_ratio >= TARGETS["throughput_ratio"],
    )
    row("concurrent: p99", "same round", "ms", conc_loop["p99_ms"], conc_flow["p99_ms"])
    row("concurrent: p50", "same round", "ms", conc_loop["p50_ms"], conc_flow["p50_ms"])
    row("concurrent: throughput, --no-log", window, "req/s", conc_free["throughput"], None)
    cost = (conc_free["throughput"] - conc_loop["throughput"]) / conc_free["throughput"] * 100
    row(
        "concurrent: cost of the prediction log",
        "throughput lost to it, of --no-log's",
        "%",
        cost,
        None,
        target=f"≤ {TARGETS['log_cost_pct']:g}%",
        passed=cost <= TARGETS["log_cost_pct"],
    )
    return rows


def fmt(value: Any, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "s":
        return f"{value * 1000:,.0f} ms" if value < 1 else f"{value:,.2f} s"
    if unit == "MB":
        return f"{value / 1e6:,.0f} MB"
    if unit == "ms":
        return f"{value:,.3f} ms" if value < 1 else f"{value:,.2f} ms"
    if unit == "req/s":
        return f"{value:,.0f} req/s"
    if unit == "%":
        return f"{value:.1f}%"
    return str(value)


def print_table(rows: list[dict[str, Any]], console: Any, title: str) -> None:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for name, justify in (
        ("case", "left"),
        ("how", "left"),
        ("loopml", "right"),
        (f"MLflow {MLFLOW_VERSION}", "right"),
        ("ratio", "right"),
        ("target", "left"),
        ("met", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        if row["passed"] is None:
            verdict = ""
        else:
            verdict = "[green]PASS[/green]" if row["passed"] else "[red]MISS[/red]"
        table.add_row(
            row["case"],
            row["detail"],
            fmt(row["loopml"], row["unit"]),
            fmt(row["mlflow"], row["unit"]),
            "" if row["ratio"] is None else f"{row['ratio']:,.1f}x",
            row["target"],
            verdict,
        )
    console.print(table)


def print_notes(raw: dict[str, Any], console: Any) -> None:
    say = console.print
    clients = raw["clients"]
    say(
        "  ratio: how many times better loopml's figure is (MLflow's time / loopml's; "
        "loopml's req/s / MLflow's)"
    )
    say(
        f"  MLflow as measured before on this machine: p50 {MLFLOW_QUOTED['p50_ms']} ms, "
        f"{MLFLOW_QUOTED['sequential_rps']:.0f} req/s sequential, "
        f"{MLFLOW_QUOTED['concurrent_rps']:.0f} req/s with 8 clients"
    )
    for key in ("concurrent.loopml", "concurrent.loopml_no_log", "concurrent.mlflow"):
        runs = clients[key]
        shown = ", ".join(
            f"{run['throughput']:,.0f} req/s (p99 {run['p99_ms']:.2f} ms, server CPU "
            f"{run['server_cpu_share'] * 100:.0f}%, "
            f"client CPU {run['client_cpu_share'] * 100:.0f}%)"
            for run in runs
        )
        say(f"  {key:<25} rounds: {shown}")
    for key in (
        "sequential.loopml",
        "sequential_oip.loopml",
        "sequential.loopml_no_log",
        "sequential.mlflow",
    ):
        run = clients[key][0]
        say(
            f"  {key:<25} p50 {run['p50_ms']:.3f} ms, p90 {run['p90_ms']:.3f} ms, "
            f"p99 {run['p99_ms']:.3f} ms, max {run['max_ms']:.1f} ms; "
            f"server CPU {run['server_cpu_ms_per_request']:.3f} ms/request; "
            f"client CPU {run['client_cpu_share'] * 100:.0f}% ({run['loop']})"
        )
    shown = ", ".join(
        f"{run['seconds']:.2f} s / {run['rss'] / 1e6:.0f} MB" for run in raw["baseline"]
    )
    say(f"  baseline, unpickle + predict (time / RSS): {shown}")
    for key, runs in raw["starts"].items():
        shown = ", ".join(f"{run['ready_s']:.2f} s / {run['rss'] / 1e6:.0f} MB" for run in runs)
        say(f"  starts {key:<14} (ready / RSS): {shown}")
    for key, runs in raw["stops"].items():
        shown = ", ".join(
            f"{run['seconds']:.1f} s"
            + (" (SIGKILL)" if run["killed"] else "")
            + (
                f", RSS before {run['rss_before_stop'] / 1e6:.0f} MB"
                if run["rss_before_stop"]
                else ""
            )
            for run in runs
        )
        say(f"  stops  {key:<14} (SIGTERM to exit): {shown}")
    log = raw.get("prediction_log")
    if log:
        say(
            f"  prediction log after SIGTERM: {log['logged']:,} rows for "
            f"{log['answered']:,} predictions answered"
        )
    waits = raw["load_waits"]
    gave_up = sorted({w["case"] for w in waits if w["gave_up"]})
    say(
        f"  load average before the measured cases: {min(w['load'] for w in waits):.2f} to "
        f"{max(w['load'] for w in waits):.2f} (limit {LOAD_LIMIT}); waited "
        f"{sum(w['waited'] for w in waits):.0f} s in all"
        + (f"; gave up waiting before: {', '.join(gave_up)}" if gave_up else "")
    )


def print_profile(raw: dict[str, Any], console: Any) -> None:
    say = console.print
    profile = raw["profile"]
    say("  where a one-row /invocations request goes in loopml (µs per call, in-process):")
    for piece in profile["pieces"]:
        say(f"    {piece['us']:8.1f} µs  {piece['piece']}")
    seq = raw["clients"]["sequential.loopml"][0]
    say(
        f"    {seq['server_cpu_ms_per_request'] * 1000:8.1f} µs  server CPU per request over "
        "HTTP (the sequential case: the app, plus uvicorn, httptools, the event loop and "
        "the socket calls)"
    )
    requests = profile["requests"]
    say(
        f"  cProfile of loopml serve's app under uvicorn, {requests:,} one-row requests "
        f"({profile['seconds']:.1f} s profiled, p50 {profile['client']['p50_ms']:.2f} ms "
        "under the profiler; functions called at least once per two requests): loopml "
        "functions by cumulative time, µs per request"
    )
    for entry in profile["top_loopml"]:
        cumulative, own = entry["cumulative"] * 1e6, entry["own"] * 1e6
        say(
            f"    {cumulative / requests:8.1f} cum {own / requests:7.1f} own "
            f"{entry['calls']:>7} calls  {entry['where']}"
        )
    say("  and all functions by own time, µs per request")
    for entry in profile["top_own"]:
        own = entry["own"] * 1e6
        say(f"    {own / requests:8.1f} own {entry['calls']:>7} calls  {entry['where']}")


def parent_main(args: argparse.Namespace) -> int:
    console = report_console()
    sizes = dict(QUICK if args.quick else FULL)
    if args.max_wait is not None:
        sizes["max_wait"] = args.max_wait
    if not LOOPML.exists():
        raise BenchmarkError(f"no loopml command at {LOOPML}: run this with loopml's venv")
    try:
        import psutil  # noqa: F401
    except ImportError:
        raise BenchmarkError("loopml's venv has no psutil: pip install -e '.[test]'") from None
    versions = ensure_peer()
    if not MLFLOW.exists():
        raise BenchmarkError(f"no mlflow command at {MLFLOW}")

    load_at_start = os.getloadavg()
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="loopml-bench-serving-") as tmp,
        progress_display(console) as progress,
    ):
        work = Path(tmp)
        (work / "logs").mkdir()
        bench = Bench(sizes, work, progress, console)
        try:
            bench.make_models()
            bench.baseline()
            bench.run_loopml()
            bench.run_mlflow()
            bench.run_profile()
        finally:
            bench.stop_all()
        bench.raw["load_waits"] = bench.load_waits
        raw, problems = bench.raw, bench.problems

    rows = judge(raw)
    mode = "quick smoke run" if args.quick else "full run"
    title = f"loopml {loopml_version()} serve vs mlflow models serve {MLFLOW_VERSION} ({mode})"
    console.print()
    print_table(rows, console, title)
    print_notes(raw, console)
    print_profile(raw, console)
    report = peer_report(
        args,
        console,
        started=started,
        load_at_start=load_at_start,
        sizes=sizes,
        targets=TARGETS,
        rows=rows,
        raw=raw,
        problems=problems,
        mlflow_version=MLFLOW_VERSION,
        library_versions=versions,
    )
    return finish(report, "serving", console)


def main(argv: list[str] | None = None) -> int:
    parser = script_parser(
        __doc__,
        list(WORKERS),
        quick_help="fewer requests, shorter windows, short waits",
        default_wait="default 300, 5 with --quick",
    )
    return dispatch(parser.parse_args(argv), worker_main, parent_main)


if __name__ == "__main__":
    sys.exit(main())

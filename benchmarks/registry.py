"""The model registry, loopml against MLflow 3.17.2 on its SQLite backend, side by side.

Run it from loopml's venv::

    .venv/bin/python benchmarks/registry.py            # full run: 5-10 minutes on 2 cores
    .venv/bin/python benchmarks/registry.py --quick    # fewer repetitions, short waits: ~1 min
    .venv/bin/python benchmarks/registry.py --max-wait 30

MLflow lives in its own venv, ``benchmarks/.venv-peers`` (shared with the other
benchmarks; created with ``mlflow==3.17.2`` when missing, as ``tracking.py`` does), and
holds the same scikit-learn as loopml's venv (installed there when it holds another), so
both tools save the same fitted model and their pins can be compared. This file is also
the worker (``--worker CASE``): loopml's cases run in ``sys.executable``, MLflow's in the
peer venv's Python. Every timed case runs in a fresh process, one after the other and
never two at the same time, each tool in its own temporary store: a folder made with
``loopml init`` (``LOOPML_HOME=<tmp>/.loopml``) and ``MLFLOW_TRACKING_URI=sqlite:///<tmp>/
mlflow.db`` (artifacts in ``<tmp>/mlruns``), MLflow's telemetry off.

The model, the same for both tools: a scikit-learn ``Pipeline`` of a ``ColumnTransformer``
(``StandardScaler`` on the integer and float columns, ``OneHotEncoder`` on the string
ones) and ``LogisticRegression``, fitted on 5,000 rows from one seeded generator
(``tenure`` and ``calls`` integers, ``monthly`` and ``usage`` floats, ``plan`` and
``region`` strings).

Cases (``--quick`` keeps the model and repeats less):

``register`` (target: warm at most 100 ms and at least 20x faster than MLflow)
    In one process per tool, after the imports, the fit and creating the store:
    ``with loopml.start_run(): info = loopml.log_model(m, input_example=X[:5]);
    loopml.register(info, "churn")`` against ``with mlflow.start_run():
    mlflow.sklearn.log_model(m, name="model", input_example=X[:5],
    registered_model_name="churn")``, MLflow's default path (it infers the pip
    requirements by loading the model in a subprocess). The first call registers another
    name, ``warmup``, and is reported on its own (``import loopml`` loads its store and
    model modules on first use, so loopml's first call includes them); then 5 timed calls,
    median.
``requirements`` (target: loopml pins every model dependency MLflow lists, same version)
    MLflow's ``requirements.txt``, downloaded from the last version's artifacts, against
    loopml's ``info.requirements``, package by package. mlflow, mlflow-skinny,
    mlflow-tracing and psutil are MLflow's own runtime, and skops is the library of
    MLflow's default serialisation format (``model.skops``; loopml writes a pickle): they
    are listed, not counted. Where the two venvs hold different versions of a package,
    loopml's pin is compared with the version in its own venv.
``load`` (target: loopml at most ``import sklearn`` + 0.3 s)
    After ``churn@champion`` is set to version 1 (untimed), a new process loads
    ``models:/churn@champion`` and predicts one row; the wall time of the whole
    ``python -c``, median of 5. loopml with the row as a dict (no pandas import of its
    own) and as a one-row DataFrame (``import pandas as pd, loopml``); MLflow's
    ``mlflow.pyfunc.load_model`` with the same DataFrame (pyfunc needs one). Beside them,
    in each venv, processes that only ``import sklearn`` and ``import sklearn, pandas``,
    and one that ``pickle.load``-s the same fitted model from a plain file and predicts the
    DataFrame: what loading costs without a registry (unpickling imports the parts of
    scikit-learn and SciPy the pipeline uses, which ``import sklearn`` alone does not).
    The first process of each command is timed apart and not in the median (loopml's
    first load copies the version's files into its model cache).

Before every timed process the script waits until the 1-minute load average is below
1.0 (up to 5 minutes, 5 s in ``--quick``, warning when it gives up).

Checks that make the run fail (exit status 2) whatever the timings: each tool numbered
the ``churn`` versions 1, 2, ...; MLflow's ``requirements.txt`` was found and is not
empty; both workers' fitted models predict the same class for the row, and every load
process printed it. A
missed target makes a full run exit with status 1. Results are printed as a table and
written to ``benchmarks/results/registry.json`` (``registry-quick.json`` for ``--quick``).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _harness import (
    LOAD_LIMIT,
    LOOPML,
    PEER_PYTHON,
    BenchmarkError,
    dispatch,
    ensure_peer_package,
    finish,
    loopml_env,
    loopml_version,
    peer_report,
    peer_version,
    progress_display,
    quiet_run,
    report_console,
    run_timed,
    script_parser,
    send_result,
    wait_for_quiet,
    worker_command,
)

from tracking import MLFLOW_VERSION, ensure_peer_mlflow, tool_env

SEED = 20261126
MODEL = "churn"
WARMUP = "warmup"
ALIAS = "champion"
PREDICTION = "prediction "  # prefix of the line a load process prints its classes on
PLAIN_PICKLE = "plain-model.pkl"  # the fitted model pickled by each worker, in its store's folder

FULL = {
    "rows": 5000,
    "example_rows": 5,
    "register_repeats": 5,
    "load_repeats": 5,
    "max_wait": 300.0,
}
QUICK = {**FULL, "register_repeats": 2, "load_repeats": 2, "max_wait": 5.0}

TARGETS = {"register_s": 0.100, "register_ratio": 20.0, "load_over_sklearn_s": 0.3}
MLFLOW_QUOTED_LOAD_S = 2.63  # MLflow's load-and-predict process, as the issue measured it

MLFLOW_RUNTIME = frozenset({"mlflow", "mlflow-skinny", "mlflow-tracing", "psutil"})
MLFLOW_FORMAT = frozenset({"skops"})
MODEL_LIBRARIES = ("scikit-learn", "numpy", "scipy", "pandas")


# ---------------------------------------------------------------------------------------
# The model (both kinds of worker)
# ---------------------------------------------------------------------------------------


def churn_data(rows: int) -> tuple[Any, Any]:
    """``rows`` customers with integer, float and string columns, and a churn label."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(SEED)
    frame = pd.DataFrame(
        {
            "tenure": rng.integers(0, 72, rows),
            "monthly": rng.normal(70.0, 20.0, rows).round(2),
            "calls": rng.integers(0, 10, rows),
            "usage": rng.gamma(2.0, 15.0, rows).round(3),
            "plan": rng.choice(["basic", "plus", "pro"], rows),
            "region": rng.choice(["north", "south", "east", "west"], rows),
        }
    )
    score = (
        0.04 * (frame["monthly"] - 70)
        - 0.05 * frame["tenure"]
        + 0.3 * frame["calls"]
        + (frame["plan"] == "basic") * 0.8
        + rng.normal(0.0, 1.0, rows)
    )
    return frame, (score > 0).astype(int)


def churn_model(frame: Any, label: Any) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    prepare = ColumnTransformer(
        [
            ("numbers", StandardScaler(), ["tenure", "monthly", "calls", "usage"]),
            ("categories", OneHotEncoder(handle_unknown="ignore"), ["plan", "region"]),
        ]
    )
    return Pipeline([("prepare", prepare), ("classify", LogisticRegression(max_iter=1000))]).fit(
        frame, label
    )


def one_row(frame: Any) -> dict[str, Any]:
    """The first row as plain Python values, as a caller would write it."""
    return {
        key: value.item() if hasattr(value, "item") else value
        for key, value in frame.iloc[0].items()
    }


def fitted(cfg: dict[str, Any]) -> dict[str, Any]:
    """The data, the fitted model (also pickled to ``cfg["pickle"]``, for the baseline
    without a registry), the row the load case predicts, and its class."""
    import pickle

    import pandas as pd

    frame, label = churn_data(cfg["rows"])
    began = time.perf_counter()
    model = churn_model(frame, label)
    fit_s = time.perf_counter() - began
    with open(cfg["pickle"], "wb") as out:
        pickle.dump(model, out, protocol=pickle.HIGHEST_PROTOCOL)
    row = one_row(frame)
    expected = model.predict(pd.DataFrame([row])).tolist()
    return {"frame": frame, "model": model, "fit_seconds": fit_s, "row": row, "expected": expected}


def time_calls(call: Callable[[str], int], repeats: int) -> dict[str, Any]:
    """``call(WARMUP)`` timed as the first call, then ``repeats`` timed ``call(MODEL)``."""
    began = time.perf_counter()
    call(WARMUP)
    first_s = time.perf_counter() - began
    times, versions = [], []
    for _ in range(repeats):
        began = time.perf_counter()
        versions.append(call(MODEL))
        times.append(time.perf_counter() - began)
    return {"first_seconds": first_s, "times": times, "versions": versions}


# ---------------------------------------------------------------------------------------
# Workers: loopml's venv (LOOPML_HOME set) and the peer venv (MLFLOW_TRACKING_URI set)
# ---------------------------------------------------------------------------------------


def worker_loopml_register(cfg: dict[str, Any]) -> dict[str, Any]:
    made = fitted(cfg)
    model, example = made["model"], made["frame"][: cfg["example_rows"]]
    began = time.perf_counter()
    import loopml

    import_s = time.perf_counter() - began
    info: Any = None

    def log_and_register(name: str) -> int:
        nonlocal info
        with loopml.start_run():
            info = loopml.log_model(model, input_example=example)
            version = loopml.register(info, name)
        return int(version.version)

    timed = time_calls(log_and_register, cfg["register_repeats"])
    loopml.registry.set_alias(loopml.default_store(), MODEL, ALIAS, 1)
    return {
        **timed,
        "import_seconds": import_s,
        "fit_seconds": made["fit_seconds"],
        "requirements": list(info.requirements),
        "files": sorted(info.manifest["files"]),
        "row": made["row"],
        "expected": made["expected"],
    }


def worker_mlflow_register(cfg: dict[str, Any]) -> dict[str, Any]:
    import logging
    import warnings

    made = fitted(cfg)
    model, example = made["model"], made["frame"][: cfg["example_rows"]]
    began = time.perf_counter()
    import mlflow
    import mlflow.sklearn
    from mlflow import MlflowClient

    import_s = time.perf_counter() - began
    # Its schema hints (integer columns) and registration notes, once per call, are noise
    # in the worker's log; the work is the same with them silenced.
    warnings.simplefilter("ignore")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    began = time.perf_counter()
    client = MlflowClient()  # creates and migrates the database: set-up
    client.search_experiments()
    setup_s = time.perf_counter() - began
    info: Any = None

    def log_and_register(name: str) -> int:
        nonlocal info
        with mlflow.start_run():
            info = mlflow.sklearn.log_model(
                model, name="model", input_example=example, registered_model_name=name
            )
        return int(info.registered_model_version)

    timed = time_calls(log_and_register, cfg["register_repeats"])
    client.set_registered_model_alias(MODEL, ALIAS, "1")
    folder = Path(mlflow.artifacts.download_artifacts(info.model_uri))
    found = folder / "requirements.txt"
    text = found.read_text() if found.is_file() else ""
    return {
        **timed,
        "import_seconds": import_s,
        "setup_seconds": setup_s,
        "fit_seconds": made["fit_seconds"],
        "requirements": [line.strip() for line in text.splitlines() if line.strip()],
        "files": sorted(path.name for path in folder.iterdir()),
        "row": made["row"],
        "expected": made["expected"],
    }


WORKERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "loopml-register": worker_loopml_register,
    "mlflow-register": worker_mlflow_register,
}


def worker_main(case: str, config: str) -> None:
    send_result(WORKERS[case](json.loads(config)))


# ---------------------------------------------------------------------------------------
# Parent: the peer venv, the load commands, the requirement lists
# ---------------------------------------------------------------------------------------


def installed(distribution: str) -> str | None:
    """The version of ``distribution`` in this (loopml's) venv."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def ensure_peer() -> dict[str, str | None]:
    """mlflow==3.17.2 and loopml's scikit-learn in the peer venv; both venvs' versions
    of the model's libraries."""
    sklearn = installed("scikit-learn")
    if sklearn is None:
        raise BenchmarkError("loopml's venv has no scikit-learn: pip install -e '.[models]'")
    try:
        ensure_peer_mlflow()
        ensure_peer_package(
            "scikit-learn",
            f"scikit-learn=={sklearn}",
            accepts=lambda version: version == sklearn,
            wanted=f"scikit-learn {sklearn}, as in loopml's venv",
        )
    except subprocess.CalledProcessError as exc:
        raise BenchmarkError(f"could not set up the peer venv: {' '.join(exc.cmd)}") from exc
    return {
        **{f"loopml:{name}": installed(name) for name in MODEL_LIBRARIES},
        **{f"mlflow:{name}": peer_version(name) for name in MODEL_LIBRARIES},
    }


def peer_command(case: str, cfg: dict[str, Any]) -> list[str]:
    """This file run by the peer venv's Python as the worker of ``case``."""
    return [
        str(PEER_PYTHON),
        str(Path(__file__).resolve()),
        "--worker",
        case,
        "--config",
        json.dumps(cfg),
    ]


def load_commands(row: dict[str, Any], homes: dict[str, Path]) -> dict[str, tuple[str, str]]:
    """key -> (tool, ``python -c`` code) of the load case and its baselines."""
    uri = f"models:/{MODEL}@{ALIAS}"
    show = f"print({PREDICTION.strip()!r}, model.predict"
    commands = {}
    for tool in ("loopml", "mlflow"):
        commands[f"sklearn.{tool}"] = (tool, "import sklearn")
        commands[f"sklearn_pandas.{tool}"] = (tool, "import sklearn, pandas")
    for tool in ("loopml", "mlflow"):
        plain = str(homes[tool] / PLAIN_PICKLE)
        commands[f"pickle.{tool}"] = (
            tool,
            f"import pickle\nimport pandas as pd\nwith open({plain!r}, 'rb') as file:\n"
            f"    model = pickle.load(file)\n{show}(pd.DataFrame([{row!r}])).tolist())",
        )
    commands["dict.loopml"] = (
        "loopml",
        f"import loopml\nmodel = loopml.load_model({uri!r})\n{show}({row!r}).tolist())",
    )
    commands["frame.loopml"] = (
        "loopml",
        "import pandas as pd\nimport loopml\n"
        f"model = loopml.load_model({uri!r})\n{show}(pd.DataFrame([{row!r}])).tolist())",
    )
    commands["frame.mlflow"] = (
        "mlflow",
        "import pandas as pd\nimport mlflow\n"
        f"model = mlflow.pyfunc.load_model({uri!r})\n{show}(pd.DataFrame([{row!r}])).tolist())",
    )
    return commands


def printed_prediction(output: str) -> list[Any] | None:
    for line in reversed(output.splitlines()):
        if line.startswith(PREDICTION):
            return json.loads(line[len(PREDICTION) :])
    return None


_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(?:==\s*([^\s;#]+))?")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lines: list[str]) -> dict[str, str | None]:
    """canonical name -> pinned version (None when the line pins none)."""
    found: dict[str, str | None] = {}
    for line in lines:
        match = _NAME.match(line)
        if match and not line.lstrip().startswith(("#", "-")):
            found[canonical(match.group(1))] = match.group(2)
    return found


def compare_requirements(
    mlflow_lines: list[str], loopml_lines: list[str], versions: dict[str, str | None]
) -> dict[str, Any]:
    """Each package MLflow lists, its kind, and whether loopml pins the same version."""
    ours, theirs = pins(loopml_lines), pins(mlflow_lines)
    entries = []
    for name, version in theirs.items():
        if name in MLFLOW_RUNTIME:
            kind = "MLflow runtime"
        elif name in MLFLOW_FORMAT:
            kind = "MLflow format"
        else:
            kind = "model"
        pinned = ours.get(name)
        here, there = versions.get(f"loopml:{name}"), versions.get(f"mlflow:{name}")
        venvs_differ = here is not None and there is not None and here != there
        same = pinned is not None and pinned == (here if venvs_differ else version)
        entries.append(
            {
                "package": name,
                "kind": kind,
                "mlflow": version,
                "loopml": pinned,
                "venvs_differ": venvs_differ,
                "same": same,
            }
        )
    model = [entry for entry in entries if entry["kind"] == "model"]
    return {
        "entries": entries,
        "model_total": len(model),
        "model_same": sum(entry["same"] for entry in model),
        "only_loopml": [f"{n}=={v}" if v else n for n, v in ours.items() if n not in theirs],
    }


# ---------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------


class Bench:
    """Runs the timed processes one at a time, each after waiting for a quiet machine, and
    remembers every figure and every failed check."""

    def __init__(self, sizes: dict[str, Any], work: Path, progress: Any, console: Any) -> None:
        self.sizes = sizes
        self.work = work
        self.progress = progress
        self.console = console
        self.raw: dict[str, Any] = {"cases": {}, "checks": {}}
        self.problems: list[str] = []
        self.load_waits: list[dict[str, Any]] = []
        self.homes: dict[str, Path] = {}

    def env(self, tool: str) -> dict[str, str]:
        home = self.homes[tool]
        if tool == "loopml":
            return loopml_env(home, "MLFLOW_")
        return {
            **tool_env("mlflow", home),
            "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}",
        }

    def timed(self, key: str, label: str, command: list[str], tool: str) -> dict[str, Any]:
        task = self.progress.add_task(label, total=1)
        quiet = wait_for_quiet(
            self.sizes["max_wait"],
            progress=self.progress,
            task=task,
            label=label,
            console=self.console,
        )
        count = len(self.raw["cases"].get(key, []))
        log = self.work / "logs" / f"{key}-{count}.log"
        result = run_timed(command, cwd=self.homes[tool], env=self.env(tool), log=log)
        self.load_waits.append({"case": key, **quiet})
        self.progress.update(task, completed=1)
        kept = {k: v for k, v in result.items() if k != "output"}
        self.raw["cases"].setdefault(key, []).append({**kept, "load": quiet})
        return result

    def check(self, key: str, ok: bool, what: str) -> bool:
        self.raw["checks"].setdefault(key, []).append({"ok": ok, "what": what})
        if not ok:
            self.problems.append(f"{key}: {what}")
        return ok

    def stores(self) -> None:
        """An empty folder per tool; loopml's made a project with ``loopml init``."""
        for tool in ("loopml", "mlflow"):
            home = self.work / tool
            home.mkdir()
            self.homes[tool] = home
        quiet_run([str(LOOPML), "init"], cwd=self.homes["loopml"], env=self.env("loopml"))

    def run_register(self) -> None:
        sizes = self.sizes
        shared = {key: sizes[key] for key in ("rows", "example_rows", "register_repeats")}
        reps = sizes["register_repeats"]
        for tool in ("loopml", "mlflow"):
            case = f"{tool}-register"
            cfg = {**shared, "pickle": str(self.homes[tool] / PLAIN_PICKLE)}
            if tool == "loopml":
                command = worker_command(__file__, case, cfg)
            else:
                command = peer_command(case, cfg)
            name = "MLflow" if tool == "mlflow" else tool
            result = self.timed(
                f"register.{tool}", f"{name}: log_model + register, 1 + {reps} calls", command, tool
            )["worker"]
            self.raw[f"register.{tool}"] = result
            self.check(
                f"register.{tool}.versions",
                result["versions"] == list(range(1, reps + 1)),
                f"{name} numbered the '{MODEL}' versions {result['versions']}, expected 1-{reps}",
            )
        self.check(
            "requirements.found",
            bool(self.raw["register.mlflow"]["requirements"]),
            "MLflow's requirements.txt was found beside the model and is not empty",
        )

    def run_load(self) -> None:
        reps = self.sizes["load_repeats"]
        row = self.raw["register.loopml"]["row"]
        expected = self.raw["register.loopml"]["expected"]
        self.check(
            "load.same_model",
            self.raw["register.mlflow"]["expected"] == expected,
            "both workers' fitted models predict the same class for the row",
        )
        commands = load_commands(row, self.homes)
        self.raw["load_commands"] = {key: code for key, (_tool, code) in commands.items()}
        for rep in range(reps + 1):
            for key, (tool, code) in commands.items():
                python = sys.executable if tool == "loopml" else str(PEER_PYTHON)
                which = "first" if rep == 0 else f"{rep}/{reps}"
                label = f"new process ({which}): {key.replace('.', ', ')}"
                result = self.timed(f"load.{key}", label, [python, "-c", code], tool)
                if not key.startswith("sklearn"):
                    got = printed_prediction(result["output"])
                    self.check(
                        f"load.{key}",
                        got == expected,
                        f"{key}: printed {got}, the fitted model predicts {expected}",
                    )


# ---------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------


def load_times(raw: dict[str, Any], key: str) -> tuple[float, float]:
    """(first process, median of the rest) of a load command."""
    runs = [run["seconds"] for run in raw["cases"][f"load.{key}"]]
    return runs[0], statistics.median(runs[1:])


def judge(raw: dict[str, Any], versions: dict[str, str | None]) -> list[dict[str, Any]]:
    loop, flow = raw["register.loopml"], raw["register.mlflow"]
    reps = len(loop["times"])
    warm_loop, warm_flow = statistics.median(loop["times"]), statistics.median(flow["times"])
    warm_ratio = warm_flow / warm_loop
    rows: list[dict[str, Any]] = [
        {
            "case": "log_model + register, first call",
            "detail": f"'{WARMUP}', after imports and fit",
            "loopml": loop["first_seconds"],
            "mlflow": flow["first_seconds"],
            "ratio": flow["first_seconds"] / loop["first_seconds"],
            "target": "",
            "passed": None,
        },
        {
            "case": "log_model + register, warm",
            "detail": f"'{MODEL}', median of {reps}",
            "loopml": warm_loop,
            "mlflow": warm_flow,
            "ratio": warm_ratio,
            "target": f"≤ {TARGETS['register_s'] * 1000:g} ms, ≥ {TARGETS['register_ratio']:g}x",
            "passed": warm_loop <= TARGETS["register_s"]
            and warm_ratio >= TARGETS["register_ratio"],
        },
    ]
    compared = compare_requirements(flow["requirements"], loop["requirements"], versions)
    raw["requirements"] = compared
    rows.append(
        {
            "case": "requirements: MLflow's model dependencies",
            "detail": f"{len(compared['entries'])} listed, {compared['model_total']} the model's",
            "loopml": f"{compared['model_same']} of {compared['model_total']} pinned, same version",
            "mlflow": f"{len(flow['requirements'])} lines",
            "ratio": None,
            "target": "all, same version",
            "passed": compared["model_same"] == compared["model_total"],
        }
    )
    sk = load_times(raw, "sklearn.loopml")[1]
    limit = sk + TARGETS["load_over_sklearn_s"]
    for key, label, detail in (
        ("sklearn", "import sklearn", "baseline"),
        ("sklearn_pandas", "import sklearn, pandas", "baseline"),
        ("pickle", "pickle.load + predict 1 row", "the same model, no registry"),
    ):
        repeats = len(raw["cases"][f"load.{key}.loopml"]) - 1
        rows.append(
            {
                "case": f"new process: {label}",
                "detail": f"{detail}; median of {repeats}",
                "loopml": load_times(raw, f"{key}.loopml")[1],
                "mlflow": load_times(raw, f"{key}.mlflow")[1],
                "ratio": None,
                "target": "",
                "passed": None,
            }
        )
    frame_loop, frame_flow = load_times(raw, "frame.loopml")[1], load_times(raw, "frame.mlflow")[1]
    dict_loop = load_times(raw, "dict.loopml")[1]
    target = f"≤ import sklearn + {TARGETS['load_over_sklearn_s']:g} s = {limit:.2f} s"
    rows += [
        {
            "case": f"new process: load {MODEL}@{ALIAS}, predict 1 row",
            "detail": "one-row DataFrame (pandas imported)",
            "loopml": frame_loop,
            "mlflow": frame_flow,
            "ratio": frame_flow / frame_loop,
            "target": target,
            "passed": frame_loop <= limit,
        },
        {
            "case": f"new process: load {MODEL}@{ALIAS}, predict 1 row",
            "detail": "dict row (no pandas import of its own)",
            "loopml": dict_loop,
            "mlflow": None,
            "ratio": frame_flow / dict_loop,
            "target": target,
            "passed": dict_loop <= limit,
        },
    ]
    return rows


def fmt_seconds(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if value < 0.01:
        return f"{value * 1000:,.2f} ms"
    return f"{value * 1000:,.0f} ms" if value < 1 else f"{value:,.2f} s"


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
        ("verdict", "left"),
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
            fmt_seconds(row["loopml"]),
            fmt_seconds(row["mlflow"]),
            "" if row["ratio"] is None else f"{row['ratio']:,.1f}x",
            row["target"],
            verdict,
        )
    console.print(table)


def print_requirements(raw: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    compared = raw["requirements"]
    table = Table(title="MLflow's requirements.txt against loopml's pins", title_justify="left")
    for name in ("package", "kind", "MLflow pins", "loopml pins", "verdict"):
        table.add_column(name)
    for entry in compared["entries"]:
        if entry["kind"] != "model":
            verdict = "not counted"
        elif entry["same"]:
            verdict = "[green]same[/green]" + (" (venvs differ)" if entry["venvs_differ"] else "")
        elif entry["loopml"] is None:
            verdict = "[red]not pinned[/red]"
        else:
            verdict = "[red]other version[/red]"
        table.add_row(
            entry["package"],
            entry["kind"],
            entry["mlflow"] or "(unpinned)",
            entry["loopml"] or "—",
            verdict,
        )
    console.print(table)
    console.print(f"  loopml pins besides: {', '.join(compared['only_loopml']) or 'nothing'}")
    for tool in ("loopml", "mlflow"):
        files = raw[f"register.{tool}"]["files"]
        console.print(f"  files of {tool}'s model: {', '.join(files)}")


def print_notes(raw: dict[str, Any], console: Any) -> None:
    say = console.print
    say(
        "  ratio: MLflow's time / loopml's (above 1: loopml is faster); the dict row's ratio "
        "is against MLflow's DataFrame process"
    )
    for tool in ("loopml", "mlflow"):
        data = raw[f"register.{tool}"]
        times = data["times"]
        extra = (
            f", database set-up {fmt_seconds(data['setup_seconds'])}" if tool == "mlflow" else ""
        )
        say(
            f"  register {tool:<6}: import {fmt_seconds(data['import_seconds'])}, fit "
            f"{fmt_seconds(data['fit_seconds'])}{extra} (untimed); warm calls min "
            f"{fmt_seconds(min(times))}, max {fmt_seconds(max(times))}"
        )
    parts = []
    for key in ("dict.loopml", "frame.loopml", "frame.mlflow"):
        first, _median = load_times(raw, key)
        parts.append(f"{key} {fmt_seconds(first)}")
    say(f"  first load process of each (not in the medians): {', '.join(parts)}")
    say(
        f"  MLflow's load-and-predict process as the issue measured it: "
        f"{MLFLOW_QUOTED_LOAD_S:.2f} s"
    )
    waits = raw["load_waits"]
    gave_up = sorted({w["case"] for w in waits if w["gave_up"]})
    say(
        f"  load average before the timed processes: {min(w['load'] for w in waits):.2f} to "
        f"{max(w['load'] for w in waits):.2f} (limit {LOAD_LIMIT}); waited "
        f"{sum(w['waited'] for w in waits):.0f} s in all"
        + (f"; gave up waiting before: {', '.join(gave_up)}" if gave_up else "")
    )


def parent_main(args: argparse.Namespace) -> int:
    console = report_console()
    sizes = dict(QUICK if args.quick else FULL)
    if args.max_wait is not None:
        sizes["max_wait"] = args.max_wait
    if not LOOPML.exists():
        raise BenchmarkError(f"no loopml command at {LOOPML}: run this with loopml's venv")
    versions = ensure_peer()

    load_at_start = os.getloadavg()
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="loopml-bench-registry-") as tmp,
        progress_display(console) as progress,
    ):
        work = Path(tmp)
        (work / "logs").mkdir()
        bench = Bench(sizes, work, progress, console)
        bench.stores()
        bench.run_register()
        bench.run_load()
        bench.raw["load_waits"] = bench.load_waits
        raw, problems = bench.raw, bench.problems

    rows = judge(raw, versions)
    mode = "quick smoke run" if args.quick else "full run"
    title = f"loopml {loopml_version()} registry vs MLflow {MLFLOW_VERSION} on SQLite ({mode})"
    console.print()
    print_table(rows, console, title)
    print_requirements(raw, console)
    print_notes(raw, console)
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
    return finish(report, "registry", console)


def main(argv: list[str] | None = None) -> int:
    parser = script_parser(
        __doc__,
        list(WORKERS),
        quick_help="fewer repetitions, short waits",
        default_wait="default 300, 5 with --quick",
    )
    return dispatch(parser.parse_args(argv), worker_main, parent_main)


if __name__ == "__main__":
    sys.exit(main())

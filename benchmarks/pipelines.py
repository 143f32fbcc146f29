"""Pipelines, loopml against DVC 3 (``dvc repro``) and plain Python calls, side by side.

Run it from loopml's venv::

    .venv/bin/python benchmarks/pipelines.py            # full run: 1-2 minutes
    .venv/bin/python benchmarks/pipelines.py --quick    # fewer repetitions, short waits

DVC lives in its own venv, ``benchmarks/.venv-peers`` (shared with the other benchmarks;
created when missing, and ``dvc>=3.50,<4`` installed there when it holds no DVC 3). This
file is also the worker of the in-process cases (``--worker CASE``). Every timed case
runs in a fresh process, one after the other and never two at the same time.

The pipeline is a linear chain of small-DataFrame steps, the same for both tools:
``s01`` makes a 100 × 5 float frame from a seeded generator, and every later step ``sNN``
takes the previous frame, copies it, rewrites one column (``c * 1.01 + constant``) and
returns it. For loopml the steps are ``@loopml.step`` functions in one file, wired by a
``@loopml.pipeline`` function, in a folder made with ``loopml init``. For DVC each step is
a script ``stages/sNN.py`` that reads ``out/s(NN-1).parquet`` with pandas and writes
``out/sNN.parquet``, and a stage in ``dvc.yaml`` depending on its script and the previous
output, in a scratch ``git init && dvc init`` repository with DVC's default cache. The
stage scripts run with loopml's interpreter, so both tools use the same pandas and
pyarrow; DVC starts one Python process per stage, as it always does.

Cases (sizes of a full run; ``--quick`` keeps the sizes and repeats less):

``cached`` (target: at most 0.5 s of overhead)
    In a fresh process: ``loopml.pipelines.run(FILE)`` of the 10-step chain once to fill
    the cache, then 15 more runs in which every step is reused. The figure is the median
    wall time of a cached run: everything it costs is overhead, since the plain-call
    equivalent of reused work is nothing (the 10 functions called directly are shown
    beside it for scale). The first cached run of another new process (code fingerprints
    not yet in memory) is reported below the table.
``cached-cli``
    The same, as a user types it: ``loopml pipeline run chain.py`` in a new process (wall
    time with interpreter start-up and imports; median of 5) against ``dvc repro`` with
    every stage unchanged. No target; ratio DVC / loopml.
``first-cli``
    The first full run in a fresh store / repository: ``loopml pipeline run chain.py``
    against ``dvc repro`` (median of 3, each in a new store and repository).
``edit-cli``
    The constant of step ``s06`` is changed (in its function for loopml, in its stage
    script for DVC); both re-run ``s06``-``s10`` and reuse ``s01``-``s05`` (median of 3,
    a different new constant each time).
``edges`` (target: at most 20 ms per edge)
    In a fresh process: a chain of 21 steps (20 edges, each passing a 100 × 5 DataFrame)
    run with ``cache=False`` (one warm-up, then the median of 7), against the same 21
    functions called as plain Python calls. Per-edge overhead = (pipeline wall time -
    plain calls) / edges; everything a run costs beyond the calls, including recording
    the run, is charged to the edges.

Load: each tool's code is warmed by an untimed ``--version`` at the start; then, before
every timed process, the script waits until the 1-minute load average is below 1.0 (up
to 5 minutes, 5 s in ``--quick``, warning when it gives up). A cProfile of one cached
in-process run (not timed) is printed below the table: the loopml functions with the
most cumulative time and the functions with the most own time. It starts after a
``gc.collect()`` and times any garbage collection during it apart, since a full pass
(tens of ms with pandas loaded) shows up as the own time of whatever function allocated.

Checks that make the run fail (exit status 2) whatever the timings: every step of a
first run ran (loopml: COMPLETED; DVC: "Running stage" for each); every step of a cached
loopml run is CACHED and DVC's cached repro ran no stage and says the pipeline is up to
date; after an edit loopml re-ran exactly ``s06``-``s10`` (COMPLETED) and reused the
rest (CACHED), and DVC ran exactly those stages; loopml's last output and DVC's last
parquet file hold the same frame after every run; the ``cache=False`` runs return the
same frame as the plain calls. A missed target makes a full run exit with status 1.
Results are printed as a table and written to ``benchmarks/results/pipelines.json``
(``pipelines-quick.json`` for ``--quick``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _harness import (
    DVC,
    LOAD_LIMIT,
    LOOPML,
    BenchmarkError,
    base_env,
    dispatch,
    dvc_env,
    ensure_peer_dvc,
    finish,
    init_dvc_repo,
    loopml_env,
    loopml_version,
    progress_display,
    provenance,
    quiet_run,
    report_console,
    run_timed,
    script_parser,
    send_result,
    wait_for_quiet,
    warm_timings,
    worker_command,
    worker_result,
)

SEED = 20261126
PIPELINE = "chain"

FULL = {
    "steps": 10,
    "rows": 100,
    "cols": 5,
    "edges": 20,
    "edit_step": 6,
    "cached_repeats": 15,
    "edge_repeats": 7,
    "cli_repeats": 5,
    "first_repeats": 3,
    "edit_repeats": 3,
    "max_wait": 300.0,
}
QUICK = {
    **FULL,
    "cached_repeats": 5,
    "edge_repeats": 3,
    "cli_repeats": 2,
    "first_repeats": 1,
    "edit_repeats": 1,
    "max_wait": 5.0,
}

TARGETS = {"cached_s": 0.5, "edge_s": 0.020}


# ---------------------------------------------------------------------------------------
# The pipeline, written out for each tool
# ---------------------------------------------------------------------------------------


def column(index: int, cols: int) -> str:
    """The column step ``index`` (2, 3, ...) rewrites."""
    return f"c{(index - 2) % cols}"


def loopml_source(steps: int, rows: int, cols: int, constants: dict[int, float]) -> str:
    """A pipeline file: ``s01`` makes the frame, ``s02``... each rewrite one column."""
    parts = [
        f'"""A {steps}-step chain for benchmarks/pipelines.py."""',
        "",
        "import numpy as np",
        "import pandas as pd",
        "",
        "import loopml",
        "",
        "",
        "@loopml.step",
        "def s01(rows: int, cols: int) -> pd.DataFrame:",
        f"    rng = np.random.default_rng({SEED})",
        "    values = rng.normal(size=(rows, cols))",
        '    return pd.DataFrame(values, columns=[f"c{j}" for j in range(cols)])',
    ]
    for index in range(2, steps + 1):
        name = column(index, cols)
        parts += [
            "",
            "",
            "@loopml.step",
            f"def s{index:02d}(frame: pd.DataFrame) -> pd.DataFrame:",
            "    out = frame.copy()",
            f'    out["{name}"] = out["{name}"] * 1.01 + {constants[index]!r}',
            "    return out",
        ]
    parts += [
        "",
        "",
        "@loopml.pipeline",
        f"def {PIPELINE}(rows: int = {rows}, cols: int = {cols}):",
        "    frame = s01(rows, cols)",
    ]
    parts += [f"    frame = s{index:02d}(frame)" for index in range(2, steps + 1)]
    return "\n".join(parts) + "\n"


def dvc_stage_source(index: int, rows: int, cols: int, constant: float) -> str:
    """``stages/sNN.py``: the same work as loopml's ``sNN``, through parquet files."""
    if index == 1:
        return "\n".join(
            [
                "import numpy as np",
                "import pandas as pd",
                "",
                f"rng = np.random.default_rng({SEED})",
                f"values = rng.normal(size=({rows}, {cols}))",
                f'frame = pd.DataFrame(values, columns=[f"c{{j}}" for j in range({cols})])',
                'frame.to_parquet("out/s01.parquet")',
                "",
            ]
        )
    name = column(index, cols)
    return "\n".join(
        [
            "import pandas as pd",
            "",
            f'frame = pd.read_parquet("out/s{index - 1:02d}.parquet")',
            "out = frame.copy()",
            f'out["{name}"] = out["{name}"] * 1.01 + {constant!r}',
            f'out.to_parquet("out/s{index:02d}.parquet")',
            "",
        ]
    )


def dvc_yaml(steps: int) -> str:
    lines = ["stages:"]
    for index in range(1, steps + 1):
        deps = [f"stages/s{index:02d}.py"]
        if index > 1:
            deps.append(f"out/s{index - 1:02d}.parquet")
        lines += [
            f"  s{index:02d}:",
            f"    cmd: {sys.executable} stages/s{index:02d}.py",
            f"    deps: [{', '.join(deps)}]",
            f"    outs: [out/s{index:02d}.parquet]",
        ]
    return "\n".join(lines) + "\n"


def initial_constants(steps: int) -> dict[int, float]:
    return {index: float(index) for index in range(2, steps + 1)}


def frame_digest(frame: Any) -> str:
    """One hash of a frame's columns, index and values (equal frames, equal digests)."""
    import hashlib

    import pandas as pd

    hasher = hashlib.sha256(json.dumps([str(c) for c in frame.columns]).encode())
    hasher.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return hasher.hexdigest()


# ---------------------------------------------------------------------------------------
# Workers (loopml's venv; LOOPML_HOME set by the parent)
# ---------------------------------------------------------------------------------------


def statuses(run: Any) -> dict[str, str]:
    return {step.name: step.status for step in run.steps}


def plain_calls(pipeline: Any, steps: int, rows: int, cols: int) -> Any:
    """The pipeline's functions called one after the other, as plain Python."""
    module = sys.modules[pipeline.func.__module__]
    frame = module.s01.func(rows, cols)
    for index in range(2, steps + 1):
        frame = getattr(module, f"s{index:02d}").func(frame)
    return frame


def time_plain(pipeline: Any, cfg: dict[str, Any], repeats: int) -> tuple[list[float], Any]:
    plain_calls(pipeline, cfg["steps"], cfg["rows"], cfg["cols"])  # warm-up
    times, frame = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        frame = plain_calls(pipeline, cfg["steps"], cfg["rows"], cfg["cols"])
        times.append(time.perf_counter() - start)
    return times, frame


def time_runs(cfg: dict[str, Any], **options: Any) -> dict[str, Any]:
    """``repeats`` runs of the pipeline file (``loopml.pipelines.run(file, **options)``)
    against as many plain calls: the seconds and step statuses of each run, and digests of
    the last run's output and the plain calls' result."""
    import loopml.pipelines

    seconds, runs = [], []
    for _ in range(cfg["repeats"]):
        began = time.perf_counter()
        run = loopml.pipelines.run(cfg["file"], **options)
        seconds.append(time.perf_counter() - began)
        runs.append(statuses(run))
    last = f"s{cfg['steps']:02d}"
    plain_s, plain_frame = time_plain(loopml.pipelines.load(cfg["file"]), cfg, cfg["repeats"])
    return {
        "seconds": seconds,
        "statuses": runs,
        "plain_seconds": plain_s,
        "output_digest": frame_digest(loopml.pipelines.output(run.id, last)),
        "plain_digest": frame_digest(plain_frame),
    }


def worker_cached(cfg: dict[str, Any]) -> dict[str, Any]:
    """One run to fill the cache, then ``repeats`` fully cached runs in this process."""
    start = time.perf_counter()
    import loopml.pipelines

    imported = time.perf_counter()
    first = loopml.pipelines.run(cfg["file"])
    first_s = time.perf_counter() - imported
    return {
        "import_seconds": imported - start,
        "first_seconds": first_s,
        "first_statuses": statuses(first),
        **time_runs(cfg),
    }


def worker_cached_cold(cfg: dict[str, Any]) -> dict[str, Any]:
    """One cached run in a new process: imports and code fingerprints not yet done."""
    start = time.perf_counter()
    import loopml.pipelines

    imported = time.perf_counter()
    run = loopml.pipelines.run(cfg["file"])
    ran = time.perf_counter()
    again = loopml.pipelines.run(cfg["file"])
    return {
        "import_seconds": imported - start,
        "seconds": ran - imported,
        "second_seconds": time.perf_counter() - ran,
        "statuses": [statuses(run), statuses(again)],
    }


def worker_edges(cfg: dict[str, Any]) -> dict[str, Any]:
    """``cache=False`` runs of the long chain against the same functions called plainly."""
    import loopml.pipelines

    warm = loopml.pipelines.run(cfg["file"], cache=False)
    return {"warm_statuses": statuses(warm), **time_runs(cfg, cache=False)}


def worker_inspect(cfg: dict[str, Any]) -> dict[str, Any]:
    """The latest run of the pipeline: id, step statuses, the last step's output digest."""
    import loopml.pipelines

    runs = loopml.pipelines.list_runs(PIPELINE, limit=1)
    if not runs:
        return {"id": None, "statuses": {}, "output_digest": None}
    run = runs[0]
    return {
        "id": run.id,
        "statuses": statuses(run),
        "output_digest": frame_digest(loopml.pipelines.output(run.id, cfg["last"])),
    }


def worker_profile(cfg: dict[str, Any]) -> dict[str, Any]:
    """cProfile of one fully cached run, after one to fill the cache and one warm run."""
    import cProfile
    import gc
    import pstats

    import loopml.pipelines

    loopml.pipelines.run(cfg["file"])
    loopml.pipelines.run(cfg["file"])
    # A full garbage collection (tens of ms once pandas is loaded) lands in whichever
    # function allocates when it falls due; it is collected first and its passes during
    # the profiled run are timed on their own, so they are not read as that function's.
    gc.collect()
    passes: list[float] = []
    began_pass: list[float] = []

    def on_gc(phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            began_pass.append(time.perf_counter())
        elif began_pass:
            passes.append(time.perf_counter() - began_pass.pop())

    profiler = cProfile.Profile()
    gc.callbacks.append(on_gc)
    began = time.perf_counter()
    profiler.enable()
    run = loopml.pipelines.run(cfg["file"])
    profiler.disable()
    seconds = time.perf_counter() - began
    gc.callbacks.remove(on_gc)
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    package = str(Path(loopml.__file__).resolve().parent)
    entries = []
    for (file, line, func), (_cc, calls, own, cumulative, _callers) in stats.items():
        in_loopml = file.startswith(package)
        shown = Path(file).relative_to(package).as_posix() if in_loopml else file
        if "site-packages/" in shown:
            shown = shown.split("site-packages/", 1)[1]
        if line:
            shown = f"{shown}:{line}"
        entries.append(
            {
                "where": f"{shown}({func})",
                "loopml": in_loopml,
                "calls": calls,
                "own": own,
                "cumulative": cumulative,
            }
        )
    ours = [entry for entry in entries if entry["loopml"]]
    return {
        "seconds": seconds,
        "gc_passes": len(passes),
        "gc_seconds": sum(passes),
        "statuses": statuses(run),
        "top_loopml": sorted(ours, key=lambda e: -e["cumulative"])[:10],
        "top_own": sorted(entries, key=lambda e: -e["own"])[:10],
    }


WORKERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "cached": worker_cached,
    "cached-cold": worker_cached_cold,
    "edges": worker_edges,
    "inspect": worker_inspect,
    "profile": worker_profile,
}


def worker_main(case: str, config: str) -> None:
    send_result(WORKERS[case](json.loads(config)))


# ---------------------------------------------------------------------------------------
# Parent: reading DVC's output
# ---------------------------------------------------------------------------------------


def ran_stages(output: str) -> list[str]:
    """The stages ``dvc repro`` says it ran."""
    return sorted(re.findall(r"Running stage '([^']+)'", output))


def step_names(first: int, last: int) -> list[str]:
    return [f"s{index:02d}" for index in range(first, last + 1)]


# ---------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------


class Bench:
    """Runs the timed cases one at a time, each after waiting for a quiet machine, and
    remembers every figure and every failed check."""

    def __init__(self, sizes: dict[str, Any], work: Path, progress: Any, console: Any) -> None:
        self.sizes = sizes
        self.work = work
        self.progress = progress
        self.console = console
        self.raw: dict[str, Any] = {"cases": {}, "checks": {}}
        self.problems: list[str] = []
        self.load_waits: list[dict[str, Any]] = []
        self.constants = initial_constants(sizes["steps"])

    # --- running one timed process ---

    def timed(
        self, key: str, label: str, command: list[str], *, cwd: Path, env: dict[str, str]
    ) -> dict[str, Any]:
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
        result = run_timed(command, cwd=cwd, env=env, log=log)
        self.load_waits.append({"case": key, **quiet})
        self.progress.update(task, completed=1)
        kept = {k: v for k, v in result.items() if k != "output"}
        self.raw["cases"].setdefault(key, []).append({**kept, "load": quiet})
        return result

    def worker(self, key: str, label: str, case: str, cfg: dict[str, Any], *, project: Path):
        command = worker_command(__file__, case, cfg)
        env = loopml_env(project, "DVC_")
        return self.timed(key, label, command, cwd=project, env=env)["worker"]

    def untimed_worker(self, case: str, cfg: dict[str, Any], *, project: Path) -> dict[str, Any]:
        command = worker_command(__file__, case, cfg)
        result = worker_result(quiet_run(command, cwd=project, env=loopml_env(project, "DVC_")))
        if result is None:
            raise BenchmarkError(f"worker {case} sent no result")
        return result

    def check(self, key: str, ok: bool, what: str) -> bool:
        self.raw["checks"].setdefault(key, []).append({"ok": ok, "what": what})
        if not ok:
            self.problems.append(f"{key}: {what}")
        return ok

    # --- set-up ---

    def loopml_project(self, name: str, steps: int) -> Path:
        """A folder made with ``loopml init``, holding ``chain.py`` with ``steps`` steps."""
        project = self.work / name
        project.mkdir()
        quiet_run(["git", "init", "-q"], cwd=project, env=base_env("DVC_"))
        quiet_run([str(LOOPML), "init"], cwd=project, env=loopml_env(project, "DVC_"))
        self.write_loopml(project, steps, initial_constants(steps))
        return project

    def write_loopml(self, project: Path, steps: int, constants: dict[int, float]) -> None:
        source = loopml_source(steps, self.sizes["rows"], self.sizes["cols"], constants)
        (project / "chain.py").write_text(source)

    def dvc_repo(self, name: str) -> Path:
        """A scratch ``git init && dvc init`` repository with the stages and ``dvc.yaml``."""
        repo = self.work / name
        init_dvc_repo(repo)
        (repo / "stages").mkdir()
        (repo / "out").mkdir()
        steps = self.sizes["steps"]
        for index in range(1, steps + 1):
            self.write_stage(repo, index, self.constants.get(index, 0.0))
        (repo / "dvc.yaml").write_text(dvc_yaml(steps))
        return repo

    def write_stage(self, repo: Path, index: int, constant: float) -> None:
        source = dvc_stage_source(index, self.sizes["rows"], self.sizes["cols"], constant)
        (repo / "stages" / f"s{index:02d}.py").write_text(source)

    # --- checks after a CLI run ---

    def inspect_loopml(self, project: Path) -> dict[str, Any]:
        return self.untimed_worker(
            "inspect", {"last": f"s{self.sizes['steps']:02d}"}, project=project
        )

    def dvc_digest(self, repo: Path) -> str:
        import pandas as pd

        return frame_digest(pd.read_parquet(repo / "out" / f"s{self.sizes['steps']:02d}.parquet"))

    def check_pair(
        self,
        key: str,
        project: Path,
        repo: Path,
        cli: dict[str, Any],
        dvc: dict[str, Any],
        expect_ran: list[str],
    ) -> None:
        """loopml ran exactly ``expect_ran`` and reused the rest, DVC ran exactly those
        stages, and both end with the same frame."""
        every = step_names(1, self.sizes["steps"])
        found = self.inspect_loopml(project)
        expected = {name: "COMPLETED" if name in expect_ran else "CACHED" for name in every}
        self.check(
            f"{key}.loopml",
            found["statuses"] == expected and (found["id"] or "?")[:8] in cli["output"],
            f"loopml: {self.describe(expect_ran, every)}; got {found['statuses']}",
        )
        stages = ran_stages(dvc["output"])
        up_to_date = "Data and pipelines are up to date" in dvc["output"]
        self.check(
            f"{key}.dvc",
            stages == expect_ran and (up_to_date or bool(expect_ran)),
            f"dvc repro: ran {stages or 'nothing'}, expected {expect_ran or 'nothing'}"
            + ("" if expect_ran or up_to_date else " and 'Data and pipelines are up to date'"),
        )
        digest = self.dvc_digest(repo)
        self.check(
            f"{key}.same_output",
            found["output_digest"] == digest,
            "loopml's last output equals DVC's last parquet file",
        )

    @staticmethod
    def describe(ran: list[str], every: list[str]) -> str:
        if not ran:
            return "every step CACHED"
        if ran == every:
            return "every step COMPLETED"
        return f"{ran[0]}-{ran[-1]} COMPLETED, the rest CACHED"

    # --- the cases ---

    def run_in_process(self) -> None:
        sizes = self.sizes
        steps, repeats = sizes["steps"], sizes["cached_repeats"]
        project = self.loopml_project("loopml-cached", steps)
        cfg = {
            "file": str(project / "chain.py"),
            "steps": steps,
            "rows": sizes["rows"],
            "cols": sizes["cols"],
            "repeats": repeats,
        }
        cached = self.worker(
            "cached",
            f"in-process: {steps} steps, 1 run then {repeats} cached runs",
            "cached",
            cfg,
            project=project,
        )
        every = step_names(1, steps)
        self.check(
            "cached.first",
            cached["first_statuses"] == dict.fromkeys(every, "COMPLETED"),
            f"first in-process run: every step COMPLETED; got {cached['first_statuses']}",
        )
        self.check(
            "cached.statuses",
            all(run == dict.fromkeys(every, "CACHED") for run in cached["statuses"]),
            f"{repeats} cached in-process runs: every step CACHED",
        )
        self.check(
            "cached.output",
            cached["output_digest"] == cached["plain_digest"],
            "the cached run's last output equals the plain calls' result",
        )
        cold = self.worker(
            "cached_cold",
            "in-process: first cached run of a new process",
            "cached-cold",
            cfg,
            project=project,
        )
        self.check(
            "cached_cold.statuses",
            all(run == dict.fromkeys(every, "CACHED") for run in cold["statuses"]),
            "cached runs in a new process: every step CACHED",
        )

        edges = sizes["edges"]
        chain = self.loopml_project("loopml-edges", edges + 1)
        cfg = {
            "file": str(chain / "chain.py"),
            "steps": edges + 1,
            "rows": sizes["rows"],
            "cols": sizes["cols"],
            "repeats": sizes["edge_repeats"],
        }
        result = self.worker(
            "edges",
            f"in-process: {edges + 1} steps with cache=False vs plain calls",
            "edges",
            cfg,
            project=chain,
        )
        every = step_names(1, edges + 1)
        completed = dict.fromkeys(every, "COMPLETED")
        self.check(
            "edges.statuses",
            result["warm_statuses"] == completed
            and all(run == completed for run in result["statuses"]),
            "cache=False runs: every step COMPLETED",
        )
        self.check(
            "edges.output",
            result["output_digest"] == result["plain_digest"],
            "the cache=False run's last output equals the plain calls' result",
        )
        self.raw["profile"] = self.untimed_worker(
            "profile", {"file": str(project / "chain.py")}, project=project
        )

    def run_cli(self) -> None:
        sizes = self.sizes
        steps = sizes["steps"]
        every = step_names(1, steps)
        loopml_run = [str(LOOPML), "pipeline", "run", "chain.py"]
        dvc_repro = [str(DVC), "repro"]
        project = repo = self.work
        for rep in range(sizes["first_repeats"]):
            project = self.loopml_project(f"loopml-cli-{rep}", steps)
            repo = self.dvc_repo(f"dvc-{rep}")
            cli = self.timed(
                "first.loopml",
                "first run: loopml pipeline run",
                loopml_run,
                cwd=project,
                env=loopml_env(project, "DVC_"),
            )
            dvc = self.timed(
                "first.dvc", "first run: dvc repro", dvc_repro, cwd=repo, env=dvc_env(self.work)
            )
            self.check_pair("first", project, repo, cli, dvc, every)

        for _rep in range(sizes["cli_repeats"]):
            cli = self.timed(
                "cached.loopml",
                "cached: loopml pipeline run",
                loopml_run,
                cwd=project,
                env=loopml_env(project, "DVC_"),
            )
            dvc = self.timed(
                "cached.dvc", "cached: dvc repro", dvc_repro, cwd=repo, env=dvc_env(self.work)
            )
            self.check_pair("cached_cli", project, repo, cli, dvc, [])

        edited = sizes["edit_step"]
        for rep in range(sizes["edit_repeats"]):
            self.constants[edited] = edited + 0.5 * (rep + 1)
            self.write_loopml(project, steps, self.constants)
            self.write_stage(repo, edited, self.constants[edited])
            cli = self.timed(
                "edit.loopml",
                f"s{edited:02d} edited: loopml pipeline run",
                loopml_run,
                cwd=project,
                env=loopml_env(project, "DVC_"),
            )
            dvc = self.timed(
                "edit.dvc",
                f"s{edited:02d} edited: dvc repro",
                dvc_repro,
                cwd=repo,
                env=dvc_env(self.work),
            )
            self.check_pair("edit", project, repo, cli, dvc, step_names(edited, steps))

    def startup(self) -> None:
        """Warm each tool's code with one ``--version``, then the median of 3 more; the
        same for the imports every DVC stage process pays."""
        out: dict[str, float] = {}
        for tool, command, env in (
            ("loopml", [str(LOOPML), "--version"], loopml_env(self.work, "DVC_")),
            ("dvc", [str(DVC), "--version"], dvc_env(self.work)),
            (
                "stage_imports",
                [sys.executable, "-c", "import pandas, pyarrow.parquet"],
                base_env("DVC_"),
            ),
        ):
            times = warm_timings(command, cwd=self.work, env=env, reps=3)
            out[tool] = statistics.median(times)
        self.raw["startup"] = out


# ---------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------


def median_of(raw: dict[str, Any], key: str) -> float:
    return statistics.median(case["seconds"] for case in raw["cases"][key])


def judge(raw: dict[str, Any], sizes: dict[str, Any], dvc_version: str) -> list[dict[str, Any]]:
    cases, checks = raw["cases"], raw["checks"]

    def ok(*keys: str) -> str:
        passed = all(item["ok"] for key in keys for item in checks.get(key, []))
        return "passed" if passed else "FAILED (see below)"

    steps, edges = sizes["steps"], sizes["edges"]
    cached = cases["cached"][0]["worker"]
    cached_s = statistics.median(cached["seconds"])
    plain_s = statistics.median(cached["plain_seconds"])
    edge = cases["edges"][0]["worker"]
    edge_run = statistics.median(edge["seconds"])
    edge_plain = statistics.median(edge["plain_seconds"])
    per_edge = (edge_run - edge_plain) / edges
    rows = [
        {
            "case": f"{steps} steps, all cached, in-process",
            "detail": f"median of {len(cached['seconds'])} runs",
            "loopml": cached_s,
            "peer": plain_s,
            "peer_label": "plain calls",
            "ratio": None,
            "target": f"≤ {TARGETS['cached_s']:g} s",
            "passed": cached_s <= TARGETS["cached_s"],
            "check": ok("cached.first", "cached.statuses", "cached.output"),
        },
        {
            "case": f"{steps} steps, all cached, CLI",
            "detail": f"new process; median of {len(cases['cached.loopml'])}",
            "loopml": median_of(raw, "cached.loopml"),
            "peer": median_of(raw, "cached.dvc"),
            "peer_label": f"dvc repro {dvc_version}",
            "ratio": median_of(raw, "cached.dvc") / median_of(raw, "cached.loopml"),
            "target": "",
            "passed": None,
            "check": ok("cached_cli.loopml", "cached_cli.dvc", "cached_cli.same_output"),
        },
        {
            "case": f"{steps} steps, first run, CLI",
            "detail": f"fresh store / repo; median of {len(cases['first.loopml'])}",
            "loopml": median_of(raw, "first.loopml"),
            "peer": median_of(raw, "first.dvc"),
            "peer_label": f"dvc repro {dvc_version}",
            "ratio": median_of(raw, "first.dvc") / median_of(raw, "first.loopml"),
            "target": "",
            "passed": None,
            "check": ok("first.loopml", "first.dvc", "first.same_output"),
        },
        {
            "case": f"s{sizes['edit_step']:02d} edited, CLI",
            "detail": f"s{sizes['edit_step']:02d}-s{steps:02d} re-run; median of "
            f"{len(cases['edit.loopml'])}",
            "loopml": median_of(raw, "edit.loopml"),
            "peer": median_of(raw, "edit.dvc"),
            "peer_label": f"dvc repro {dvc_version}",
            "ratio": median_of(raw, "edit.dvc") / median_of(raw, "edit.loopml"),
            "target": "",
            "passed": None,
            "check": ok("edit.loopml", "edit.dvc", "edit.same_output"),
        },
        {
            "case": f"per edge, {sizes['rows']} × {sizes['cols']} DataFrame",
            "detail": f"{edges + 1} steps, cache=False: {fmt_seconds(edge_run)} a run",
            "loopml": per_edge,
            "peer": edge_plain,
            "peer_label": f"plain calls, all {edges + 1}",
            "ratio": edge_run / edge_plain if edge_plain > 0 else None,
            "target": f"≤ {TARGETS['edge_s'] * 1000:g} ms",
            "passed": per_edge <= TARGETS["edge_s"],
            "check": ok("edges.statuses", "edges.output"),
        },
    ]
    return rows


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return ""
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
        ("peer / plain", "right"),
        ("ratio", "right"),
        ("target", "left"),
        ("verdict", "left"),
        ("check", "left"),
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
            f"{fmt_seconds(row['peer'])} ({row['peer_label']})",
            "" if row["ratio"] is None else f"{row['ratio']:,.1f}x",
            row["target"],
            verdict,
            row["check"],
        )
    console.print(table)


def print_notes(raw: dict[str, Any], sizes: dict[str, Any], console: Any) -> None:
    say = console.print
    cases, startup = raw["cases"], raw["startup"]
    say(
        "  ratio: DVC's time / loopml's for the CLI rows (above 1: loopml is faster); "
        "the pipeline's time / the plain calls' for the per-edge row"
    )
    say(
        "  CLI rows: wall time of the whole command in a new process, start-up included; "
        "per edge: (run - plain calls) / edges, the whole run's overhead charged to the edges"
    )
    say(
        f"  start-up alone: loopml --version {fmt_seconds(startup['loopml'])}, dvc --version "
        f"{fmt_seconds(startup['dvc'])}; every DVC stage is a new Python that imports pandas "
        f"and pyarrow: {fmt_seconds(startup['stage_imports'])} each (warm, median of 3)"
    )
    cached = cases["cached"][0]["worker"]
    say(
        f"  in-process: import loopml.pipelines {fmt_seconds(cached['import_seconds'])}; the "
        f"first run (every step executed) {fmt_seconds(cached['first_seconds'])}; cached runs "
        f"min {fmt_seconds(min(cached['seconds']))}, max {fmt_seconds(max(cached['seconds']))}"
    )
    cold = cases["cached_cold"][0]["worker"]
    say(
        f"  first cached run of a new process: {fmt_seconds(cold['seconds'])} after import "
        f"{fmt_seconds(cold['import_seconds'])} (code fingerprints computed); the next one "
        f"{fmt_seconds(cold['second_seconds'])}"
    )
    edge = cases["edges"][0]["worker"]
    say(
        f"  cache=False runs of {sizes['edges'] + 1} steps: min {fmt_seconds(min(edge['seconds']))}"
        f", max {fmt_seconds(max(edge['seconds']))}; plain calls min "
        f"{fmt_seconds(min(edge['plain_seconds']))}"
    )
    for key, label in (
        ("first", "first run"),
        ("cached", "cached run"),
        ("edit", "after the edit"),
    ):
        parts = []
        for tool in ("loopml", "dvc"):
            runs = cases[f"{key}.{tool}"]
            parts.append(
                f"{tool} min {fmt_seconds(min(r['seconds'] for r in runs))} (CPU "
                f"{statistics.median(r['cpu_seconds'] for r in runs):.2f} s)"
            )
        say(f"  {label:<15} {', '.join(parts)}")
    waits = raw["load_waits"]
    gave_up = sorted({w["case"] for w in waits if w["gave_up"]})
    say(
        f"  load average before the timed processes: {min(w['load'] for w in waits):.2f} to "
        f"{max(w['load'] for w in waits):.2f} (limit {LOAD_LIMIT}); waited "
        f"{sum(w['waited'] for w in waits):.0f} s in all"
        + (f"; gave up waiting before: {', '.join(gave_up)}" if gave_up else "")
    )
    profile = raw.get("profile")
    if profile:
        say(
            f"  where a cached in-process run goes (cProfile, {fmt_seconds(profile['seconds'])} "
            f"profiled, not timed; garbage collection in it: {profile['gc_passes']} passes, "
            f"{fmt_seconds(profile['gc_seconds'])}): loopml functions by cumulative time"
        )
        for entry in profile["top_loopml"]:
            say(
                f"    {entry['cumulative'] * 1000:8.1f} ms cum {entry['own'] * 1000:7.1f} ms own "
                f"{entry['calls']:>6} calls  {entry['where']}"
            )
        say("  and all functions by own time")
        for entry in profile["top_own"]:
            say(
                f"    {entry['own'] * 1000:8.1f} ms own {entry['calls']:>6} calls  {entry['where']}"
            )


def parent_main(args: argparse.Namespace) -> int:
    console = report_console()
    sizes = dict(QUICK if args.quick else FULL)
    if args.max_wait is not None:
        sizes["max_wait"] = args.max_wait
    if not LOOPML.exists():
        raise BenchmarkError(f"no loopml command at {LOOPML}: run this with loopml's venv")
    dvc_version = ensure_peer_dvc()

    load_at_start = os.getloadavg()
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="loopml-bench-pipelines-") as tmp,
        progress_display(console) as progress,
    ):
        work = Path(tmp)
        (work / "logs").mkdir()
        bench = Bench(sizes, work, progress, console)
        bench.startup()
        bench.run_in_process()
        bench.run_cli()
        bench.raw["load_waits"] = bench.load_waits
        raw, problems = bench.raw, bench.problems

    rows = judge(raw, sizes, dvc_version)
    mode = "quick smoke run" if args.quick else "full run"
    title = f"loopml {loopml_version()} pipelines vs DVC {dvc_version} and plain calls ({mode})"
    console.print()
    print_table(rows, console, title)
    print_notes(raw, sizes, console)
    load_at_end = os.getloadavg()
    console.print(
        f"  machine: {os.cpu_count()} CPUs, 1-minute load average {load_at_start[0]:.2f} at "
        f"the start, {load_at_end[0]:.2f} at the end; the run took "
        f"{(time.perf_counter() - started) / 60:.1f} min"
    )

    missed = [row["case"] for row in rows if row["passed"] is False]
    report = {
        "mode": "quick" if args.quick else "full",
        "sizes": sizes,
        "targets": TARGETS,
        **provenance(),
        "dvc_version": dvc_version,
        "load_average": {"start": load_at_start, "end": load_at_end},
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "table": rows,
        "missed_targets": missed,
        "problems": problems,
        "raw": raw,
    }
    return finish(report, "pipelines", console)


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

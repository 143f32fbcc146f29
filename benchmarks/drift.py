"""Drift reports, ``loopml.monitoring`` against Evidently 0.7's ``DataDriftPreset``, side by side.

Run it from loopml's venv::

    .venv/bin/python benchmarks/drift.py            # full run: 7-14 minutes on 2 cores
    .venv/bin/python benchmarks/drift.py --quick    # 100,000 rows only: 1-2 minutes
    .venv/bin/python benchmarks/drift.py --max-wait 30

Evidently lives in its own venv, ``benchmarks/.venv-evidently`` (git-ignored), because it
needs pandas < 3; the script creates it when missing (``evidently==0.7.23``,
``pandas<3``, ``psutil``, ``pyarrow``). Nothing of Evidently's is installed into loopml's.

The data (``_drift_data.py``): 20 columns, 15 numeric and 5 categorical (strings), from
one seeded generator; per size a ``reference``, a ``current`` drawn from the same
distributions, and a ``shifted`` current where 5 numeric and 2 categorical columns moved.
The parent writes each set once to a Parquet file in a temporary directory, chunk by
chunk (10 million rows never sit in memory).

Every measured run is a fresh process of its own (``_drift_measure.py``), one at a time,
each after waiting for a quiet machine:

``in-memory``
    Reads the reference and one current set with ``pandas.read_parquet``, hands Arrow's
    allocator back what decoding freed, warms the tool up on their first 5,000 rows,
    resets the peak-memory mark, then times the report of the whole frames (median of
    several runs; one for Evidently at 1,000,000 rows):
    ``loopml.monitoring.report(reference, current)`` (``exact``),
    ``report_from_profiles(profile(reference), profile(current))`` on the same frames
    (``sketch``), or Evidently's ``Report([DataDriftPreset()]).run(...)`` with the
    columns' kinds declared and its snapshot turned into a dict.
``streamed``
    loopml's sketches as a pipeline over data too large for memory: each Parquet file is
    read one row group (250,000 rows) at a time, each row group profiled, its profile
    sent through bytes and merged; then the two current sets are reported against the
    reference from the merged profiles.
``profile``
    Untimed: a cProfile of one exact loopml report at the largest in-memory size, each
    column's read and test timed apart, and a cProfile of the sketch mode there.

Targets: the exact report at least 20x faster than Evidently at 100,000 and 1,000,000
rows, its peak memory at most 300 MB above the memory it starts from (the loaded
inputs); the streamed sketch's peak memory not growing from 1,000,000 to 10,000,000 rows
(at most 50 MB more); every loopml mode flagging at most 5% of the columns on undrifted
data and every shifted column on shifted data. Results are printed as a table and
written to ``benchmarks/results/drift.json`` (``drift-quick.json`` for ``--quick``).
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
from pathlib import Path
from typing import Any

from _drift_measure import WORKERS
from _harness import (
    HERE,
    LOAD_LIMIT,
    BenchmarkError,
    base_env,
    dispatch,
    finish,
    loopml_version,
    peer_report,
    progress_display,
    report_console,
    run_timed,
    script_parser,
    send_result,
    wait_for_quiet,
    worker_command,
)

EVIDENTLY_VENV = HERE / ".venv-evidently"
EVIDENTLY_PYTHON = EVIDENTLY_VENV / "bin" / "python"
EVIDENTLY_VERSION = "0.7.23"
EVIDENTLY_SPECS = [f"evidently=={EVIDENTLY_VERSION}", "pandas<3", "psutil", "pyarrow"]

FULL: dict[str, Any] = {
    "in_memory_rows": [100_000, 1_000_000],
    "streamed_rows": [1_000_000, 10_000_000],
    "repeats": {"loopml": {100_000: 7, 1_000_000: 5}, "evidently": {100_000: 3, 1_000_000: 1}},
    "chunk_rows": 100_000,
    "profile_top": 12,
    "max_wait": 60.0,
    "wait_budget": 240.0,
}
QUICK: dict[str, Any] = {
    **FULL,
    "in_memory_rows": [100_000],
    "streamed_rows": [100_000],
    "repeats": {"loopml": {100_000: 3}, "evidently": {100_000: 1}},
    "max_wait": 5.0,
    "wait_budget": 30.0,
}
TARGETS = {
    "speed_ratio": 20.0,
    "over_inputs_mb": 300.0,
    "streamed_growth_mb": 50.0,
    "undrifted_share": 0.05,
}
# Evidently's DataDriftPreset as measured on this machine before (the figures)
EVIDENTLY_QUOTED = {
    100_000: {"seconds": 6.6, "peak_mb": 446},
    1_000_000: {"seconds": 96.5, "peak_mb": 1550, "inputs_mb": 830},
}
MODES = {
    ("loopml", "exact"): "loopml exact",
    ("loopml", "sketch"): "loopml sketch, in memory",
    ("loopml", "streamed"): "loopml sketch, streamed",
    ("evidently", "exact"): f"Evidently {EVIDENTLY_VERSION}",
}
MB = 1e6


# ---------------------------------------------------------------------------------------
# Workers (``_drift_measure``), and Evidently's venv
# ---------------------------------------------------------------------------------------


def worker_main(case: str, config: str) -> None:
    send_result(WORKERS[case](json.loads(config)))


def evidently_versions() -> dict[str, str] | None:
    """Evidently's and pandas' versions in its venv (None: no venv, or not installed)."""
    if not EVIDENTLY_PYTHON.exists():
        return None
    code = (
        "import json, evidently, pandas; print(json.dumps("
        "{'evidently': evidently.__version__, 'pandas': pandas.__version__}))"
    )
    done = subprocess.run(
        [str(EVIDENTLY_PYTHON), "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env=evidently_env(),
    )
    return json.loads(done.stdout) if done.returncode == 0 else None


def ensure_evidently() -> dict[str, str]:
    """Evidently 0.7.23 with pandas < 3 in ``benchmarks/.venv-evidently``, installed there
    (and the venv created) unless it is already."""
    versions = evidently_versions()
    if versions and versions["evidently"] == EVIDENTLY_VERSION and versions["pandas"] < "3":
        return versions
    if not EVIDENTLY_PYTHON.exists():
        print(f"Creating {EVIDENTLY_VENV.relative_to(HERE.parent)} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY_VENV)], check=True)
    print(f"Installing {' '.join(EVIDENTLY_SPECS)} there (a few minutes) ...", flush=True)
    pip = [str(EVIDENTLY_PYTHON), "-m", "pip", "install", "--quiet", *EVIDENTLY_SPECS]
    subprocess.run(pip, check=True)
    versions = evidently_versions()
    if not versions or versions["evidently"] != EVIDENTLY_VERSION:
        raise BenchmarkError(f"{EVIDENTLY_VENV} holds no Evidently {EVIDENTLY_VERSION}")
    return versions


def evidently_env() -> dict[str, str]:
    """Without loopml's or Evidently's settings of the caller's; no telemetry."""
    return {**base_env("EVIDENTLY_"), "DO_NOT_TRACK": "1"}


# ---------------------------------------------------------------------------------------
# Parent: the run
# ---------------------------------------------------------------------------------------


class Bench:
    """Writes the data, then runs one measured process at a time, each after waiting for
    a quiet machine; remembers every figure and every failed check."""

    def __init__(self, sizes: dict[str, Any], work: Path, progress: Any, console: Any) -> None:
        self.sizes = sizes
        self.work = work
        self.progress = progress
        self.console = console
        self.raw: dict[str, Any] = {"data": {}, "runs": {}, "profile": None}
        self.problems: list[str] = []
        self.load_waits: list[dict[str, Any]] = []

    def check(self, ok: bool, what: str) -> None:
        if not ok:
            self.problems.append(what)

    def write_data(self, rows: int) -> dict[str, str]:
        from _drift_data import SETS, chunks_of, write_set

        folder = self.work / f"rows-{rows}"
        folder.mkdir()
        task = self.progress.add_task(
            f"data: {rows:,} rows x 3 sets to Parquet", total=3 * chunks_of(rows)
        )
        began = time.perf_counter()
        paths, sizes = {}, {}
        for name in SETS:
            path = folder / f"{name}.parquet"
            sizes[name] = write_set(name, rows, path, lambda: self.progress.update(task, advance=1))
            paths[name] = str(path)
        self.raw["data"][rows] = {"seconds": time.perf_counter() - began, "file_bytes": sizes}
        return paths

    def run(
        self, key: str, label: str, case: str, tool: str, cfg: dict[str, Any], *, wait: bool = True
    ) -> Any:
        """Run one worker after waiting for a quiet machine: at most ``max_wait`` s, and
        at most ``wait_budget`` s over the whole run (a busy machine cannot stretch a
        15-minute run to an hour); ``wait=False`` for untimed work."""
        task = self.progress.add_task(label, total=1)
        quiet = None
        if wait:
            waited = sum(w["waited"] for w in self.load_waits)
            quiet = wait_for_quiet(
                min(self.sizes["max_wait"], max(0.0, self.sizes["wait_budget"] - waited)),
                progress=self.progress,
                task=task,
                label=label,
                console=self.console,
            )
            self.load_waits.append({"case": key, **quiet})
        command = worker_command(__file__, case, cfg)
        env = evidently_env()
        if tool == "evidently":
            command[0] = str(EVIDENTLY_PYTHON)
        log = self.work / "logs" / f"{key}.log"
        done = run_timed(command, cwd=self.work, env=env, log=log)
        self.progress.update(task, completed=1)
        if "worker" not in done:
            raise BenchmarkError(f"{label}: the worker sent no result:\n{done['output'][-2000:]}")
        result = done["worker"]
        result["process_seconds"] = done["seconds"]
        result["load"] = quiet
        return result

    def in_memory(self, rows: int, paths: dict[str, str]) -> None:
        from _drift_data import CATEGORICAL, COLUMNS, NUMERIC

        for tool, mode in (("loopml", "exact"), ("loopml", "sketch"), ("evidently", "exact")):
            repeats = self.sizes["repeats"][tool][rows]
            for which in ("current", "shifted"):
                key = f"{rows}.{tool}.{mode}.{which}"
                cfg = {
                    "tool": tool,
                    "mode": mode,
                    "repeats": repeats,
                    "chunk_rows": self.sizes["chunk_rows"],
                    "numeric": NUMERIC,
                    "categorical": CATEGORICAL,
                    "paths": {"reference": paths["reference"], "current": paths[which]},
                }
                label = f"{rows:,} rows: {MODES[tool, mode]}, {which} ({repeats} runs)"
                result = self.run(key, label, "in-memory", tool, cfg)
                self.raw["runs"][key] = result
                self.check(
                    result["rows"] == [rows, rows],
                    f"{key}: read {result['rows']} rows, wrote {rows}",
                )
                self.check(
                    len(result["statistics"]) == len(COLUMNS),
                    f"{key}: {len(result['statistics'])} of {len(COLUMNS)} columns tested",
                )

    def streamed(self, rows: int, paths: dict[str, str]) -> None:
        from _drift_data import COLUMNS

        key = f"{rows}.loopml.streamed"
        cfg = {"paths": paths, "chunk_rows": self.sizes["chunk_rows"]}
        label = f"{rows:,} rows: loopml sketch, streamed from Parquet (3 sets)"
        result = self.run(key, label, "streamed", "loopml", cfg)
        self.raw["runs"][key] = result
        for name, figures in result["sets"].items():
            self.check(figures["rows"] == rows, f"{key}: {name} profiled {figures['rows']} rows")
            self.check(
                figures["columns_complete"], f"{key}: a column's count + nulls is not the rows"
            )
        for name, figures in result["reports"].items():
            tested = len(figures["statistics"])
            self.check(tested == len(COLUMNS), f"{key}: {name}: {tested} columns tested")

    def profile(self, rows: int, paths: dict[str, str]) -> None:
        cfg = {
            "paths": {"reference": paths["reference"], "current": paths["current"]},
            "top": self.sizes["profile_top"],
            "chunk_rows": self.sizes["chunk_rows"],
        }
        label = f"{rows:,} rows: cProfile of loopml's exact report (untimed)"
        try:
            result = self.run(f"{rows}.profile", label, "profile", "loopml", cfg, wait=False)
        except BenchmarkError as error:  # the timed figures are still worth reporting
            self.problems.append(f"the profile of loopml's report failed: {error}")
            return
        self.raw["profile"] = {"rows": rows, **result}


def remove(paths: dict[str, str]) -> None:
    for path in paths.values():
        Path(path).unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------


def summary(raw: dict[str, Any], rows: int, tool: str, mode: str) -> dict[str, Any] | None:
    """One table row's figures: both children of an in-memory mode, or the streamed one."""
    from _drift_data import SHIFTED

    runs = raw["runs"]
    if mode == "streamed":
        run = runs.get(f"{rows}.loopml.streamed")
        if run is None:
            return None
        sets, reports = run["sets"], run["reports"]
        seconds = {
            which: sets["reference"]["seconds"] + sets[which]["seconds"] + reports[which]["seconds"]
            for which in ("current", "shifted")
        }
        cpu = {
            which: sets["reference"]["cpu_seconds"]
            + sets[which]["cpu_seconds"]
            + reports[which]["cpu_seconds"]
            for which in ("current", "shifted")
        }
        figures = {
            "seconds": seconds["current"],
            "seconds_shifted": seconds["shifted"],
            "best": seconds["current"],
            "cpu_seconds": cpu["current"],
            "cpu_seconds_shifted": cpu["shifted"],
            "peak": run["peak"],
            "ready": run["rss_ready"],
            "frames": None,
            "over": run["peak"] - run["rss_ready"],
            "drifted": reports["current"]["drifted"],
            "drifted_shifted": reports["shifted"]["drifted"],
            "runs": 1,
        }
    else:
        undrifted = runs.get(f"{rows}.{tool}.{mode}.current")
        shifted = runs.get(f"{rows}.{tool}.{mode}.shifted")
        if undrifted is None or shifted is None:
            return None
        # the memory of the child whose report added the most to what it started from
        most = max((undrifted, shifted), key=lambda run: run["peak"] - run["rss_ready"])
        figures = {
            "seconds": statistics.median(undrifted["seconds"]),
            "seconds_shifted": statistics.median(shifted["seconds"]),
            "best": min(undrifted["seconds"]),
            "cpu_seconds": statistics.median(undrifted["cpu_seconds"]),
            "cpu_seconds_shifted": statistics.median(shifted["cpu_seconds"]),
            "peak": most["peak"],
            "ready": most["rss_ready"],
            "frames": most["frames_bytes"],
            "over": most["peak"] - most["rss_ready"],
            "imported": most["rss_imported"],
            "drifted": undrifted["drifted"],
            "drifted_shifted": shifted["drifted"],
            "runs": len(undrifted["seconds"]),
        }
    found = [name for name in SHIFTED if name in figures["drifted_shifted"]]
    figures["shifted_found"] = found
    figures["shifted_extra"] = [n for n in figures["drifted_shifted"] if n not in SHIFTED]
    return figures


def judge(raw: dict[str, Any], sizes: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """The table of every measured mode, and the targets' rows (``case``, ``detail``,
    ``passed``, as the harness reports them)."""
    from _drift_data import COLUMNS, SHIFTED

    table, targets = [], []
    every = sorted({*sizes["in_memory_rows"], *sizes["streamed_rows"]})
    for rows in every:
        peer = summary(raw, rows, "evidently", "exact")
        for (tool, mode), name in MODES.items():
            figures = summary(raw, rows, tool, mode)
            if figures is None:
                continue
            ratio = ratio_shifted = cpu_ratio = cpu_ratio_shifted = None
            if peer is not None and tool == "loopml":
                ratio = peer["seconds"] / figures["seconds"]
                ratio_shifted = peer["seconds_shifted"] / figures["seconds_shifted"]
                cpu_ratio = peer["cpu_seconds"] / figures["cpu_seconds"]
                cpu_ratio_shifted = peer["cpu_seconds_shifted"] / figures["cpu_seconds_shifted"]
            table.append(
                {
                    "rows": rows,
                    "tool": tool,
                    "mode": mode,
                    "name": name,
                    **figures,
                    "ratio": ratio,
                    "ratio_shifted": ratio_shifted,
                    "cpu_ratio": cpu_ratio,
                    "cpu_ratio_shifted": cpu_ratio_shifted,
                }
            )
            if tool != "loopml":
                continue
            label = f"{name}, {rows:,} rows"
            undrifted = len(figures["drifted"]) / len(COLUMNS)
            targets.append(
                {
                    "case": f"{label}: undrifted data",
                    "detail": f"{len(figures['drifted'])} of {len(COLUMNS)} columns flagged",
                    "target": f"≤ {TARGETS['undrifted_share']:.0%} flagged",
                    "passed": undrifted <= TARGETS["undrifted_share"],
                }
            )
            missed = [n for n in SHIFTED if n not in figures["shifted_found"]]
            targets.append(
                {
                    "case": f"{label}: shifted data",
                    "detail": f"{len(figures['shifted_found'])} of {len(SHIFTED)} shifted "
                    "columns flagged"
                    + (f", missed {', '.join(missed)}" if missed else "")
                    + f"; {len(figures['shifted_extra'])} unshifted flagged",
                    "target": "every shifted column flagged",
                    "passed": not missed,
                }
            )
            if mode != "exact":
                continue
            if ratio is not None:
                worst = min(ratio, ratio_shifted or ratio)
                targets.append(
                    {
                        "case": f"{label}: speed",
                        "detail": f"{ratio:,.1f}x / {ratio_shifted:,.1f}x Evidently's wall "
                        f"time (undrifted / shifted); CPU time {cpu_ratio:,.1f}x / "
                        f"{cpu_ratio_shifted:,.1f}x",
                        "target": f"≥ {TARGETS['speed_ratio']:g}x",
                        "passed": worst >= TARGETS["speed_ratio"],
                    }
                )
            over = figures["over"] / MB
            targets.append(
                {
                    "case": f"{label}: memory",
                    "detail": f"peak {figures['peak'] / MB:,.0f} MB, {over:,.0f} MB above the "
                    f"{figures['ready'] / MB:,.0f} MB resident with the inputs loaded",
                    "target": f"≤ inputs + {TARGETS['over_inputs_mb']:g} MB",
                    "passed": over <= TARGETS["over_inputs_mb"],
                }
            )
    small = summary(raw, sizes["streamed_rows"][0], "loopml", "streamed")
    large = summary(raw, sizes["streamed_rows"][-1], "loopml", "streamed")
    if len(sizes["streamed_rows"]) > 1 and small is not None and large is not None:
        growth = (large["peak"] - small["peak"]) / MB
        low, high = sizes["streamed_rows"][0], sizes["streamed_rows"][-1]
        targets.append(
            {
                "case": "loopml sketch, streamed: memory flat in rows",
                "detail": f"peak {small['peak'] / MB:,.0f} MB at {low:,} rows, "
                f"{large['peak'] / MB:,.0f} MB at {high:,} ({growth:+,.0f} MB)",
                "target": f"≤ +{TARGETS['streamed_growth_mb']:g} MB",
                "passed": growth <= TARGETS["streamed_growth_mb"],
            }
        )
    return table, targets


def seconds_text(value: float) -> str:
    return f"{value * 1000:,.0f} ms" if value < 1 else f"{value:,.2f} s"


def print_table(table: list[dict[str, Any]], console: Any, title: str) -> None:
    from _drift_data import COLUMNS, SHIFTED
    from rich.table import Table

    out = Table(title=title, title_justify="left")
    for name in (
        "rows",
        "tool / mode",
        "s, undrifted",
        "s, shifted",
        "CPU s",
        "peak RSS",
        "RSS at start",
        "inputs",
        "peak − start",
        "flagged, undrifted",
        "flagged, shifted",
        "vs Evidently",
        "CPU vs Evidently",
    ):
        if name == "tool / mode":
            out.add_column(name, no_wrap=True)
        else:
            out.add_column(name, justify="right")
    for row in table:
        runs = f" ({row['runs']})" if row["runs"] > 1 else ""
        ratio = cpu_ratio = ""
        if row["ratio"] is not None:
            ratio = f"{row['ratio']:,.1f}x / {row['ratio_shifted']:,.1f}x"
            cpu_ratio = f"{row['cpu_ratio']:,.1f}x / {row['cpu_ratio_shifted']:,.1f}x"
        extra = f" +{len(row['shifted_extra'])}" if row["shifted_extra"] else ""
        out.add_row(
            f"{row['rows']:,}",
            row["name"],
            seconds_text(row["seconds"]) + runs,
            seconds_text(row["seconds_shifted"]),
            f"{row['cpu_seconds']:,.2f}",
            f"{row['peak'] / MB:,.0f} MB",
            f"{row['ready'] / MB:,.0f} MB",
            "—" if row["frames"] is None else f"{row['frames'] / MB:,.0f} MB",
            f"{row['over'] / MB:,.0f} MB",
            f"{len(row['drifted'])}/{len(COLUMNS)}",
            f"{len(row['shifted_found'])}/{len(SHIFTED)}{extra}",
            ratio,
            cpu_ratio,
        )
    console.print(out)


def print_targets(targets: list[dict[str, Any]], console: Any) -> None:
    from rich.table import Table

    out = Table(title="Targets", title_justify="left")
    for name in ("case", "figure", "target", "met"):
        out.add_column(name)
    for row in targets:
        verdict = "[green]PASS[/green]" if row["passed"] else "[red]MISS[/red]"
        out.add_row(row["case"], row["detail"], row["target"], verdict)
    console.print(out)


def print_notes(raw: dict[str, Any], table: list[dict[str, Any]], console: Any) -> None:
    from _drift_data import SHIFTED

    say = console.print
    say(
        "  seconds: median wall time of the report on loaded frames (runs in brackets); for "
        "'streamed', reading the reference and current Parquet files row group by row "
        "group, profiling, merging, and the report. 'vs Evidently': Evidently's seconds / "
        "loopml's (undrifted / shifted); 'CPU vs Evidently': the same for CPU time, which "
        "other processes on a busy machine move less. CPU s: the process's, every "
        "thread's. RSS at start: resident memory after imports, loading the frames and a "
        "warm-up on 5,000 rows; peak − start: the most the report added on top, in the "
        "child (undrifted or shifted) where it added most "
        "(the peak mark is reset after the warm-up). inputs: both frames' "
        "memory_usage(deep=True) (loopml's pandas 3 holds strings in Arrow, Evidently's "
        "pandas 2 as Python objects)."
    )
    say(f"  shifted columns: {', '.join(SHIFTED)}; '+N': unshifted columns flagged too")
    for row in table:
        if row["frames"] is None:
            continue
        floor = row["imported"] + row["frames"]
        say(
            f"  {row['rows']:,} rows, {row['name']}: {row['imported'] / MB:,.0f} MB resident "
            f"after imports + {row['frames'] / MB:,.0f} MB of frames = {floor / MB:,.0f} MB; "
            f"the peak is {(row['peak'] - floor) / MB:+,.0f} MB from that (the rest of 'RSS "
            "at start' is what reading Parquet left resident)"
        )
    for rows, quoted in EVIDENTLY_QUOTED.items():
        measured = next((r for r in table if r["rows"] == rows and r["tool"] == "evidently"), None)
        if measured is not None:
            say(
                f"  Evidently at {rows:,} rows as measured before on this machine: "
                f"{quoted['seconds']} s, {quoted['peak_mb']:,} MB peak; this run: "
                f"{measured['seconds']:.1f} s, {measured['peak'] / MB:,.0f} MB"
            )
    for key, theirs in raw["runs"].items():
        mine = raw["runs"].get(key.replace("evidently", "loopml"))
        if not key.endswith(".current") or "evidently" not in key or mine is None:
            continue
        # the normed Wasserstein distance is the same statistic in both (Jensen-Shannon
        # is not: loopml's is in base 2, Evidently's in base e)
        gaps = {
            name: abs(value - theirs["statistics"][name])
            for name, value in mine["statistics"].items()
            if mine["tests"][name] == "wasserstein"
        }
        worst = max(gaps, key=gaps.__getitem__)
        say(
            f"  {int(key.split('.')[0]):,} rows, undrifted: largest gap between loopml's "
            f"and Evidently's normed Wasserstein distance: {worst} "
            f"{mine['statistics'][worst]:.5f} vs {theirs['statistics'][worst]:.5f}"
        )
    for key, run in raw["runs"].items():
        if not key.endswith("streamed"):
            continue
        rows = int(key.split(".")[0])
        sets = run["sets"]
        shown = "; ".join(
            f"{name} {s['seconds']:.1f} s (read {s['read_seconds']:.1f}, profile "
            f"{s['profile_seconds']:.1f}, merge {s['merge_seconds'] * 1000:.0f} ms; "
            f"{s['partitions']} partitions; profile {s['profile_bytes'] / 1000:,.0f} KB)"
            for name, s in sets.items()
        )
        say(f"  streamed, {rows:,} rows: {shown}")
        files = raw["data"][rows]["file_bytes"]
        say(
            f"    reports from the profiles: {run['reports']['current']['seconds'] * 1000:.0f} "
            f"and {run['reports']['shifted']['seconds'] * 1000:.0f} ms; Parquet files "
            + ", ".join(f"{n} {b / MB:,.0f} MB" for n, b in files.items())
            + f", written in {raw['data'][rows]['seconds']:.0f} s"
        )
    sketch_gaps = []
    for key, run in raw["runs"].items():
        exact = raw["runs"].get(key.replace(".sketch.", ".exact."))
        if ".loopml.sketch." in key and exact is not None:
            gap = max(
                abs(run["statistics"][n] - exact["statistics"][n]) for n in exact["statistics"]
            )
            sketch_gaps.append(f"{key.split('.')[0]} rows {key.split('.')[-1]} {gap:.4f}")
    if sketch_gaps:
        say(
            "  largest gap between a column's statistic from the sketch and the exact one: "
            + ", ".join(sketch_gaps)
        )
    waits = raw["load_waits"]
    gave_up = sorted({w["case"] for w in waits if w["gave_up"]})
    say(
        f"  load average before the measured runs: {min(w['load'] for w in waits):.2f} to "
        f"{max(w['load'] for w in waits):.2f} (limit {LOAD_LIMIT}); waited "
        f"{sum(w['waited'] for w in waits):.0f} s in all"
        + (f"; gave up waiting before {len(gave_up)} run(s)" if gave_up else "")
    )


def print_profile(raw: dict[str, Any], console: Any) -> None:
    profile = raw["profile"]
    if profile is None:
        return
    say = console.print
    say(
        f"  where loopml's exact report spends its time, {profile['rows']:,} rows, one "
        f"thread: {profile['serial_seconds']:.2f} s unprofiled, "
        f"{profile['profiled_seconds']:.2f} s under cProfile"
    )
    for kind, piece in profile["by_kind"].items():
        say(
            f"    {piece['columns']} {kind} columns: reading both sides "
            f"{piece['read']:.2f} s, the test and effect sizes {piece['test']:.2f} s"
        )
    print_entries(profile, say)
    sketch = profile["sketch"]
    say(
        f"  and the sketch mode on the same frames (profile both, report from the "
        f"profiles): {sketch['profiled_seconds']:.2f} s under cProfile"
    )
    print_entries(sketch, say)


def print_entries(profile: dict[str, Any], say: Any) -> None:
    say("    by cumulative time:")
    for entry in profile["by_cumulative"]:
        say(
            f"    {entry['cumulative']:7.3f} s cum {entry['own']:7.3f} s own "
            f"{entry['calls']:>6} calls  {entry['where']}"
        )
    say("    by own time:")
    for entry in profile["by_own"]:
        say(f"    {entry['own']:7.3f} s own {entry['calls']:>6} calls  {entry['where']}")


def parent_main(args: argparse.Namespace) -> int:
    console = report_console()
    sizes = dict(QUICK if args.quick else FULL)
    if args.max_wait is not None:
        sizes["max_wait"] = args.max_wait
    versions = ensure_evidently()
    load_at_start = os.getloadavg()
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="loopml-bench-drift-") as tmp,
        progress_display(console) as progress,
    ):
        work = Path(tmp)
        (work / "logs").mkdir()
        bench = Bench(sizes, work, progress, console)
        in_memory, streamed = sizes["in_memory_rows"], sizes["streamed_rows"]
        for rows in sorted({*in_memory, *streamed}):
            paths = bench.write_data(rows)
            if rows in in_memory:
                bench.in_memory(rows, paths)
                if rows == max(in_memory):
                    bench.profile(rows, paths)
            if rows in streamed:
                bench.streamed(rows, paths)
            remove(paths)
        bench.raw["load_waits"] = bench.load_waits
        raw, problems = bench.raw, bench.problems

    table, targets = judge(raw, sizes)
    mode = "quick smoke run" if args.quick else "full run"
    title = (
        f"loopml {loopml_version()} drift reports vs Evidently {versions['evidently']} "
        f"DataDriftPreset, 20 columns ({mode})"
    )
    console.print()
    print_table(table, console, title)
    print_targets(targets, console)
    print_notes(raw, table, console)
    print_profile(raw, console)
    report = peer_report(
        args,
        console,
        started=started,
        load_at_start=load_at_start,
        sizes=sizes,
        targets=TARGETS,
        rows=targets,
        raw=raw,
        problems=problems,
        results=table,
        evidently_versions=versions,
    )
    return finish(report, "drift", console)


def main(argv: list[str] | None = None) -> int:
    parser = script_parser(
        __doc__,
        list(WORKERS),
        quick_help="100,000 rows only, fewer runs, short waits",
        default_wait="default 60, 5 with --quick; 240 s (30 s) in all at most",
    )
    return dispatch(parser.parse_args(argv), worker_main, parent_main)


if __name__ == "__main__":
    sys.exit(main())

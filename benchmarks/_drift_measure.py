"""The drift benchmark's workers: one measured run per fresh process.

``drift.py`` re-runs itself as ``--worker CASE --config JSON``; the case's function here
does the work and returns its figures. The ``evidently`` worker runs in
``benchmarks/.venv-evidently`` (pandas < 3), the others in loopml's venv, so this module
imports only the standard library at the top.

Memory: the kernel's high-water mark of resident memory (``VmHWM`` in
``/proc/self/status``) is reset (``/proc/self/clear_refs``) once the inputs are loaded and
the tool is warmed up, so the peak a run reports is the one reached while it computed,
not while Parquet was decoded. Where the reset is not allowed the peak is the process's
whole-life ``ru_maxrss``, and ``peak_reset`` says so.
"""

from __future__ import annotations

import gc
import resource
import time
from pathlib import Path
from typing import Any

WARMUP_ROWS = 5000  # above Evidently's and loopml's small-sample limit: the same tests


# ---------------------------------------------------------------------------------------
# Memory
# ---------------------------------------------------------------------------------------


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_bytes() -> int:
    """Resident memory now."""
    kb = _status_kb("VmRSS")
    if kb is None:
        import psutil

        return int(psutil.Process().memory_info().rss)
    return kb * 1024


def peak_bytes() -> int:
    """The highest resident memory since the last :func:`reset_peak` (or since start)."""
    kb = _status_kb("VmHWM")
    if kb is None:
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb * 1024


def reset_peak() -> bool:
    """Start the high-water mark again from the memory resident now (False: not allowed)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def settle() -> tuple[int, bool]:
    """Collect garbage and reset the peak: the resident memory a measured run starts from."""
    gc.collect()
    reset = reset_peak()
    return rss_bytes(), reset


def cpu_seconds() -> float:
    """CPU time of this process, every thread's."""
    return time.process_time()


# ---------------------------------------------------------------------------------------
# In-memory reports: loopml (exact, or sketches of the loaded frames) and Evidently
# ---------------------------------------------------------------------------------------


def _load(paths: dict[str, str]) -> tuple[Any, Any, int]:
    """The reference and current frames as each tool's pandas reads them, and their
    in-memory size (``memory_usage(deep=True)``)."""
    import pandas as pd

    reference = pd.read_parquet(paths["reference"])
    current = pd.read_parquet(paths["current"])
    size = int(reference.memory_usage(deep=True).sum() + current.memory_usage(deep=True).sum())
    return reference, current, size


def _loopml_run(mode: str, chunk_rows: int) -> Any:
    """A function of (reference, current) that computes loopml's report in ``mode`` and
    returns (drifted columns, statistic per column, test per column)."""
    from loopml.monitoring import report
    from loopml.monitoring.profile import profile, report_from_profiles

    def run(reference: Any, current: Any) -> tuple[list[str], dict[str, float], dict[str, str]]:
        if mode == "exact":
            result = report(reference, current)
        else:
            result = report_from_profiles(
                profile(reference, chunk_rows=chunk_rows), profile(current, chunk_rows=chunk_rows)
            )
        result.to_dict()  # the whole result, ranking and bins included, as a caller gets it
        return (
            list(result.drifted),
            {name: float(f.statistic) for name, f in result.features.items()},
            {name: f.test for name, f in result.features.items()},
        )

    return run


def _evidently_run(numeric: list[str], categorical: list[str]) -> Any:
    """A function of (reference, current) running Evidently's ``DataDriftPreset``; the
    snapshot is turned into a dict inside it, so nothing is left to compute lazily."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)

    def run(reference: Any, current: Any) -> tuple[list[str], dict[str, float], dict[str, str]]:
        snapshot = Report([DataDriftPreset()]).run(
            current_data=Dataset.from_pandas(current, data_definition=definition),
            reference_data=Dataset.from_pandas(reference, data_definition=definition),
        )
        return evidently_verdicts(snapshot.dict())

    return run


def evidently_verdicts(
    snapshot: dict[str, Any],
) -> tuple[list[str], dict[str, float], dict[str, str]]:
    """The drifted columns, the statistic and the test of each column, from a
    ``DataDriftPreset`` snapshot's dict: one ``ValueDrift`` metric per column, drifted
    when a distance reaches its threshold or a p-value falls below it (Evidently's rule).
    Raises when they disagree with the preset's own ``DriftedColumnsCount``."""
    drifted, statistics, tests = [], {}, {}
    counted = None
    for metric in snapshot["metrics"]:
        config = metric["config"]
        if config["type"].endswith("DriftedColumnsCount"):
            counted = int(metric["value"]["count"])
        elif config["type"].endswith("ValueDrift"):
            column, method, value = config["column"], config["method"], float(metric["value"])
            statistics[column], tests[column] = value, method
            is_distance = "distance" in method.lower() or "psi" in method.lower()
            if (value >= config["threshold"]) if is_distance else (value < config["threshold"]):
                drifted.append(column)
    if counted is None or counted != len(drifted):
        raise RuntimeError(
            f"Evidently's DriftedColumnsCount says {counted}, its ValueDrift metrics "
            f"{len(drifted)} ({', '.join(drifted)})"
        )
    return drifted, statistics, tests


def in_memory(cfg: dict[str, Any]) -> dict[str, Any]:
    """Load the reference and current frames, warm the tool up on their first rows, then
    time ``cfg["repeats"]`` reports of the whole frames."""
    import pandas  # noqa: F401  (both read Parquet through it: its memory is not the tool's)
    import pyarrow

    started = time.perf_counter()
    if cfg["tool"] == "evidently":
        run = _evidently_run(cfg["numeric"], cfg["categorical"])
    else:
        run = _loopml_run(cfg["mode"], cfg["chunk_rows"])
    imported = time.perf_counter() - started
    rss_imported = rss_bytes()
    reference, current, frames = _load(cfg["paths"])
    rss_loaded = rss_bytes()
    # Arrow's allocator keeps what decoding the files freed; hand it back, so the memory a
    # run starts from is the frames and not the reading of them
    pyarrow.default_memory_pool().release_unused()
    gc.collect()
    rss_released = rss_bytes()
    run(reference.head(WARMUP_ROWS), current.head(WARMUP_ROWS))  # lazy imports, caches
    rss_ready, peak_reset = settle()
    seconds, cpu = [], []
    verdicts = None
    for _ in range(cfg["repeats"]):
        wall, used = time.perf_counter(), cpu_seconds()
        verdicts = run(reference, current)
        seconds.append(time.perf_counter() - wall)
        cpu.append(cpu_seconds() - used)
    assert verdicts is not None
    drifted, statistics, tests = verdicts
    return {
        "rows": [len(reference), len(current)],
        "import_seconds": imported,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "frames_bytes": frames,
        "rss_imported": rss_imported,
        "rss_loaded": rss_loaded,
        "rss_released": rss_released,
        "rss_ready": rss_ready,
        "peak": peak_bytes(),
        "peak_reset": peak_reset,
        "drifted": drifted,
        "statistics": statistics,
        "tests": tests,
        "versions": _versions(cfg["tool"]),
    }


def _versions(tool: str) -> dict[str, str]:
    import numpy
    import pandas

    found = {"pandas": pandas.__version__, "numpy": numpy.__version__}
    if tool == "evidently":
        import evidently

        found["evidently"] = evidently.__version__
    return found


# ---------------------------------------------------------------------------------------
# Streamed sketches: Parquet files profiled partition by partition, then merged
# ---------------------------------------------------------------------------------------


def streamed(cfg: dict[str, Any]) -> dict[str, Any]:
    """Profile each set's Parquet file one row group (a partition) at a time, each
    partition's profile sent through bytes as it would travel between machines and
    merged into the set's, then report the current sets against the reference.

    Memory holds one row group and the profiles, never a whole set."""
    import pyarrow.parquet as pq

    from loopml.monitoring.profile import Profile, profile, report_from_profiles

    chunk_rows = cfg["chunk_rows"]
    # warm-up on a few rows, so lazy imports (pandas, the sketch library) and the first
    # allocations are in the memory a run starts from, as for the in-memory workers
    first = pq.ParquetFile(cfg["paths"]["reference"]).read_row_group(0).slice(0, WARMUP_ROWS)
    part = Profile.from_bytes(profile(first).to_bytes())
    report_from_profiles(part, part.merge(part)).to_dict()
    del first, part
    rss_imported, peak_reset = settle()
    profiles: dict[str, Any] = {}
    sets: dict[str, Any] = {}
    for name, path in cfg["paths"].items():
        wall, used = time.perf_counter(), cpu_seconds()
        reading = sketching = merging = 0.0
        merged = None
        blob_bytes = 0
        parquet = pq.ParquetFile(path)
        for group in range(parquet.num_row_groups):
            began = time.perf_counter()
            table = parquet.read_row_group(group)
            read_at = time.perf_counter()
            part = Profile.from_bytes(profile(table, chunk_rows=chunk_rows).to_bytes())
            sketched_at = time.perf_counter()
            merged = part if merged is None else merged.merge(part)
            del table
            reading += read_at - began
            sketching += sketched_at - read_at
            merging += time.perf_counter() - sketched_at
        assert merged is not None
        blob_bytes = len(merged.to_bytes())
        profiles[name] = merged
        sets[name] = {
            "rows": merged.rows,
            "partitions": parquet.num_row_groups,
            "seconds": time.perf_counter() - wall,
            "cpu_seconds": cpu_seconds() - used,
            "read_seconds": reading,
            "profile_seconds": sketching,
            "merge_seconds": merging,
            "profile_bytes": blob_bytes,
            "columns_complete": all(
                column.count + column.nulls == merged.rows for column in merged.columns.values()
            ),
        }
    reports = {}
    for name in ("current", "shifted"):
        wall, used = time.perf_counter(), cpu_seconds()
        result = report_from_profiles(profiles["reference"], profiles[name])
        result.to_dict()
        reports[name] = {
            "seconds": time.perf_counter() - wall,
            "cpu_seconds": cpu_seconds() - used,
            "drifted": list(result.drifted),
            "statistics": {n: float(f.statistic) for n, f in result.features.items()},
            "tests": {n: f.test for n, f in result.features.items()},
        }
    return {
        "sets": sets,
        "reports": reports,
        "rss_ready": rss_imported,
        "peak": peak_bytes(),
        "peak_reset": peak_reset,
        "versions": _versions("loopml"),
    }


# ---------------------------------------------------------------------------------------
# Where loopml's exact report spends its time
# ---------------------------------------------------------------------------------------


def profiled(cfg: dict[str, Any]) -> dict[str, Any]:
    """cProfile of one exact report on the loaded frames, each column's read and test
    timed on their own, and a cProfile of the sketch mode on the same frames. (cProfile
    follows one thread: a column pool, where ``report`` has one, is switched off.)"""
    import sys

    from loopml.monitoring import report
    from loopml.monitoring.drift import column_kind, sample, sample_drift
    from loopml.monitoring.profile import profile, report_from_profiles

    report_module = sys.modules[report.__module__]  # where report() looks up its pool
    reference, current, _ = _load(cfg["paths"])
    report(reference.head(WARMUP_ROWS), current.head(WARMUP_ROWS))
    threshold = getattr(report_module, "_THREADED_ROWS", None)
    if threshold is not None:
        report_module._THREADED_ROWS = 1 << 62  # type: ignore[attr-defined]
    try:
        wall = time.perf_counter()
        report(reference, current)
        serial = time.perf_counter() - wall
        exact = _cprofile(lambda: report(reference, current), cfg["top"])
    finally:
        if threshold is not None:
            report_module._THREADED_ROWS = threshold  # type: ignore[attr-defined]

    kinds: dict[str, dict[str, float]] = {}
    for name in reference.columns:
        kind = column_kind(reference[name])
        began = time.perf_counter()
        ref_sample, cur_sample = sample(reference[name], kind), sample(current[name], kind)
        read_at = time.perf_counter()
        sample_drift(name, ref_sample, cur_sample)
        piece = kinds.setdefault(kind, {"columns": 0, "read": 0.0, "test": 0.0})
        piece["columns"] += 1
        piece["read"] += read_at - began
        piece["test"] += time.perf_counter() - read_at

    def sketch() -> None:
        chunk_rows = cfg["chunk_rows"]
        report_from_profiles(
            profile(reference, chunk_rows=chunk_rows), profile(current, chunk_rows=chunk_rows)
        )

    return {
        "serial_seconds": serial,
        **exact,
        "by_kind": kinds,
        "sketch": _cprofile(sketch, cfg["top"]),
    }


def _cprofile(work: Any, top: int) -> dict[str, Any]:
    """``work()`` under cProfile: its time, and the functions with the most cumulative
    and the most own time."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    work()
    profiler.disable()
    stats = pstats.Stats(profiler)
    entries = []
    for (file, line, function), (_, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = f"{_short(file)}:{line}({function})" if line else function
        entries.append({"where": where, "calls": calls, "own": own, "cumulative": cumulative})
    total = max(entry["cumulative"] for entry in entries)
    return {
        "profiled_seconds": total,
        "by_cumulative": _top(entries, "cumulative", top, total),
        "by_own": _top(entries, "own", top, total),
    }


def _top(entries: list[dict[str, Any]], key: str, count: int, total: float) -> list[Any]:
    ranked = sorted(entries, key=lambda entry: -entry[key])
    if key == "cumulative":  # the profiled lambda and the profiler say nothing
        ranked = [e for e in ranked if "lambda" not in e["where"] and "_lsprof" not in e["where"]]
    return ranked[:count]


def _short(file: str) -> str:
    for marker in ("site-packages/", "/src/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


WORKERS = {"in-memory": in_memory, "streamed": streamed, "profile": profiled}

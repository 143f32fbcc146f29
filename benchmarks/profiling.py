"""Dataset profiling: time and peak memory of ``profile_table`` on a 20-column table.

Run it from loopml's venv::

    .venv/bin/python benchmarks/profiling.py                 # 250,000 and 1,000,000 rows
    .venv/bin/python benchmarks/profiling.py --rows 4000000  # other sizes
    .venv/bin/python benchmarks/profiling.py --batch-rows 16384

The table has 8 float columns, 4 integer columns (from 100 distinct values to nearly all
distinct), 4 low-cardinality string columns (5 to 1,000 categories), 2 high-cardinality
string columns (nearly every value distinct), 1 boolean and 1 timestamp column, with
about 2% nulls in a few of them, from one seeded generator.

Each size runs in a fresh process (this file is also the worker, ``--worker ROWS``): it
builds the table, then profiles it once to measure memory and ``--repeat`` more times
for the time. Memory is the peak resident set beyond what the process held with the
table built (Linux ``VmHWM`` after resetting it through ``/proc/self/clear_refs``), so
it is what profiling needs on top of its input. Seconds are the minimum and the median
of the repetitions, wall-clock and CPU time of the process; on a machine busy with other
work the CPU seconds are the steadier figure.

Checks (exit status 2 when one fails): the profile counts every row and gives each
column the kind it was generated as. Targets (exit status 1 when one is missed):
1,000,000 rows in at most 3 s (median), and memory beyond the input that does not grow
with rows (the largest size may use at most 1.5x the smallest size's growth + 16 MiB).
Figures go to ``benchmarks/results/profile.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
MARKER = "@@bench "
SEED = 20261126
TARGET_SECONDS = 3.0
TARGET_ROWS = 1_000_000
MIB = 1 << 20


EXPECTED_KINDS = {
    **{f"float_{i}": "numeric" for i in range(8)},
    **{f"int_{i}": "numeric" for i in range(4)},
    **{f"category_{i}": "categorical" for i in range(4)},
    **{f"id_{i}": "text" for i in range(2)},
    "flag": "boolean",
    "event_time": "datetime",
}


def make_table(rows: int, seed: int = SEED) -> Any:
    """The benchmark's 20 columns: 8 float, 4 int, 6 string, 1 bool, 1 timestamp."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rng = np.random.default_rng(seed)

    def with_nulls(values: Any) -> Any:
        return pa.array(values, mask=rng.random(rows) < 0.02)

    columns: dict[str, Any] = {}
    for i in range(8):
        values = rng.normal(loc=i * 10.0, scale=1.0 + i, size=rows)
        columns[f"float_{i}"] = with_nulls(values) if i % 4 == 0 else pa.array(values)
    for i, high in enumerate((100, 10_000, 1_000_000, 1 << 40)):
        columns[f"int_{i}"] = pa.array(rng.integers(0, high, size=rows))
    for i, categories in enumerate((5, 20, 100, 1000)):
        names = pa.array([f"category-{c:04d}" for c in range(categories)])
        picked = names.take(pa.array(rng.integers(0, categories, size=rows)))
        columns[f"category_{i}"] = pc.if_else(pa.array(rng.random(rows) < 0.02), None, picked)
    for i, prefix in enumerate(("user-", "session-")):
        numbers = pa.array(rng.integers(0, 1 << 50, size=rows)).cast(pa.string())
        columns[f"id_{i}"] = pc.binary_join_element_wise(prefix, numbers, "")
    columns["flag"] = with_nulls(rng.random(rows) < 0.3)
    start = np.datetime64("2024-01-01T00:00:00", "ns").astype(np.int64)
    offsets = rng.integers(0, 365 * 86_400 * 10**9, size=rows)
    columns["event_time"] = pa.array(start + offsets, pa.timestamp("ns"))
    return pa.table(columns)


def _rss_now() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark for this process (Linux); False when unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def worker(rows: int, repeat: int, batch_rows: int) -> dict[str, Any]:
    from loopml.data.profiling import profile_table

    table = make_table(rows)
    gc.collect()
    before = _rss_now()
    if not _reset_peak():
        raise SystemExit("this benchmark reads peak memory from Linux's /proc/self")
    seconds, cpu_seconds = [], []
    for run in range(repeat + 1):
        started, cpu_started = time.perf_counter(), time.process_time()
        profile = profile_table(table, batch_rows=batch_rows)
        seconds.append(time.perf_counter() - started)
        cpu_seconds.append(time.process_time() - cpu_started)
        if run == 0:
            peak_growth = _peak_rss() - before
    kinds = {name: column.kind for name, column in profile.columns.items()}
    return {
        "rows": rows,
        "profiled_rows": profile.rows,
        "columns": table.num_columns,
        "input_bytes": table.nbytes,
        "rss_before": before,
        "peak_growth": peak_growth,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "profile_bytes": len(profile.to_bytes()),
        "kinds": kinds,
    }


def run_worker(rows: int, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", str(rows), "--repeat", str(args.repeat)]
    command += ["--batch-rows", str(args.batch_rows)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"worker for {rows} rows failed:\n{done.stderr}")
    line = next(line for line in done.stdout.splitlines() if line.startswith(MARKER))
    return json.loads(line[len(MARKER) :])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[250_000, TARGET_ROWS])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs after the first")
    parser.add_argument("--batch-rows", type=int, default=65_536)
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        result = worker(args.worker, args.repeat, args.batch_rows)
        print(MARKER + json.dumps(result))
        return 0

    results = [run_worker(rows, args) for rows in sorted(args.rows)]
    print(
        f"profile_table, {results[0]['columns']} columns, batch_rows={args.batch_rows}, "
        f"{os.cpu_count()} CPUs"
    )
    print(
        f"{'rows':>10} {'input MiB':>10} {'min s':>7} {'median s':>9} {'CPU s (min)':>12} "
        f"{'peak RSS +MiB':>14}"
    )
    for result in results:
        print(
            f"{result['rows']:>10,} {result['input_bytes'] / MIB:>10.1f} "
            f"{min(result['seconds']):>7.2f} {statistics.median(result['seconds']):>9.2f} "
            f"{min(result['cpu_seconds']):>12.2f} {result['peak_growth'] / MIB:>14.1f}"
        )
    print(f"profile.to_bytes(): {results[-1]['profile_bytes']:,} bytes")
    print("kinds:", ", ".join(f"{n}={k}" for n, k in results[-1]["kinds"].items()))

    for result in results:
        if result["profiled_rows"] != result["rows"] or result["kinds"] != EXPECTED_KINDS:
            print(f"CHECK FAILED at {result['rows']:,} rows: wrong row count or column kinds")
            return 2
    failures = []
    timed = [r for r in results if r["rows"] == TARGET_ROWS]
    if timed and statistics.median(timed[0]["seconds"]) > TARGET_SECONDS:
        failures.append(f"{TARGET_ROWS:,} rows took more than {TARGET_SECONDS} s")
    if len(results) > 1:
        smallest, largest = results[0]["peak_growth"], results[-1]["peak_growth"]
        if largest > 1.5 * smallest + 16 * MIB:
            failures.append(
                f"memory beyond the input grew with rows: {smallest / MIB:.1f} MiB at "
                f"{results[0]['rows']:,} rows, {largest / MIB:.1f} MiB at {results[-1]['rows']:,}"
            )
    for failure in failures:
        print("TARGET MISSED:", failure)
    if not failures:
        print("PASS: targets met")

    RESULTS_DIR.mkdir(exist_ok=True)
    machine = {"python": platform.python_version(), "platform": platform.platform()}
    record = {"machine": machine, "cpus": os.cpu_count(), "args": vars(args), "results": results}
    (RESULTS_DIR / "profile.json").write_text(json.dumps(record, indent=2) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

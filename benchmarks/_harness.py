"""What the benchmark scripts share: the peer venv, timed processes, a quiet machine.

``data.py``, ``pipelines.py`` and ``tracking.py`` import it as ``from _harness import ...``
(they run as ``python benchmarks/X.py``, so ``benchmarks/`` is on ``sys.path``). Their
workers import it too, ``tracking.py``'s in the peer venv's Python, so this module uses
the standard library only.

- The peer venv, ``benchmarks/.venv-peers``: the tools loopml is compared with (DVC,
  MLflow) live there, created and installed when missing (``ensure_peer_package``).
- Environments for timed processes, with no loopml or peer setting of the caller's.
- Workers: a script re-run as ``--worker CASE --config JSON`` sends its figures back as a
  JSON line starting with ``MARKER``.
- Running one process timed (``run_timed``), after waiting for a quiet machine
  (``wait_for_quiet``).
- The report: where its figures come from (``provenance``), the results file and the exit
  status (``finish``).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
PEER_VENV = HERE / ".venv-peers"
PEER_PYTHON = PEER_VENV / "bin" / "python"
DVC = PEER_VENV / "bin" / "dvc"
DVC_SPEC = "dvc>=3.50,<4"
LOOPML = Path(sys.executable).parent / "loopml"

MARKER = "@@bench "  # prefix of the JSON lines a worker sends to the parent
LOAD_LIMIT = 1.0  # the 1-minute load average a timed process waits to go below


class BenchmarkError(RuntimeError):
    """The benchmark cannot go on (a peer missing, a command failed): exit status 2."""


# ---------------------------------------------------------------------------------------
# Workers
# ---------------------------------------------------------------------------------------


def send(message: dict[str, Any]) -> None:
    print(MARKER + json.dumps(message), flush=True)


def send_result(result: dict[str, Any]) -> None:
    """A worker's figures, with the Python that made them, as its last message."""
    result["python"] = platform.python_version()
    send({"result": result})


def worker_command(script: str, case: str, cfg: dict[str, Any]) -> list[str]:
    """``script`` re-run with loopml's interpreter as the worker of ``case``."""
    return [
        sys.executable,
        str(Path(script).resolve()),
        "--worker",
        case,
        "--config",
        json.dumps(cfg),
    ]


def worker_result(output: str) -> dict[str, Any] | None:
    """The result a worker sent in ``output`` (None when it sent none)."""
    result = None
    for line in output.splitlines():
        if line.startswith(MARKER):
            result = json.loads(line[len(MARKER) :])["result"]
    return result


# ---------------------------------------------------------------------------------------
# The peer venv
# ---------------------------------------------------------------------------------------


def peer_version(distribution: str) -> str | None:
    """The version of ``distribution`` in the peer venv (None: no venv, or not installed)."""
    if not PEER_PYTHON.exists():
        return None
    done = subprocess.run(
        [
            str(PEER_PYTHON),
            "-c",
            f"import importlib.metadata as m; print(m.version({distribution!r}))",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def ensure_peer_package(
    distribution: str, spec: str, *, accepts: Callable[[str], bool], wanted: str
) -> str:
    """The version of ``distribution`` in ``benchmarks/.venv-peers``, installing ``spec``
    there (and creating the venv) unless it holds a version ``accepts`` takes.

    ``wanted`` names the acceptable versions in messages ("DVC 3", "3.17.2").
    """
    version = peer_version(distribution)
    if version is not None and accepts(version):
        return version
    if not PEER_PYTHON.exists():
        print(f"Creating the peer venv {PEER_VENV.relative_to(HERE.parent)} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
    else:
        print(f"The peer venv has {distribution} {version or '(none)'}; {wanted} is needed.")
    print(f"Installing '{spec}' into the peer venv (a few minutes) ...", flush=True)
    subprocess.run([str(PEER_PYTHON), "-m", "pip", "install", "--quiet", spec], check=True)
    version = peer_version(distribution)
    if version is None or not accepts(version):
        raise BenchmarkError(f"the peer venv has {distribution} {version}, not {wanted}")
    print(f"Peer venv ready: {distribution} {version}.", flush=True)
    return version


def ensure_peer_dvc() -> str:
    """DVC 3 in the peer venv, with its ``dvc`` command: its version."""
    return ensure_peer_package(
        "dvc",
        DVC_SPEC,
        accepts=lambda version: version.startswith("3.") and DVC.exists(),
        wanted="DVC 3",
    )


# ---------------------------------------------------------------------------------------
# Environments of the timed processes
# ---------------------------------------------------------------------------------------


def base_env(peer: str) -> dict[str, str]:
    """This process's environment without ``PYTHONPATH``, loopml's variables and the
    peer's (``peer`` is their prefix: ``"DVC_"``, ``"MLFLOW_"``), so that no setting of
    the caller's changes what a timed process does."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LOOPML_", peer)) and key != "PYTHONPATH"
    }


def loopml_env(home: Path, peer: str) -> dict[str, str]:
    """``base_env`` with loopml's store in ``home/.loopml``."""
    return {**base_env(peer), "LOOPML_HOME": str(home / ".loopml"), "LOOPML_USER": "bench"}


def dvc_env(work: Path) -> dict[str, str]:
    """DVC without analytics, its state database in the run's temporary directory."""
    return {
        **base_env("DVC_"),
        "DVC_NO_ANALYTICS": "1",
        "DVC_SITE_CACHE_DIR": str(work / "dvc-site"),
    }


# ---------------------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------------------


def quiet_run(command: list[str], *, cwd: Path, env: dict[str, str]) -> str:
    """Run ``command`` untimed, its output captured: its stdout."""
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchmarkError(f"{' '.join(command)} failed: {(done.stderr or done.stdout).strip()}")
    return done.stdout


def init_dvc_repo(repo: Path) -> None:
    """A scratch ``git init && dvc init`` repository with DVC's default cache settings
    (DVC's state in ``repo``'s parent, the run's temporary directory)."""
    repo.mkdir(parents=True)
    env = dvc_env(repo.parent)
    for command in (
        ["git", "init", "-q"],
        [str(DVC), "init", "-q"],
        [str(DVC), "config", "core.analytics", "false"],
    ):
        quiet_run(command, cwd=repo, env=env)


@functools.cache
def gnu_time() -> str | None:
    """GNU time, to read a command's own peak RSS (None where it is not installed).

    The kernel's figure for a direct child starts at this process's size at fork, so the
    peak is taken by ``time`` (a small process) instead.
    """
    found = shutil.which("time") or "/usr/bin/time"
    try:
        done = subprocess.run(
            [found, "-f", "%M", "-o", os.devnull, "true"], capture_output=True, check=False
        )
    except OSError:
        return None
    return found if done.returncode == 0 else None


def run_timed(
    command: list[str], *, cwd: Path, env: dict[str, str], log: Path, peak_rss: bool = False
) -> dict[str, Any]:
    """Run ``command`` once in a fresh process: wall and CPU seconds (its children's
    included, such as DVC's stage processes), its output and, when a worker, its result.

    ``peak_rss``: run it under GNU time (where installed) and add ``max_rss``, its peak
    resident memory in bytes (None without GNU time).
    """
    rss_file = log.with_suffix(".rss")
    timer = gnu_time() if peak_rss else None
    launched = [timer, "-f", "%M", "-o", str(rss_file), *command] if timer else command
    with log.open("w") as out:
        start = time.perf_counter()
        process = subprocess.Popen(launched, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _pid, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    output = log.read_text(errors="replace")
    if process.returncode != 0:
        tail = "\n".join(output.splitlines()[-25:])
        raise BenchmarkError(f"{' '.join(command)} exited with {process.returncode}:\n{tail}")
    result: dict[str, Any] = {"seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime}
    if peak_rss:
        rss = rss_file.read_text().split() if timer and rss_file.exists() else []
        result["max_rss"] = int(rss[-1]) * 1024 if rss and rss[-1].isdigit() else None
    result["output"] = output
    sent = worker_result(output)
    if sent is not None:
        result["worker"] = sent
    return result


def warm_timings(
    command: list[str], *, cwd: Path, env: dict[str, str], reps: int, capture_output: bool = True
) -> list[float]:
    """Wall seconds of ``reps`` runs of ``command``, after one untimed run that warms it."""
    times = []
    for rep in range(reps + 1):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=capture_output)
        if rep:
            times.append(time.perf_counter() - start)
    return times


# ---------------------------------------------------------------------------------------
# A quiet machine
# ---------------------------------------------------------------------------------------


def read_load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def quiet_machine(max_wait: float, on_wait: Callable[[float, float], None]) -> dict[str, Any]:
    """Wait until the 1-minute load average is below 1.0, for at most ``max_wait`` s."""
    start = time.monotonic()
    first = load = read_load()
    while load >= LOAD_LIMIT and time.monotonic() - start < max_wait:
        on_wait(load, time.monotonic() - start)
        time.sleep(2)
        load = read_load()
    return {
        "load_first": first,
        "load": load,
        "waited": time.monotonic() - start,
        "gave_up": load >= LOAD_LIMIT,
    }


def wait_for_quiet(
    max_wait: float, *, progress: Any, task: Any, label: str, console: Any
) -> dict[str, Any]:
    """``quiet_machine`` before timing ``label``: the wait shown on the Rich progress
    ``task``, a warning on ``console`` when it gives up."""

    def waiting(load: float, waited: float) -> None:
        progress.update(task, description=f"{label} [waiting: load {load:.2f}, {waited:.0f} s]")

    quiet = quiet_machine(max_wait, waiting)
    if quiet["gave_up"]:
        console.print(
            f"[yellow]warning:[/yellow] 1-minute load average still {quiet['load']:.2f} "
            f"after {quiet['waited']:.0f} s; timing '{label}' anyway"
        )
    progress.update(task, description=label)
    return quiet


# ---------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------


def provenance() -> dict[str, Any]:
    """Where a report's figures come from: the machine and the loopml build (version,
    commit, and whether ``src/`` had uncommitted changes)."""
    return {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "loopml_version": loopml_version(),
        "loopml_commit": git("rev-parse", "HEAD"),
        "loopml_src_modified": bool(git("status", "--porcelain", "--", "../src")),
    }


def report_console(width: int = 200) -> Any:
    """A Rich console; going to a log file or a pipe, it does not wrap the table."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=width)


def script_parser(
    doc: str, workers: list[str], *, quick_help: str, default_wait: str
) -> argparse.ArgumentParser:
    """The options every benchmark script takes: ``--quick``, ``--max-wait``, and the
    hidden ``--worker CASE --config JSON`` a script is re-run with as a worker."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument(
        "--max-wait",
        type=float,
        help=f"seconds to wait for a load average below 1.0 before each timed process "
        f"({default_wait})",
    )
    parser.add_argument("--worker", choices=sorted(workers), help=argparse.SUPPRESS)
    parser.add_argument("--config", default="{}", help=argparse.SUPPRESS)
    return parser


def dispatch(
    args: argparse.Namespace, worker_main: Callable[[str, str], None], parent_main: Any
) -> int:
    """Run as a worker when re-run with ``--worker``, else as the parent that reports."""
    if args.worker:
        worker_main(args.worker, args.config)
        return 0
    return run_parent(parent_main, args)


def progress_display(console: Any) -> Any:
    """The Rich progress bar the benchmark scripts show while their cases run."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def run_parent(parent_main: Any, args: Any) -> int:
    """The benchmark's exit status: 2 with one line when it could not be run at all."""
    try:
        return parent_main(args)
    except BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 2


def peer_report(
    args: Any,
    console: Any,
    *,
    started: float,
    load_at_start: tuple[float, ...],
    sizes: dict[str, Any],
    targets: dict[str, Any],
    rows: list[dict[str, Any]],
    raw: dict[str, Any],
    problems: list[str],
    **extra: Any,
) -> dict[str, Any]:
    """Print the machine line and build the JSON report of a run against a peer: the
    sizes, targets, provenance, load averages, the table, missed targets and raw figures;
    ``extra`` (the peer's version, library versions) goes in beside them."""
    load_at_end = os.getloadavg()
    console.print(
        f"  machine: {os.cpu_count()} CPUs, 1-minute load average {load_at_start[0]:.2f} at "
        f"the start, {load_at_end[0]:.2f} at the end; the run took "
        f"{(time.perf_counter() - started) / 60:.1f} min"
    )
    return {
        "mode": "quick" if args.quick else "full",
        "sizes": sizes,
        "targets": targets,
        **provenance(),
        **extra,
        "load_average": {"start": load_at_start, "end": load_at_end},
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "table": rows,
        "missed_targets": [
            f"{row['case']} ({row['detail']})" for row in rows if row["passed"] is False
        ],
        "problems": problems,
        "raw": raw,
    }


def finish(report: dict[str, Any], name: str, console: Any) -> int:
    """Write ``report`` to ``benchmarks/results/NAME.json`` (``NAME-quick.json`` for a
    quick run), print its failed checks and missed targets, and return the exit status:
    2 for a failed check, 1 for a target a full run missed, else 0."""
    quick = report["mode"] == "quick"
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / (f"{name}-quick.json" if quick else f"{name}.json")
    out.write_text(json.dumps(report, indent=2) + "\n")
    console.print(f"Results written to {out.relative_to(HERE.parent)}")
    if report["problems"]:
        for problem in report["problems"]:
            console.print(f"[bold red]CHECK FAILED:[/bold red] {problem}")
        return 2
    if report["missed_targets"]:
        console.print(f"[red]Targets missed:[/red] {'; '.join(report['missed_targets'])}")
        return 0 if quick else 1
    console.print("[green]Every target met.[/green]")
    return 0


def git(*args: str) -> str | None:
    done = subprocess.run(["git", *args], cwd=HERE, capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def loopml_version() -> str:
    import loopml

    return loopml.__version__

"""The scheduler: a long-running loop that runs the due ticks of every schedule.

Every ``poll_s`` seconds it asks :func:`~loopml.pipelines.schedules.due_ticks` what each
enabled schedule should run, claims each tick with
:func:`~loopml.pipelines.schedules.claim_tick` (so two schedulers on one store never run
the same tick) and runs the tick's pipeline as ``loopml pipeline run FILE --json`` in a
child process, recording how it ended on the tick row. SIGTERM or SIGINT stop it between
ticks; a second signal interrupts the running pipeline.

>>> run_scheduler(store, once=True)  # doctest: +SKIP
1
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from ..clock import format_ms, now_ms
from ..errors import LoopmlError, StoreError
from ..store import Store
from .schedules import (
    ALERT,
    FAILED,
    FINISHED,
    Schedule,
    _split_target,
    claim_tick,
    due_ticks,
    finish_tick,
    list_schedules,
)

_ERROR_TAIL = 4000  # characters of a failure kept on the tick row
_CLI = "from loopml.cli import main; main()"  # there is no ``python -m loopml``


def default_claimer() -> str:
    """``host:pid``: who claimed a tick, as shown by ``loopml schedule ticks``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def run_scheduler(
    store: Store,
    *,
    once: bool = False,
    poll_s: float = 5.0,
    claimed_by: str | None = None,
    stop_event: threading.Event | None = None,
) -> int:
    """Run due ticks of every enabled schedule every ``poll_s`` seconds; returns how many
    ticks this call ran.

    Each tick's pipeline runs as ``loopml pipeline run FILE -p ... --json`` in a child
    process, in the file's folder, against this store. SIGTERM or SIGINT (or setting
    ``stop_event``) stops the loop after the current tick has run and been recorded; a
    second signal interrupts that pipeline run (it is recorded as KILLED, the tick FAILED).
    With ``once``, one pass is made and the call returns.
    """
    claimer = claimed_by or default_claimer()
    stop = _Stop(stop_event)
    warned: dict[str, str] = {}
    ran = 0
    with stop.handling_signals():
        while not stop.requested:
            try:
                ran += _one_pass(store, claimer, stop, warned)
            except StoreError as exc:
                if once:
                    raise
                _say(f"store unavailable, retrying in {poll_s:g}s: {exc}", "red")
            if once:
                break
            stop.sleep(poll_s)
    if stop.signals:
        _say("scheduler stopped", "")
    return ran


def _one_pass(store: Store, claimer: str, stop: _Stop, warned: dict[str, str]) -> int:
    ran = 0
    for schedule in list_schedules(store):
        if stop.requested:
            break
        if not schedule.enabled:
            continue
        if schedule.trigger == ALERT:
            _warn_once(
                warned,
                schedule.name,
                f"schedule '{schedule.name}' ({schedule.on}) is inactive: alert triggers "
                "start working once monitoring exists",
            )
            continue
        try:
            ticks = due_ticks(store, schedule)
        except StoreError:
            raise
        except LoopmlError as exc:  # its dataset was removed...: report, keep the others going
            _warn_once(warned, schedule.name, f"schedule '{schedule.name}' skipped: {exc}")
            continue
        warned.pop(schedule.name, None)
        for tick in ticks:
            if stop.requested or not claim_tick(store, schedule.id, tick, claimer):
                continue
            # Claimed: from here on the tick runs and is recorded whatever signal arrives.
            _run_tick(store, schedule, tick, stop)
            ran += 1
    return ran


def _run_tick(store: Store, schedule: Schedule, tick: str, stop: _Stop) -> None:
    target = schedule.file
    file_part = _split_target(target)[0]
    _say(f"▶ {schedule.name} {tick}: running {target}", "cyan")
    command = [sys.executable, "-c", _CLI, "pipeline", "run", target]
    for key, value in schedule.params.items():
        command += ["-p", f"{key}={value if isinstance(value, str) else json.dumps(value)}"]
    command.append("--json")
    config = store.config
    # The child must use this store even though it starts in the pipeline's folder.
    env = {
        **os.environ,
        "LOOPML_HOME": str(config.home),
        "LOOPML_DB_URL": config.db_url,
        "LOOPML_ARTIFACTS_URL": config.artifacts_url,
        "LOOPML_USER": store.actor,
    }
    try:
        child = subprocess.Popen(
            command,
            cwd=Path(file_part).parent,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            start_new_session=True,  # a Ctrl-C in the terminal reaches the scheduler only
        )
    except OSError as exc:
        status, run_id, error = FAILED, None, f"cannot start the pipeline run: {exc}"
    else:
        stop.child = child
        try:
            out, err = child.communicate()
        finally:
            stop.child = None
        status, run_id, error = _outcome(child.returncode, out, err)
    finish_tick(store, schedule.id, tick, status=status, pipeline_run_id=run_id, error=error)
    run_text = f"run {run_id[:8]}" if run_id else "no run"
    if status == FINISHED:
        _say(f"✓ {schedule.name} {tick}: {status} ({run_text})", "green")
    else:
        lines = (error or "").strip().splitlines() or [""]
        why = lines[0] if len(lines) == 1 else f"{lines[0]} {lines[-1].strip()}"
        _say(f"✗ {schedule.name} {tick}: {status} ({run_text}): {why}", "red")


def _outcome(returncode: int, out: str, err: str) -> tuple[str, str | None, str | None]:
    """(status, pipeline run id, error) from ``loopml pipeline run --json``'s output."""
    run = _last_json_object(out)
    run_id = run.get("id") if run else None
    if returncode == 0 and run and run.get("status") == FINISHED:
        return FINISHED, run_id, None
    failed = [s for s in (run or {}).get("steps", []) if s.get("status") == FAILED]
    if failed:
        error = f"step '{failed[0]['name']}' failed:\n{failed[0].get('error') or ''}"
    elif returncode == 130:
        error = "interrupted: the scheduler was stopped twice, so the run was killed"
    else:
        error = err.strip() or f"the pipeline run exited with code {returncode}"
    return FAILED, run_id, error[-_ERROR_TAIL:]


def _last_json_object(out: str) -> dict[str, Any] | None:
    # Steps may print to stdout before the run's JSON; that JSON starts on a line "{".
    lines = out.splitlines()
    for start in reversed([i for i, line in enumerate(lines) if line == "{"]):
        try:
            found = json.loads("\n".join(lines[start:]))
        except ValueError:
            continue
        return found if isinstance(found, dict) else None
    return None


class _Stop:
    """Stop requests: a signal or ``stop_event``. Signals only set a flag (and, the second
    time, interrupt the running child), so nothing is left half-recorded."""

    def __init__(self, event: threading.Event | None) -> None:
        self.event = event or threading.Event()
        self.signals = 0
        self.child: subprocess.Popen[str] | None = None

    @property
    def requested(self) -> bool:
        return self.signals > 0 or self.event.is_set()

    def _handle(self, _signum: int, _frame: FrameType | None) -> None:
        self.signals += 1
        child = self.child
        if self.signals == 1:
            _say("stopping after the current tick (signal again to kill it)", "yellow")
        elif child is not None and child.returncode is None:
            child.send_signal(signal.SIGINT)  # the run records itself as KILLED

    @contextmanager
    def handling_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # only the main thread may set handlers; stop_event still works
            return
        previous = {
            sig: signal.signal(sig, self._handle) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def sleep(self, seconds: float) -> None:
        # Short naps: a signal or stop_event ends the wait within 0.1 s.
        deadline = time.monotonic() + seconds
        while not self.requested and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 0.1))


def _warn_once(warned: dict[str, str], key: str, message: str) -> None:
    if warned.get(key) != message:
        warned[key] = message
        _say(message, "yellow")


_console: Any = None


def _say(text: str, style: str) -> None:
    """One line on stderr: ``2026-11-27 02:00:00 ▶ nightly cron:…: running /srv/flow.py``."""
    global _console
    if _console is None:
        from rich.console import Console

        _console = Console(stderr=True, markup=False, highlight=False, soft_wrap=True)
    from rich.text import Text

    _console.print(Text(f"{format_ms(now_ms())} {text}", style=style))
